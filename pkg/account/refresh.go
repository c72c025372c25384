package account

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proxy-dev/proxy/pkg/codexauth"
)

// ErrLoginExpired means a ChatGPT login can no longer be refreshed: the
// user must log in again.
var ErrLoginExpired = errors.New("the ChatGPT login has expired or was revoked; run `codex login` again")

// permanentRefreshErrors are the token endpoint's answers that no retry
// will change.
var permanentRefreshErrors = []string{"refresh_token_expired", "refresh_token_reused", "refresh_token_invalidated", "invalid_grant"}

// refreshAhead refreshes an access token this long before it expires, so a
// request never starts with a token about to lapse.
const refreshAhead = 2 * time.Minute

// SharedTokens lets instances on one Redis refresh a token once between
// them and hand each other the result. *store.Store implements it.
type SharedTokens interface {
	TryLock(ctx context.Context, name string, ttl time.Duration) (unlock func(), ok bool, err error)
	Secret(ctx context.Context, name string) ([]byte, error)
	SetSecret(ctx context.Context, name string, value []byte) error
}

// RefresherOptions configure a Refresher.
type RefresherOptions struct {
	TokenURL string
	ClientID string
	Client   *http.Client // default: 30 s timeout
	Shared   SharedTokens // nil: this instance alone
	Now      func() time.Time
	Logger   *slog.Logger
	// PollEvery is how often an instance waiting for another's refresh
	// looks for the result; default 200 ms.
	PollEvery time.Duration
	// WaitFor bounds that wait; default 20 s.
	WaitFor time.Duration
}

// Refresher renews the access tokens of ChatGPT accounts: one refresh at a
// time per account here, and across instances through SharedTokens.
type Refresher struct {
	o     RefresherOptions
	mu    sync.Mutex
	locks map[string]*sync.Mutex
	count atomic.Int64
}

// NewRefresher returns a refresher posting to o.TokenURL.
func NewRefresher(o RefresherOptions) *Refresher {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.PollEvery <= 0 {
		o.PollEvery = 200 * time.Millisecond
	}
	if o.WaitFor <= 0 {
		o.WaitFor = 20 * time.Second
	}
	return &Refresher{o: o, locks: map[string]*sync.Mutex{}}
}

// Refreshes counts the token requests this refresher made.
func (r *Refresher) Refreshes() int64 { return r.count.Load() }

// NeedsRefresh reports a ChatGPT account whose access token has expired or
// soon will, and that can be refreshed.
func (a *Account) NeedsRefresh(now time.Time) bool {
	c, ok := a.cred.(*chatGPT)
	if !ok {
		return false
	}
	t := c.snapshot()
	if t.RefreshToken == "" {
		return false
	}
	exp, ok := codexauth.Expiry(t.AccessToken)
	return ok && now.Add(refreshAhead).After(exp)
}

// AccessTag identifies the access token the account uses now; a caller
// that saw a token fail passes it to Refresh, so a token already replaced
// meanwhile is not refreshed twice.
func (a *Account) AccessTag() string {
	if c, ok := a.cred.(*chatGPT); ok {
		return hashID(c.snapshot().AccessToken)
	}
	return ""
}

// CanRefresh reports whether the account has a refresh token.
func (a *Account) CanRefresh() bool {
	c, ok := a.cred.(*chatGPT)
	return ok && c.snapshot().RefreshToken != ""
}

// Refresh renews a's access token unless it changed since seenTag. It
// returns ErrLoginExpired (wrapped) when the login is gone for good.
func (r *Refresher) Refresh(ctx context.Context, a *Account, seenTag string) error {
	c, ok := a.cred.(*chatGPT)
	if !ok {
		return nil
	}
	lock := r.lockFor(a.Name)
	lock.Lock()
	defer lock.Unlock()
	if a.AccessTag() != seenTag {
		return nil // refreshed by another request while this one waited
	}
	if c.snapshot().RefreshToken == "" {
		return fmt.Errorf("account %s: access token expired and no refresh token: %w", a.Name, ErrLoginExpired)
	}
	shared := r.o.Shared
	if shared != nil {
		if r.adoptShared(ctx, a, c, seenTag) {
			return nil
		}
		unlock, ok, err := shared.TryLock(ctx, "refresh:"+a.Name, r.o.WaitFor+10*time.Second)
		switch {
		case err != nil:
			r.o.Logger.Warn("token refresh lock unavailable; refreshing alone", "account", a.Name, "err", err)
		case !ok:
			return r.awaitShared(ctx, a, c, seenTag)
		default:
			defer unlock()
			if r.adoptShared(ctx, a, c, seenTag) {
				return nil
			}
		}
	}
	return r.refresh(ctx, a, c)
}

func (r *Refresher) lockFor(name string) *sync.Mutex {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.locks[name]
	if l == nil {
		l = &sync.Mutex{}
		r.locks[name] = l
	}
	return l
}

// sharedTokens is how rotated tokens travel between instances.
type sharedTokens struct {
	IDToken      string `json:"id_token,omitempty"`
	AccessToken  string `json:"access_token"`
	RefreshToken string `json:"refresh_token"`
	AccountID    string `json:"account_id,omitempty"`
}

