// Package keylimit enforces each client key's limits (client_keys[].limits):
// the models and accounts it may use, and what the store counts for it
// across every instance: requests a minute, tokens a day and a week,
// dollars a month, streams at once. It answers before any account is
// tried, so a key over its limit costs the pool nothing.
package keylimit

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/store"
)

// Counter counts what the limits need, shared by every instance.
// *store.Store implements it.
type Counter interface {
	CheckLimits(ctx context.Context, client string, c store.LimitCheck) (store.LimitVerdict, error)
	RenewStream(ctx context.Context, client, lease string, ttl time.Duration) error
	ReleaseStream(ctx context.Context, client, lease string) error
}

// The limits a Refusal may name besides the counted ones (store.Limit*).
const (
	LimitModels   = "models"
	LimitAccounts = "accounts"
)

// Default lease timing: an open stream holds its slot LeaseTTL past its
// last renewal, so the slots of an instance that died free themselves
// within a minute and a half.
const (
	DefaultLeaseTTL   = 90 * time.Second
	defaultRenewEvery = 30 * time.Second
	// writeTimeout bounds a lease renewal or release, which run on the
	// process's context: a request's ends with its client.
	writeTimeout = 2 * time.Second
)

// Options configures a Limiter.
type Options struct {
	// Now is the clock; nil is time.Now.
	Now func() time.Time
	// Logger reports a store that could not count (the request is then
	// let through); nil discards.
	Logger *slog.Logger
	// Base is the process's context, for lease renewals and releases;
	// nil is context.Background.
	Base context.Context
	// LeaseTTL and RenewEvery time a concurrent stream's lease; zero
	// takes the defaults. RenewEvery runs on real time.
	LeaseTTL, RenewEvery time.Duration
}

// Limiter holds the keys' limits and checks requests against them. It is
// safe for concurrent use; Replace swaps the limits at once on reload.
type Limiter struct {
	counter Counter
	limits  atomic.Pointer[map[string]config.KeyLimits]
	o       Options
}

