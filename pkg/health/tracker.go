package health

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/store"
)

// Store keeps cooldowns where every instance sees them. *store.Store
// implements it.
type Store interface {
	SetCooldown(ctx context.Context, c store.Cooldown) error
	ClearCooldown(ctx context.Context, account string) error
	Cooldowns(ctx context.Context) (map[string]store.Cooldown, error)
	CountFailure(ctx context.Context, account string, window time.Duration) (int64, error)
}

// Policy says how long each kind of failure keeps an account out.
type Policy struct {
	QuotaDefault     time.Duration // a usage limit with no reset given
	RateLimitDefault time.Duration // a 429 with no Retry-After
	FailureWindow    time.Duration // failures further apart than this do not add up
	FailureThreshold int64         // this many 5xx/network failures in a row...
	FailureCooldown  time.Duration // ...keep the account out this long
	NotFoundCooldown time.Duration // a base URL that does not serve the endpoint
	// OverloadCooldown: an upstream that said it is overloaded (or gave
	// up inside a stream) is left alone this long at once, no streak.
	OverloadCooldown time.Duration
	// ForbiddenCooldown: a 403 that does not name the credential (a
	// gateway, a region refusal), and an answer that is not the API's
	// (NotAPI), is retried after this long, not marked invalid.
	ForbiddenCooldown time.Duration
}

// DefaultPolicy is what the proxy uses unless told otherwise.
var DefaultPolicy = Policy{
	QuotaDefault:     time.Hour,
	RateLimitDefault: 30 * time.Second,
	FailureWindow:    time.Minute,
	FailureThreshold: 3,
	FailureCooldown:  30 * time.Second,
	NotFoundCooldown: 10 * time.Minute,
	// Long enough for the next few turns to go elsewhere, short enough
	// that one overload does not cost an account's prompt cache for long.
	OverloadCooldown: 15 * time.Second,
	// A gateway or region refusal rarely clears in seconds; 5 minutes
	// keeps retries rare without losing the account for good.
	ForbiddenCooldown: 5 * time.Minute,
}

// syncEvery is how often the whole set of cooldowns is read again. Changes
// arrive at once where the store pushes them (see CooldownWatcher); the
// periodic read is the fallback for a push lost with a connection.
const syncEvery = time.Second

// CooldownWatcher pushes every cooldown any instance sets or clears (a
// cleared one has an empty Reason). *store.Store implements it.
type CooldownWatcher interface {
	WatchCooldowns(ctx context.Context, fn func(store.Cooldown)) error
}

// Tracker is the pool's health as this instance knows it: a copy of the
// store's cooldowns refreshed every second (so selection costs no round
// trip), plus what is local: streams in flight and rate-limit windows.
type Tracker struct {
	store  Store
	now    func() time.Time
	policy Policy
	log    *slog.Logger

	mu        sync.RWMutex
	cooldowns map[string]store.Cooldown
	failing   map[string]bool // accounts with failures counted since their last success
	limits    map[string]Limits
	unwritten map[string]bool      // accounts whose windows changed since written to the store
	written   map[string]time.Time // when each account's windows were last written
	slots     map[string]*slots
	inflight  map[string]int
	syncEvery time.Duration
}

// Option changes a Tracker built by New.
type Option func(*Tracker)

// WithSyncEvery changes how often the whole set of cooldowns is read
// again (tests make it long, to show that pushes alone suffice).
func WithSyncEvery(d time.Duration) Option { return func(t *Tracker) { t.syncEvery = d } }

// WithClock injects the clock, for tests.
func WithClock(now func() time.Time) Option { return func(t *Tracker) { t.now = now } }

// WithPolicy replaces DefaultPolicy.
func WithPolicy(p Policy) Option { return func(t *Tracker) { t.policy = p } }

// WithLogger sets where cooldowns are announced.
func WithLogger(l *slog.Logger) Option { return func(t *Tracker) { t.log = l } }

