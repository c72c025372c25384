package routesim

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/scheduler"
	"github.com/proxy-dev/proxy/pkg/session"
	"github.com/proxy-dev/proxy/pkg/store"
)

// Strategies are the routings compared, in the report's order.
var Strategies = []scheduler.Strategy{scheduler.StrategyWeighted, scheduler.StrategyHeadroom, scheduler.StrategyPlanner}

// Result is what one strategy made of one workload.
type Result struct {
	Strategy scheduler.Strategy `json:"strategy"`
	Accounts int                `json:"accounts"`
	Demand   int64              `json:"demand_tokens"`
	// Served is every token served before the workload's end.
	Served int64 `json:"served_tokens"`
	// BeforeAllLimited is what was served before the first moment every
	// account was limited at once; Served when that never happened.
	BeforeAllLimited int64     `json:"served_before_all_limited_tokens"`
	AllLimitedAt     time.Time `json:"all_limited_at,omitzero"`
	// Lost is the demand no account could serve.
	Lost int64 `json:"lost_tokens"`
	// WeekUnused and FiveHourUnused are the share of the capacity that
	// reset with room left, of the weekly and the five-hour windows that
	// reset before the end.
	WeekUnused     float64 `json:"week_unused_at_reset"`
	FiveHourUnused float64 `json:"five_hour_unused_at_reset"`
	WeekResets     int     `json:"week_resets"`
	// Moved counts the conversations moved off a limited account, and
	// Failovers the turns served elsewhere while the binding stayed: each
	// costs a prompt cache, which the token counts do not show.
	Moved     int `json:"moved"`
	Failovers int `json:"failovers"`
}

// checkEvery is how many turns go between two looks at the context.
const checkEvery = 4096

// sessionTTL is how long a conversation stays bound after its last turn,
// the proxy's default.
const sessionTTL = config.DefaultSessionTTL

// Run replays w against a fresh pool of n accounts routed by strategy.
// seed sets the accounts' reset phases and the scheduler's draws. It
// stops with ctx's error when ctx ends.
func Run(ctx context.Context, w Workload, n int, strategy scheduler.Strategy, seed uint64) (Result, error) {
	now := w.From
	clock := func() time.Time { return now }
	sims := newAccounts(n, w.From, seed)
	byName := make(map[string]*simAccount, n)
	accts := make([]*account.Account, n)
	for i, s := range sims {
		byName[s.name] = s
		a, err := account.New(config.Account{Name: s.name, Type: config.TypeOpenAI, BaseURL: "http://127.0.0.1:1/v1",
			APIKey: "sk-routesim", Weight: 1, Enabled: true})
		if err != nil {
			return Result{}, err
		}
		accts[i] = a
	}
	// The real tracker holds the windows the scheduler steers by; it is
	// never synced, so it needs no store.
	tracker := health.New(nil, health.WithClock(clock))
	sched := scheduler.New(account.NewPool(accts), newBindings(clock), sessionTTL,
		scheduler.WithClock(clock), scheduler.WithSeed(seed), scheduler.WithAvailability(limits(byName)),
		scheduler.WithStrategy(strategy, tracker, config.DefaultHeadroomThreshold),
		scheduler.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))

	r := Result{Strategy: strategy, Accounts: n, Demand: w.Demand}
	var week, five, warm resets
	roll := func() {
		wr, fr := &week, &five
		if now.Before(w.Start) {
			wr, fr = &warm, &warm // the warm-up's resets are not measured
		}
		for _, s := range sims {
			s.five.roll(now, fr)
			s.week.roll(now, wr)
		}
	}
	for i, t := range w.Turns {
		if !t.At.Before(w.End) {
			break
		}
		if i%checkEvery == 0 && ctx.Err() != nil {
			return r, fmt.Errorf("stopped at %s of the simulated time: %w", t.At.Format(time.DateTime), context.Cause(ctx))
		}
		if t.At.After(w.Start) && now.Before(w.Start) {
			now = w.Start
			roll() // what reset during the warm-up stays out of the measure
		}
		now = t.At
		roll()
		measured := !now.Before(w.Start)
		d, err := sched.Select(ctx, scheduler.Request{Session: convKey(t.Conv), Model: "gpt-5"})
		if err != nil {
			if measured {
				r.Lost += t.Tokens
			}
			continue
		}
		s := byName[d.Account.Name]
		if _, full := s.limited(); full {
			return r, fmt.Errorf("the scheduler chose %s, which is limited", s.name)
		}
		served := s.serve(t.Tokens)
		tracker.ObserveLimits(s.name, s.header())
		if !measured {
			continue
		}
		switch d.Reason {
		case scheduler.ReasonRebound:
			r.Moved++
		case scheduler.ReasonFailover:
			r.Failovers++
		}
		r.Served += served
		r.Lost += t.Tokens - served
		if r.AllLimitedAt.IsZero() && allLimited(sims) {
			r.AllLimitedAt, r.BeforeAllLimited = now, r.Served
		}
	}
	now = w.End
	roll()
	if r.AllLimitedAt.IsZero() {
		r.BeforeAllLimited = r.Served
	}
	r.WeekUnused, r.FiveHourUnused, r.WeekResets = share(week), share(five), week.count
	return r, nil
}

func share(r resets) float64 {
	if r.capacity == 0 {
		return 0
	}
	return r.lost / r.capacity
}

func allLimited(sims []*simAccount) bool {
	for _, s := range sims {
		if _, full := s.limited(); !full {
			return false
		}
	}
	return true
}

// convKey is conversation i's session key, as the proxy would derive it.
func convKey(i int) session.Key {
	return session.Key{Hash: fmt.Sprintf("%064x", i), Source: session.SourceHeader}
}

// limits is the scheduler's Availability: an account with a full window
// is cooling down until that window resets, as a 429 usage_limit_reached
// would have it.
type limits map[string]*simAccount

func (l limits) Cooldown(a *account.Account) (store.Cooldown, bool) {
	until, full := l[a.Name].limited()
	if !full {
		return store.Cooldown{}, false
	}
	return store.Cooldown{Account: a.Name, Reason: "quota", Message: "usage limit reached", Until: until}, true
}

func (limits) HasSlot(*account.Account) bool { return true }

// bindings keep conversations on accounts in memory, as the store does:
// a binding lives ttl after its last use.
type bindings struct {
	now func() time.Time
	m   map[string]binding
}

type binding struct {
	b       store.Binding
	expires time.Time
}

func newBindings(now func() time.Time) *bindings {
	return &bindings{now: now, m: map[string]binding{}}
}

func (bs *bindings) Lookup(_ context.Context, sess string, ttl time.Duration) (store.Binding, bool, error) {
	b, ok := bs.m[sess]
	if !ok || !bs.now().Before(b.expires) {
		return store.Binding{}, false, nil
	}
	b.expires = bs.now().Add(ttl)
	bs.m[sess] = b
	return b.b, true, nil
}

func (bs *bindings) Bind(ctx context.Context, nb store.Binding, ttl time.Duration) (store.Binding, bool, error) {
	if b, ok, _ := bs.Lookup(ctx, nb.Session, ttl); ok {
		return b, false, nil
	}
	bs.m[nb.Session] = binding{nb, bs.now().Add(ttl)}
	return nb, true, nil
}

func (bs *bindings) Rebind(_ context.Context, nb store.Binding, ttl time.Duration) error {
	bs.m[nb.Session] = binding{nb, bs.now().Add(ttl)}
	return nil
}