// New returns a Limiter over counter with the limits of keys.
func New(counter Counter, keys []config.ClientKey, o Options) *Limiter {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Base == nil {
		o.Base = context.Background()
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.RenewEvery <= 0 {
		o.RenewEvery = defaultRenewEvery
	}
	l := &Limiter{counter: counter, o: o}
	l.Replace(keys)
	return l
}

// Replace makes keys' limits the ones every request from now on is
// checked against; a stream already admitted keeps its slot.
func (l *Limiter) Replace(keys []config.ClientKey) {
	m := make(map[string]config.KeyLimits, len(keys))
	for _, k := range keys {
		m[k.Name] = k.Limits
	}
	l.limits.Store(&m)
}

// Limits returns client's limits; the zero value (no limit) for a client
// with none, or for no client (the proxy checks no keys).
func (l *Limiter) Limits(client string) config.KeyLimits {
	if l == nil {
		return config.KeyLimits{}
	}
	return (*l.limits.Load())[client]
}

// Refusal is a request a key's limit refused. It is the client's answer:
// APIError says which limit, its value, and when it resets.
type Refusal struct {
	Client string
	// Limit is the limit's key under client_keys[].limits.
	Limit string
	// Value is the limit as configured; Used what was counted against it.
	Value, Used string
	// Reset is when the limit frees room again; zero for a list (models,
	// accounts) or a concurrent limit, which frees when a stream ends.
	Reset time.Time
	// Allowed lists what the key may use, for a models or accounts refusal.
	Allowed []string
	// Model is what the request asked for, for a models or accounts refusal.
	Model string

	now time.Time
}

func (r *Refusal) Error() string { return r.APIError().Message }

// APIError is the refusal as the client gets it: 429 client_limit_reached
// with Retry-After for a counted limit, 403 for a model or account outside
// the key's lists.
func (r *Refusal) APIError() *apierror.Error {
	key := strconv.Quote(r.Client)
	field := "client_keys[].limits." + r.Limit
	switch r.Limit {
	case LimitModels:
		return apierror.New(http.StatusForbidden, apierror.TypePermission,
			fmt.Sprintf("client key %s may not use model %s; it may use %s (%s); ask the proxy's admin for another model",
				key, strconv.Quote(r.Model), strings.Join(r.Allowed, ", "), field)).WithCode("model_not_allowed").WithParam("model")
	case LimitAccounts:
		return apierror.New(http.StatusForbidden, apierror.TypePermission,
			fmt.Sprintf("client key %s may be served only by the accounts %s (%s), and none of them serves model %s; use a model they serve, or ask the proxy's admin",
				key, strings.Join(r.Allowed, ", "), field, strconv.Quote(r.Model))).WithCode("account_not_allowed")
	}
	var msg string
	switch r.Limit {
	case store.LimitRequestsPerMinute:
		msg = fmt.Sprintf("client key %s reached its limit of %s requests per minute (%s): %s this minute", key, r.Value, field, r.Used)
	case store.LimitTokensPerDay:
		msg = fmt.Sprintf("client key %s reached its limit of %s tokens per day (%s): %s used today (UTC)", key, r.Value, field, r.Used)
	case store.LimitTokensPerWeek:
		msg = fmt.Sprintf("client key %s reached its limit of %s tokens per week (%s): %s used this week (from Monday, UTC)", key, r.Value, field, r.Used)
	case store.LimitUSDPerMonth:
		msg = fmt.Sprintf("client key %s reached its budget of $%s a month (%s): $%s spent this month at API prices", key, r.Value, field, r.Used)
	default:
		msg = fmt.Sprintf("client key %s has %s streams open, its limit (%s)", key, r.Used, field)
	}
	e := apierror.New(http.StatusTooManyRequests, apierror.TypeRateLimit, msg).WithCode("client_limit_reached")
	if r.Reset.IsZero() {
		e.Message += "; it frees when one of them ends: retry then, or ask the proxy's admin to raise it"
		e.RetryAfter = time.Second
		return e
	}
	wait := r.Reset.Sub(r.now)
	e.Message += fmt.Sprintf("; it resets at %s (in %s): retry then, or ask the proxy's admin to raise it",
		r.Reset.UTC().Format("2006-01-02 15:04:05 UTC"), humanWait(wait))
	e.RetryAfter = max(wait, time.Second)
	return e
}

// Admission is an admitted request: Accounts keeps it to the accounts its
// key may use (nil: any), and Release frees what it holds (a stream slot)
// once the request has ended. The zero value limits and holds nothing.
type Admission struct {
	Accounts *Accounts
	release  func()
}

// Release frees the request's stream slot, if it holds one; calling it
// more than once is harmless.
func (a Admission) Release() {
	if a.release != nil {
		a.release()
	}
}

// Admit checks one request of client for model before any account is
// tried: the models list, then what the store counts, in one round trip
// and only for a key with a counted limit. A store that cannot answer lets
// the request through, logged: an outage must not stop a team's work.
func (l *Limiter) Admit(ctx context.Context, client, model string) (Admission, error) {
	lim := l.Limits(client)
	if len(lim.Models) > 0 && !matchAny(lim.Models, model) {
		return Admission{}, &Refusal{Client: client, Limit: LimitModels, Model: model, Allowed: lim.Models}
	}
	adm := Admission{Accounts: accountsOf(client, lim)}
	if !lim.Counted() {
		return adm, nil
	}
	check := store.LimitCheck{
		RequestsPerMinute: lim.RequestsPerMinute,
		TokensPerDay:      lim.TokensPerDay,
		TokensPerWeek:     lim.TokensPerWeek,
		MicroUSDPerMonth:  int64(math.Round(lim.USDPerMonth * 1e6)),
		Concurrent:        lim.Concurrent,
		At:                l.o.Now(),
	}
	if lim.Concurrent > 0 {
		check.Lease, check.LeaseTTL = newLease(), l.o.LeaseTTL
	}
	v, err := l.counter.CheckLimits(ctx, client, check)
	if err != nil {
		if ctx.Err() == nil {
			l.o.Logger.Warn("client key limits not checked: the store did not answer; the request goes through", "client", client, "err", err)
		}
		return adm, nil
	}
	if v.Refused != "" {
		return Admission{}, l.refusal(client, lim, v)
	}
	if check.Lease != "" {
		adm.release = l.hold(client, check.Lease)
	}
	return adm, nil
}

// refusal describes the store's verdict against lim.
func (l *Limiter) refusal(client string, lim config.KeyLimits, v store.LimitVerdict) *Refusal {
	now := l.o.Now()
	r := &Refusal{Client: client, Limit: v.Refused, Used: strconv.FormatInt(v.Used, 10), Reset: store.PeriodEnd(v.Refused, now), now: now}
	switch v.Refused {
	case store.LimitRequestsPerMinute:
		r.Value = strconv.FormatInt(lim.RequestsPerMinute, 10)
	case store.LimitTokensPerDay:
		r.Value = strconv.FormatInt(lim.TokensPerDay, 10)
	case store.LimitTokensPerWeek:
		r.Value = strconv.FormatInt(lim.TokensPerWeek, 10)
	case store.LimitUSDPerMonth:
		r.Value, r.Used = dollars(lim.USDPerMonth), dollars(float64(v.Used)/1e6)
	default:
		r.Value = strconv.FormatInt(lim.Concurrent, 10)
	}
	return r
}

// humanWait writes a wait of days in days and hours ("22d8h55m"), and a
// shorter one as a duration to the second.
func humanWait(d time.Duration) string {
	if d < 24*time.Hour {
		return d.Round(time.Second).String()
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dd%dh%dm", d/(24*time.Hour), d%(24*time.Hour)/time.Hour, d%time.Hour/time.Minute)
}

func dollars(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// hold keeps a stream's lease alive until the returned func releases it.
// Renewal and release run on the process's context: the client may be
// gone when its stream's slot must be freed.
func (l *Limiter) hold(client, lease string) func() {
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(l.o.RenewEvery)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(l.o.Base, writeTimeout)
				if err := l.counter.RenewStream(ctx, client, lease, l.o.LeaseTTL); err != nil {
					l.o.Logger.Warn("renewing a client key's stream slot", "client", client, "err", err)
				}
				cancel()
			}
		}
	}()
	return sync.OnceFunc(func() {
		close(stop)
		ctx, cancel := context.WithTimeout(l.o.Base, writeTimeout)
		defer cancel()
		if err := l.counter.ReleaseStream(ctx, client, lease); err != nil {
			l.o.Logger.Warn("releasing a client key's stream slot; it frees when its lease expires", "client", client, "err", err, "lease_ttl", l.o.LeaseTTL)
		}
	})
}

// AccountFilter returns what keeps client's requests to the accounts its
// limits allow, nil when they allow every account.
func (l *Limiter) AccountFilter(client string) *Accounts {
	return accountsOf(client, l.Limits(client))
}

func accountsOf(client string, lim config.KeyLimits) *Accounts {
	if len(lim.Accounts) == 0 {
		return nil
	}
	return &Accounts{client: client, allowed: lim.Accounts}
}

// Accounts is a key's accounts list.
type Accounts struct {
	client  string
	allowed []string
}

// Allows reports whether a may serve the key's requests.
func (f *Accounts) Allows(a *account.Account) bool {
	if f == nil {
		return true
	}
	for _, entry := range f.allowed {
		if config.AccountMatches(a.Name, string(a.Type), a.Tags, entry) {
			return true
		}
	}
	return false
}

// Refuse is the refusal of a request for model none of the allowed
// accounts serves.
func (f *Accounts) Refuse(model string) *Refusal {
	return &Refusal{Client: f.client, Limit: LimitAccounts, Model: model, Allowed: f.allowed}
}

func matchAny(globs []string, s string) bool {
	for _, g := range globs {
		if ok, _ := path.Match(g, s); ok {
			return true
		}
	}
	return false
}

func newLease() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