// New returns a tracker over st with no cooldowns known yet; call Sync or
// Run to load them.
func New(st Store, opts ...Option) *Tracker {
	t := &Tracker{
		store:     st,
		now:       time.Now,
		policy:    DefaultPolicy,
		log:       slog.Default(),
		cooldowns: map[string]store.Cooldown{},
		failing:   map[string]bool{},
		limits:    map[string]Limits{},
		unwritten: map[string]bool{},
		written:   map[string]time.Time{},
		slots:     map[string]*slots{},
		inflight:  map[string]int{},
	}
	for _, o := range opts {
		o(t)
	}
	return t
}

// Watch subscribes to the cooldowns other instances push, until ctx ends,
// and returns once subscribed (or failed to: the periodic sync of Run then
// carries every change, a second late).
func (t *Tracker) Watch(ctx context.Context) {
	if w, ok := t.store.(CooldownWatcher); ok {
		if err := w.WatchCooldowns(ctx, t.apply); err != nil && ctx.Err() == nil {
			t.log.Warn("cooldowns from other instances arrive only with the periodic sync", "err", err)
		}
	}
}

// Run keeps the tracker in step with the store until ctx ends, reading the
// whole set of cooldowns periodically.
func (t *Tracker) Run(ctx context.Context) {
	every := t.syncEvery
	if every <= 0 {
		every = syncEvery
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		if err := t.Sync(ctx); err != nil && ctx.Err() == nil {
			t.log.Debug("syncing cooldowns", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// apply takes one pushed change into this instance's copy.
func (t *Tracker) apply(c store.Cooldown) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if c.Reason == "" || !c.Active(t.now()) {
		delete(t.cooldowns, c.Account)
		return
	}
	t.cooldowns[c.Account] = c
}

// Sync loads the store's cooldowns, replacing this instance's copy. Where
// the store keeps windows too (WindowStore), it writes the windows observed
// here and takes in those other instances observed, so that every instance
// steers new conversations by the same numbers.
func (t *Tracker) Sync(ctx context.Context) error {
	cs, err := t.store.Cooldowns(ctx)
	if err != nil {
		return err
	}
	t.mu.Lock()
	t.cooldowns = cs
	t.mu.Unlock()
	if ws, ok := t.store.(WindowStore); ok {
		if err := t.syncWindows(ctx, ws); err != nil {
			return fmt.Errorf("syncing windows: %w", err)
		}
	}
	return nil
}

// Cooldown returns the account's active cooldown, if it has one. A mark
// made against another credential than the account's current one (the key
// was fixed in the config, the user logged in again) no longer counts.
func (t *Tracker) Cooldown(a *account.Account) (store.Cooldown, bool) {
	t.mu.RLock()
	c, ok := t.cooldowns[a.Name]
	t.mu.RUnlock()
	if !ok || !c.Active(t.now()) {
		return store.Cooldown{}, false
	}
	if c.Credential != "" && c.Credential != a.CredentialID() {
		return store.Cooldown{}, false
	}
	return c, true
}

// Report records an attempt's outcome against its account and returns the
// cooldown it started, if any. A success clears a cooldown or a failure
// streak; failures start cooldowns by their class.
func (t *Tracker) Report(ctx context.Context, a *account.Account, o Outcome) (store.Cooldown, bool) {
	now := t.now()
	switch o.Class {
	case OK:
		t.mu.Lock()
		_, cooling := t.cooldowns[a.Name]
		failing := t.failing[a.Name]
		delete(t.cooldowns, a.Name)
		delete(t.failing, a.Name)
		t.mu.Unlock()
		if cooling || failing {
			if err := t.store.ClearCooldown(ctx, a.Name); err != nil {
				t.log.Warn("clearing cooldown", "account", a.Name, "err", err)
			}
		}
		return store.Cooldown{}, false
	case ClientError:
		return store.Cooldown{}, false
	}

	c := store.Cooldown{Account: a.Name, Reason: string(o.Class), Since: now, Until: o.Until}
	switch o.Class {
	case Quota:
		if c.Until.IsZero() || !c.Until.After(now) {
			c.Until = now.Add(t.policy.QuotaDefault)
		}
		c.Message = fmt.Sprintf("usage limit reached (%s); resets %s", o.Code, c.Until.Local().Format("Jan 2 15:04"))
		if o.Status == http.StatusPaymentRequired {
			c.Message = fmt.Sprintf("out of balance or credits (%s): top the account up; tried again from %s", o.Message, c.Until.Local().Format("Jan 2 15:04"))
		}
	case RateLimit:
		if c.Until.IsZero() || !c.Until.After(now) {
			c.Until = now.Add(t.policy.RateLimitDefault)
		}
		c.Message = "rate limited: " + o.Message
	case Unauthorized:
		if a.Type == account.OpenAIResponses {
			// The relay refreshes ChatGPT tokens before giving up; what is
			// reported here is a refresh that did not help.
			c.Message = "the ChatGPT login was refused (" + o.Message + "); " + account.LoginHelp(a.Name) + ", then reload the proxy"
		} else {
			c.Message = "the API key was refused (" + o.Message + "); fix api_key in the config and reload"
		}
		c.Reason, c.Until, c.Credential = "invalid", time.Time{}, a.CredentialID()
	case Overloaded:
		d := orDefault(t.policy.OverloadCooldown, DefaultPolicy.OverloadCooldown)
		c.Until = now.Add(d)
		c.Message = fmt.Sprintf("%s; cooling down %s", o.Message, shortDuration(d))
	case Forbidden, NotAPI:
		d := orDefault(t.policy.ForbiddenCooldown, DefaultPolicy.ForbiddenCooldown)
		c.Until = now.Add(d)
		c.Message = fmt.Sprintf("%s; cooling down %s", o.Message, shortDuration(d))
	case NotFound:
		c.Until = now.Add(t.policy.NotFoundCooldown)
		c.Message = fmt.Sprintf("%s is not served at %s (%s); check base_url (does it need /v1?)", "/responses", a.DisplayURL(), o.Message)
	case Network, ServerError:
		n, err := t.store.CountFailure(ctx, a.Name, t.policy.FailureWindow)
		t.mu.Lock()
		t.failing[a.Name] = true
		t.mu.Unlock()
		if err != nil || n < t.policy.FailureThreshold {
			return store.Cooldown{}, false
		}
		c.Until = now.Add(t.policy.FailureCooldown)
		c.Message = fmt.Sprintf("%d failures in a row, last: %s", n, o.Message)
	}
	t.set(ctx, c)
	return c, true
}

// orDefault is d, or def when d is not set (a Policy written before the
// field existed).
func orDefault(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

// shortDuration writes 5m rather than 5m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Invalidate marks the account unusable until its credential changes, for
// failures found outside an attempt (a refresh token that was revoked).
func (t *Tracker) Invalidate(ctx context.Context, a *account.Account, message string) store.Cooldown {
	c := store.Cooldown{Account: a.Name, Reason: "invalid", Message: message, Since: t.now(), Credential: a.CredentialID()}
	t.set(ctx, c)
	return c
}

func (t *Tracker) set(ctx context.Context, c store.Cooldown) {
	t.mu.Lock()
	t.cooldowns[c.Account] = c
	t.mu.Unlock()
	if err := t.store.SetCooldown(ctx, c); err != nil {
		t.log.Warn("storing cooldown; it holds for this instance only", "account", c.Account, "err", err)
	}
	t.log.Warn("account cooling down", "account", c.Account, "reason", c.Reason, "until", c.Until, "message", c.Message)
}

// Cooldowns returns a copy of every active cooldown, for status.
func (t *Tracker) Cooldowns() map[string]store.Cooldown {
	now := t.now()
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make(map[string]store.Cooldown, len(t.cooldowns))
	for k, c := range t.cooldowns {
		if c.Active(now) {
			out[k] = c
		}
	}
	return out
}
