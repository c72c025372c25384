// Package codexauth reads and writes the Codex CLI auth.json, the file where
// `codex login` keeps a ChatGPT account's OAuth tokens. The proxy uses such an
// account upstream and writes rotated tokens back, so a write must keep every
// field Codex put there, including those this package does not know.
package codexauth

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// ErrNotChatGPT is returned (wrapped) by Read and Parse when the file holds
// no ChatGPT tokens, as after an API-key login: such a file cannot back an
// openai-responses account.
var ErrNotChatGPT = errors.New("no ChatGPT tokens (an API-key login?); run `codex login` and sign in with ChatGPT")

// AuthModeChatGPT is the auth_mode Codex writes after a ChatGPT login.
const AuthModeChatGPT = "chatgpt"

// authModeAPIKey is the auth_mode Codex writes after an API-key login; its
// leftover tokens, if any, are not what Codex itself would use.
const authModeAPIKey = "apikey"

// Tokens are the OAuth tokens of a ChatGPT login.
type Tokens struct {
	IDToken      string
	AccessToken  string
	RefreshToken string
	AccountID    string
}

// File is one auth.json. Only the fields the proxy needs are typed; the rest
// of the document is held as read so WriteAtomic loses nothing.
type File struct {
	// AuthMode is "chatgpt" for a ChatGPT login; older Codex versions left
	// it out.
	AuthMode string
	// Tokens are the OAuth tokens; the proxy replaces them after a refresh.
	Tokens Tokens
	// LastRefresh is when the tokens were last refreshed (zero if unknown).
	LastRefresh time.Time

	raw       object // the whole document, in file order
	rawTokens object // the "tokens" object, in file order
}

// Read reads and parses the auth.json at path.
func Read(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading codex auth %s: %w", path, err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("reading codex auth %s: %w", path, err)
	}
	return f, nil
}

// Parse parses the content of an auth.json, for callers that have it from
// somewhere other than a file (stdin for `accounts import-codex -`).
func Parse(data []byte) (*File, error) {
	f := &File{}
	if err := json.Unmarshal(data, &f.raw); err != nil {
		return nil, fmt.Errorf("parsing JSON: %w", err)
	}
	if v, ok := f.raw.get("auth_mode"); ok && !isNull(v) {
		if err := json.Unmarshal(v, &f.AuthMode); err != nil {
			return nil, fmt.Errorf("auth_mode: %w", err)
		}
	}
	if v, ok := f.raw.get("tokens"); ok && !isNull(v) {
		if err := json.Unmarshal(v, &f.rawTokens); err != nil {
			return nil, fmt.Errorf("tokens: %w", err)
		}
		var t struct {
			IDToken      string `json:"id_token"`
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
			AccountID    string `json:"account_id"`
		}
		if err := json.Unmarshal(v, &t); err != nil {
			return nil, fmt.Errorf("tokens: %w", err)
		}
		f.Tokens = Tokens(t)
	}
	if v, ok := f.raw.get("last_refresh"); ok && !isNull(v) {
		var s string
		// A malformed time only costs us the informational LastRefresh;
		// refusing the whole login over it would help nobody.
		if json.Unmarshal(v, &s) == nil {
			f.LastRefresh, _ = time.Parse(time.RFC3339Nano, s)
		}
	}
	if f.AuthMode == authModeAPIKey || (f.Tokens.AccessToken == "" && f.Tokens.RefreshToken == "") {
		return nil, ErrNotChatGPT
	}
	return f, nil
}

// AccountID returns the ChatGPT account id the backend expects in the
// chatgpt-account-id header: tokens.account_id, else the id_token's claim,
// which is all some Codex versions wrote.
func (f *File) AccountID() string {
	if f.Tokens.AccountID != "" {
		return f.Tokens.AccountID
	}
	return AccountIDFromIDToken(f.Tokens.IDToken)
}

func isNull(v json.RawMessage) bool { return string(v) == "null" }
