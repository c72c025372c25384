package account

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path/filepath"
	"sync"
	"time"

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
	authFile  string // the Codex auth.json the tokens came from
	tokenFile string // for inline tokens: where rotated ones are kept
}

func newChatGPT(c config.Account, tokenDir string) (*chatGPT, error) {
	cred := &chatGPT{
		tokens: codexauth.Tokens{
			AccessToken:  c.AccessToken,
			RefreshToken: c.RefreshToken,
		},
		accountID: c.AccountID,
		authFile:  c.AuthFile,
	}
	if c.AuthFile == "" && tokenDir != "" {
		// Inline tokens go stale once rotated: the rotated ones, kept
		// beside the config, win.
		cred.tokenFile = filepath.Join(tokenDir, TokenFileName(c.Name))
		if f, err := codexauth.Read(cred.tokenFile); err == nil && f.Tokens.AccessToken != "" {
			cred.tokens = f.Tokens
		}
	}
	if c.AuthFile != "" {
		f, err := codexauth.Read(c.AuthFile)
		if errors.Is(err, fs.ErrNotExist) {
			// Go's message would name the path twice and no way forward.
			return nil, fmt.Errorf("auth_file %s: %w: no Codex login there; %s", c.AuthFile, fs.ErrNotExist, LoginHelp(c.Name))
		}
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

// NeedsLogin reports a ChatGPT account whose access token has expired at
// now and that has no refresh token to renew it: only a new login brings it
// back, so status and `proxy accounts list` say so before a request fails.
func (a *Account) NeedsLogin(now time.Time) bool {
	c, ok := a.cred.(*chatGPT)
	if !ok {
		return false
	}
	t := c.snapshot()
	if t.RefreshToken != "" {
		return false
	}
	exp, ok := codexauth.Expiry(t.AccessToken)
	return ok && !now.Before(exp)
}

// Plan is a ChatGPT account's plan as its access token names it (plus,
// pro, team, ...); "" for an API account or a token that names none.
func (a *Account) Plan() string {
	c, ok := a.cred.(*chatGPT)
	if !ok {
		return ""
	}
	return codexauth.PlanType(c.snapshot().AccessToken)
}

// snapshot returns the current tokens.
func (c *chatGPT) snapshot() codexauth.Tokens {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.tokens
}

// update replaces the tokens after a refresh.
func (c *chatGPT) update(t codexauth.Tokens) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tokens = t
	if t.AccountID != "" && c.accountID == "" {
		c.accountID = t.AccountID
	}
}

func (c *chatGPT) accountIDNow() string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.accountID
}

// tokenPath is where rotated tokens are written: the auth file they came
// from, else the token file beside the config.
func (c *chatGPT) tokenPath() string {
	if c.authFile != "" {
		return c.authFile
	}
	return c.tokenFile
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

func (c *chatGPT) secrets() []string {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return []string{c.tokens.AccessToken, c.tokens.RefreshToken, c.tokens.IDToken}
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