// adoptShared takes tokens another instance stored, when they are newer
// than the ones that failed.
func (r *Refresher) adoptShared(ctx context.Context, a *Account, c *chatGPT, seenTag string) bool {
	raw, err := r.o.Shared.Secret(ctx, "tokens:"+a.Name)
	if err != nil || raw == nil {
		return false
	}
	var st sharedTokens
	if json.Unmarshal(raw, &st) != nil || st.AccessToken == "" || hashID(st.AccessToken) == seenTag {
		return false
	}
	if exp, ok := codexauth.Expiry(st.AccessToken); ok && !r.o.Now().Before(exp) {
		return false
	}
	c.update(codexauth.Tokens{IDToken: st.IDToken, AccessToken: st.AccessToken, RefreshToken: st.RefreshToken, AccountID: st.AccountID})
	r.persist(a, c)
	return true
}

// awaitShared waits for the instance holding the refresh lock to publish
// its result.
func (r *Refresher) awaitShared(ctx context.Context, a *Account, c *chatGPT, seenTag string) error {
	deadline := time.NewTimer(r.o.WaitFor)
	defer deadline.Stop()
	tick := time.NewTicker(r.o.PollEvery)
	defer tick.Stop()
	for {
		if r.adoptShared(ctx, a, c, seenTag) {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			return fmt.Errorf("account %s: another instance is refreshing the token and has not finished", a.Name)
		case <-tick.C:
		}
	}
}

// refresh asks the token endpoint for new tokens and keeps them.
func (r *Refresher) refresh(ctx context.Context, a *Account, c *chatGPT) error {
	old := c.snapshot()
	body, _ := json.Marshal(map[string]string{
		"client_id":     r.o.ClientID,
		"grant_type":    "refresh_token",
		"refresh_token": old.RefreshToken,
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.o.TokenURL, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("account %s: token refresh: %w", a.Name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	r.count.Add(1)
	resp, err := r.o.Client.Do(req)
	if err != nil {
		return fmt.Errorf("account %s: token refresh: %w", a.Name, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		for _, code := range permanentRefreshErrors {
			if bytes.Contains(data, []byte(code)) {
				return fmt.Errorf("account %s: token refresh refused (%s): %w", a.Name, code, ErrLoginExpired)
			}
		}
		return fmt.Errorf("account %s: token refresh: %s", a.Name, resp.Status)
	}
	var got struct {
		AccessToken  string `json:"access_token"`
		IDToken      string `json:"id_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(data, &got); err != nil || got.AccessToken == "" {
		return fmt.Errorf("account %s: token refresh: answer has no access_token", a.Name)
	}
	next := old
	next.AccessToken = got.AccessToken
	if got.IDToken != "" {
		next.IDToken = got.IDToken
	}
	// Refresh tokens rotate; when none comes back the old one stays valid.
	if got.RefreshToken != "" {
		next.RefreshToken = got.RefreshToken
	}
	c.update(next)
	r.persist(a, c)
	if r.o.Shared != nil {
		t := c.snapshot()
		v, _ := json.Marshal(sharedTokens{IDToken: t.IDToken, AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, AccountID: c.accountIDNow()})
		if err := r.o.Shared.SetSecret(ctx, "tokens:"+a.Name, v); err != nil {
			r.o.Logger.Warn("sharing refreshed tokens with other instances", "account", a.Name, "err", err)
		}
	}
	r.o.Logger.Info("refreshed ChatGPT token", "account", a.Name)
	return nil
}

// persist writes the account's tokens back where they came from. A
// rotated refresh token that is not written is a lost login, so failure is
// loud; the tokens stay in memory either way.
func (r *Refresher) persist(a *Account, c *chatGPT) {
	path := c.tokenPath()
	if path == "" {
		r.o.Logger.Error("rotated ChatGPT tokens have nowhere to be written (no auth_file, no config directory); they live in memory only", "account", a.Name)
		return
	}
	t := c.snapshot()
	f, err := codexauth.Read(path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			r.o.Logger.Warn("rewriting unreadable token file", "account", a.Name, "path", path, "err", err)
		}
		// The first rotation of inline tokens: a new file in Codex's format.
		f = &codexauth.File{AuthMode: codexauth.AuthModeChatGPT}
	}
	f.Tokens = codexauth.Tokens{IDToken: t.IDToken, AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, AccountID: firstNonEmpty(t.AccountID, c.accountIDNow())}
	f.LastRefresh = r.o.Now().UTC()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		r.o.Logger.Error("writing rotated ChatGPT tokens", "account", a.Name, "path", path, "err", err)
		return
	}
	if err := f.WriteAtomic(path); err != nil {
		r.o.Logger.Error("writing rotated ChatGPT tokens", "account", a.Name, "path", path, "err", err)
	}
}

// TokenFileName is where an account with inline tokens keeps rotated ones,
// inside the token directory.
func TokenFileName(name string) string {
	return strings.NewReplacer("/", "_", "\\", "_").Replace(name) + ".auth.json"
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}
