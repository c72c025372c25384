package account

import (
	"fmt"
	"net/http"
	"sync"

	"github.com/proxy-dev/proxy/pkg/codexauth"
	"github.com/proxy-dev/proxy/pkg/config"
)

// chatGPT is the OAuth credential of a ChatGPT/Codex account. Tokens rotate,
// so they sit behind a lock; AuthFile remembers where they came from so
// rotated tokens can be written back.
type chatGPT struct {
	mu        sync.RWMutex
	tokens    codexauth.Tokens
	accountID string
	authFile  string
}

func newChatGPT(c config.Account) (*chatGPT, error) {
	cred := &chatGPT{
		tokens: codexauth.Tokens{
			AccessToken:  c.AccessToken,
			RefreshToken: c.RefreshToken,
		},
		accountID: c.AccountID,
		authFile:  c.AuthFile,
	}
	if c.AuthFile != "" {
		f, err := codexauth.Read(c.AuthFile)
		if err != nil {
			return nil, fmt.Errorf("reading auth_file: %w", err)
		}
		cred.tokens = f.Tokens
		if cred.accountID == "" {
			cred.accountID = f.AccountID()
		}
	}
	if cred.tokens.AccessToken == "" {
		return nil, fmt.Errorf("no access token: set auth_file or access_token")
	}
	return cred, nil
}

func (c *chatGPT) authorize(h http.Header) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	h.Set("Authorization", "Bearer "+c.tokens.AccessToken)
	if c.accountID != "" {
		h.Set("Chatgpt-Account-Id", c.accountID)
	}
	// The ChatGPT backend attributes traffic by originator; Codex always
	// sends one, other clients may not.
	if h.Get("Originator") == "" {
		h.Set("Originator", "codex_cli_rs")
	}
}

func (c *chatGPT) fingerprint() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.accountID != "" {
		return "chatgpt:" + fingerprint(c.accountID)
	}
	return "chatgpt:" + fingerprint(c.tokens.AccessToken)
}

// id follows the refresh token when there is one: it survives access-token
// refreshes and changes only with a new login.
func (c *chatGPT) id() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.tokens.RefreshToken != "" {
		return hashID(c.tokens.RefreshToken)
	}
	return hashID(c.tokens.AccessToken)
}
