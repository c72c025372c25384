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
// user must log in again. Errors wrapping it name the account and say how
// (see LoginHelp).
var ErrLoginExpired = errors.New("the ChatGPT login has expired or was revoked")

// ErrRefresherClosed is returned (wrapped) by Refresh after Close: the
// process is shutting down and starts no new token refresh.
var ErrRefresherClosed = errors.New("token refresher closed")

// LoginHelp tells the user how to log account name in again.
func LoginHelp(name string) string {
	return fmt.Sprintf("run `proxy accounts login %s`, or `codex login` then `proxy accounts import-codex --name %s`", name, name)
}

// loginExpired is the error of a login that is gone for good: it names the
// account, says why and what to do, and wraps ErrLoginExpired.
func loginExpired(name, why string) error {
	return fmt.Errorf("account %s: %s: %w; %s", name, why, ErrLoginExpired, LoginHelp(name))
}

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
	// Client posts to the token endpoint (default: 30 s timeout); an
	// account with a proxy_url posts through its proxy with a copy of it
	// (see Egress).
	Client *http.Client
	Shared SharedTokens // nil: this instance alone
	Now    func() time.Time
	Logger *slog.Logger
	// PollEvery is how often an instance waiting for another's refresh
	// looks for the result; default 200 ms.
	PollEvery time.Duration
	// WaitFor bounds that wait; default 20 s.
	WaitFor time.Duration
	// Base is the context refreshes run on: the process's lifetime, never
	// a request's, because the token endpoint rotates the refresh token
	// as soon as it answers and an answer dropped because a client hung
	// up is a lost login. nil means context.Background(). Cancel it only
	// after Close.
	Base context.Context
	// Timeout bounds one refresh: shared-store work, the token request
	// and the write-back; default 30 s.
	Timeout time.Duration
	// OnRotate, when set, hears of an account whose tokens changed, before
	// any waiting request uses them (the redaction set learns them there).
	OnRotate func(a *Account)
}

// Refresher renews the access tokens of ChatGPT accounts: one refresh at a
// time per account here (callers arriving meanwhile share its result), and
// across instances through SharedTokens. Refreshes run on their own
// context, so they finish and are saved whatever happens to the callers.
type Refresher struct {
	o       RefresherOptions
	egress  *Egress // o.Client, or its copy through an account's proxy
	mu      sync.Mutex
	flights map[string]*flight // by account name
	closed  bool
	wg      sync.WaitGroup // one per flight
	count   atomic.Int64
}

// flight is one refresh in progress; done closes once err is set and the
// tokens are saved.
type flight struct {
	a    *Account
	done chan struct{}
	err  error
}

// NewRefresher returns a refresher posting to o.TokenURL.
func NewRefresher(o RefresherOptions) *Refresher {
	if o.Client == nil {
		o.Client = &http.Client{Timeout: 30 * time.Second}
	}
	if o.Client.CheckRedirect == nil {
		// A 307 or 308 would send the refresh token again, to wherever the
		// Location points (a captive portal, a hostile network): the
		// answer is taken as it is, a failure of this refresh.
		c := *o.Client
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		o.Client = &c
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
	if o.Base == nil {
		o.Base = context.Background()
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	return &Refresher{o: o, egress: NewEgress(o.Client), flights: map[string]*flight{}}
}

// Refreshes counts the token requests this refresher made.
func (r *Refresher) Refreshes() int64 { return r.count.Load() }

// Close starts no new refresh and waits for those in flight to finish and
// save their tokens. Call it at shutdown, after the HTTP server has
// drained and before Base is cancelled. It always returns nil.
func (r *Refresher) Close() error {
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	r.wg.Wait()
	return nil
}

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
//
// The refresh itself runs on the refresher's Base context: ctx bounds only
// how long this caller waits. A caller whose ctx ends gets ctx.Err() while
// the refresh goes on and keeps its tokens; a caller arriving while a
// refresh of a is in flight joins it and gets its result.
func (r *Refresher) Refresh(ctx context.Context, a *Account, seenTag string) error {
	c, ok := a.cred.(*chatGPT)
	if !ok {
		return nil
	}
	for {
		f, err := r.join(a, c, seenTag)
		if f == nil {
			return err
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if f.a != a {
			// Another Account of the same name (the config was reloaded):
			// its refresh renewed its tokens, not these. This account's
			// own refresh will find them in the shared file or store.
			continue
		}
		return f.err
	}
}

// join returns the refresh of a in flight, starting one when there is
// none and a still uses the token seen at seenTag; nil when a has no
// refresh to wait for, with the reason as error (nil: already replaced).
func (r *Refresher) join(a *Account, c *chatGPT, seenTag string) (*flight, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if f := r.flights[a.Name]; f != nil {
		return f, nil
	}
	if a.AccessTag() != seenTag {
		return nil, nil // refreshed by another request meanwhile
	}
	if r.closed {
		return nil, fmt.Errorf("account %s: token refresh: %w", a.Name, ErrRefresherClosed)
	}
	f := &flight{a: a, done: make(chan struct{})}
	r.flights[a.Name] = f
	r.wg.Add(1)
	go r.fly(f, c, seenTag)
	return f, nil
}

// fly runs one refresh on the refresher's own context and hands the result
// to everyone waiting.
func (r *Refresher) fly(f *flight, c *chatGPT, seenTag string) {
	defer r.wg.Done()
	ctx, cancel := context.WithTimeout(r.o.Base, r.o.Timeout)
	defer cancel()
	err := r.renew(ctx, f.a, c, seenTag)
	if r.o.OnRotate != nil && f.a.AccessTag() != seenTag {
		r.o.OnRotate(f.a)
	}
	r.mu.Lock()
	f.err = err
	delete(r.flights, f.a.Name)
	close(f.done)
	r.mu.Unlock()
}

// renew refreshes a once, coordinating with the other instances.
func (r *Refresher) renew(ctx context.Context, a *Account, c *chatGPT, seenTag string) error {
	shared := r.o.Shared
	if shared != nil && c.snapshot().RefreshToken != "" {
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
			return fmt.Errorf("account %s: waiting for another instance's token refresh: %w", a.Name, ctx.Err())
		case <-deadline.C:
			return fmt.Errorf("account %s: another instance is refreshing the token and has not finished", a.Name)
		case <-tick.C:
		}
	}
}

// refresh spends a's refresh token at the token endpoint and keeps the new
// tokens. The token file is read first: a program sharing it (Codex,
// another proxy) may have rotated the token already, and spending the old
// one would be refused as reused. When the endpoint refuses the token for
// good, the file is read once more for one that won a race with us.
func (r *Refresher) refresh(ctx context.Context, a *Account, c *chatGPT) error {
	if r.adoptFile(ctx, a, c) {
		return nil
	}
	t := c.snapshot()
	if t.RefreshToken == "" {
		return loginExpired(a.Name, "access token expired and no refresh token")
	}
	code, err := r.spend(ctx, a, c, t)
	if code == "" {
		return err
	}
	f := r.readFile(a, c)
	if f == nil || f.Tokens.RefreshToken == "" || f.Tokens.RefreshToken == t.RefreshToken || !sameAccount(f, c) {
		return err
	}
	r.o.Logger.Warn("refresh token refused; trying the one another program wrote to the token file", "account", a.Name, "code", code)
	ft := f.Tokens
	if ft.AccessToken == "" {
		ft.AccessToken = t.AccessToken // never leave the account without one
	}
	c.update(ft)
	if r.fresh(ft.AccessToken) {
		r.publish(ctx, a, c)
		return nil
	}
	_, err = r.spend(ctx, a, c, c.snapshot())
	return err
}

// adoptFile takes the tokens in a's token file when another program
// rotated them after this one read them, and reports whether their access
// token is good for a while, so that no refresh is needed. A file older
// than the tokens in memory (a write-back that failed) is ignored, as is
// one now holding another ChatGPT account.
func (r *Refresher) adoptFile(ctx context.Context, a *Account, c *chatGPT) bool {
	f := r.readFile(a, c)
	if f == nil || !sameAccount(f, c) {
		return false
	}
	mem, ft := c.snapshot(), f.Tokens
	if ft.AccessToken == "" || (ft.AccessToken == mem.AccessToken && ft.RefreshToken == mem.RefreshToken) {
		return false
	}
	if !newerToken(ft.AccessToken, mem.AccessToken) {
		return false
	}
	fresh := r.fresh(ft.AccessToken)
	if ft.RefreshToken == "" {
		if !fresh {
			return false
		}
		ft.RefreshToken = mem.RefreshToken
	}
	c.update(ft)
	if fresh {
		r.o.Logger.Info("took ChatGPT tokens another program refreshed", "account", a.Name)
		r.publish(ctx, a, c)
		return true
	}
	r.o.Logger.Info("refreshing with the refresh token another program wrote", "account", a.Name)
	return false
}

// readFile reads a's token file; nil when it has none or it cannot be read.
func (r *Refresher) readFile(a *Account, c *chatGPT) *codexauth.File {
	path := c.tokenPath()
	if path == "" {
		return nil
	}
	f, err := codexauth.Read(path)
	if err != nil {
		if !errors.Is(err, os.ErrNotExist) {
			r.o.Logger.Warn("re-reading token file", "account", a.Name, "path", path, "err", err)
		}
		return nil
	}
	return f
}

// sameAccount reports whether file f still holds c's ChatGPT account (or
// either does not say).
func sameAccount(f *codexauth.File, c *chatGPT) bool {
	fid, cid := f.AccountID(), c.accountIDNow()
	return fid == "" || cid == "" || fid == cid
}

// newerToken reports whether access token a was issued after b, judging by
// their expiry. When that cannot be told, the different token wins: it
// was written by whoever rotated last.
func newerToken(a, b string) bool {
	ea, okA := codexauth.Expiry(a)
	eb, okB := codexauth.Expiry(b)
	if okA && okB {
		return ea.After(eb)
	}
	return true
}

// fresh reports whether access token t is good beyond refreshAhead.
func (r *Refresher) fresh(t string) bool {
	exp, ok := codexauth.Expiry(t)
	return ok && r.o.Now().Add(refreshAhead).Before(exp)
}

// spend asks the token endpoint to exchange old.RefreshToken for new
// tokens and keeps them. code is the endpoint's reason when it refused the
// token for good (err then wraps ErrLoginExpired).
func (r *Refresher) spend(ctx context.Context, a *Account, c *chatGPT, old codexauth.Tokens) (code string, err error) {
	body, _ := json.Marshal(map[string]string{
		"client_id":     r.o.ClientID,
		"grant_type":    "refresh_token",
		"refresh_token": old.RefreshToken,
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.o.TokenURL, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("account %s: token refresh: %w", a.Name, err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	r.count.Add(1)
	// Through the account's proxy_url, like its requests: the token
	// endpoint may refuse the machine's own address.
	resp, err := r.egress.Client(a).Do(req)
	if err != nil {
		return "", fmt.Errorf("account %s: token refresh: %w", a.Name, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		for _, code := range permanentRefreshErrors {
			if bytes.Contains(data, []byte(code)) {
				return code, loginExpired(a.Name, "token refresh refused ("+code+")")
			}
		}
		if resp.StatusCode/100 == 3 {
			// Only the host: a Location may carry a token of its own.
			where := "elsewhere"
			if u, err := resp.Location(); err == nil && u.Host != "" {
				where = u.Host
			}
			return "", fmt.Errorf("account %s: token refresh: the token endpoint redirected (%d) to %s, which the proxy does not follow with the refresh token; check oauth.token_url and the network", a.Name, resp.StatusCode, where)
		}
		return "", fmt.Errorf("account %s: token refresh: %s", a.Name, resp.Status)
	}
	var got struct {
		AccessToken  string `json:"access_token"`
		IDToken      string `json:"id_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(data, &got); err != nil || got.AccessToken == "" {
		return "", fmt.Errorf("account %s: token refresh: answer has no access_token", a.Name)
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
	r.publish(ctx, a, c)
	r.o.Logger.Info("refreshed ChatGPT token", "account", a.Name)
	return "", nil
}

// publish hands a's tokens to the other instances.
func (r *Refresher) publish(ctx context.Context, a *Account, c *chatGPT) {
	if r.o.Shared == nil {
		return
	}
	t := c.snapshot()
	v, _ := json.Marshal(sharedTokens{IDToken: t.IDToken, AccessToken: t.AccessToken, RefreshToken: t.RefreshToken, AccountID: c.accountIDNow()})
	if err := r.o.Shared.SetSecret(ctx, "tokens:"+a.Name, v); err != nil {
		r.o.Logger.Warn("sharing refreshed tokens with other instances", "account", a.Name, "err", err)
	}
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
