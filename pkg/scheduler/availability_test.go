package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/scheduler"
	"github.com/proxy-dev/proxy/pkg/store"
)

// clock is a settable time source shared by the tracker and the scheduler.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// fixture is a scheduler over real health tracking and a real store.
type fixture struct {
	st    *store.Store
	clk   *clock
	track *health.Tracker
	pool  *account.Pool
	s     *scheduler.Scheduler
}

func newFixture(t *testing.T, accts ...*account.Account) *fixture {
	st, _ := newStore(t)
	clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
	tr := health.New(st, health.WithClock(clk.now))
	pool := account.NewPool(accts)
	s := scheduler.New(pool, st, ttl, scheduler.WithSeed(11), scheduler.WithClock(clk.now),
		scheduler.WithAvailability(tr), scheduler.WithMoveAfter(5*time.Minute))
	return &fixture{st: st, clk: clk, track: tr, pool: pool, s: s}
}

func (f *fixture) selectFor(t *testing.T, sess string) scheduler.Decision {
	t.Helper()
	d, err := f.s.Select(context.Background(), scheduler.Request{Session: key(sess)})
	if err != nil {
		t.Fatalf("select %s: %v", sess, err)
	}
	return d
}

func (f *fixture) report(a *account.Account, o health.Outcome) {
	f.track.Report(context.Background(), a, o)
}

func quota(until time.Time) health.Outcome {
	return health.Outcome{Class: health.Quota, Status: 429, Code: "usage_limit_reached", Until: until}
}

func TestCooldownMovesOrKeepsBinding(t *testing.T) {
	tests := []struct {
		name       string
		outcome    func(now time.Time) health.Outcome
		wantReason scheduler.Reason
		wantMoved  bool
	}{
		{"quota for an hour moves the session", func(now time.Time) health.Outcome { return quota(now.Add(time.Hour)) }, scheduler.ReasonRebound, true},
		{"invalid key moves the session", func(time.Time) health.Outcome { return health.Outcome{Class: health.Unauthorized, Status: 401} }, scheduler.ReasonRebound, true},
		{"rate limit for 20s keeps the binding", func(now time.Time) health.Outcome {
			return health.Outcome{Class: health.RateLimit, Status: 429, Until: now.Add(20 * time.Second)}
		}, scheduler.ReasonFailover, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := acct(t, "a", 1), acct(t, "b", 1)
			f := newFixture(t, a, b)
			first := f.selectFor(t, "conv")
			other := b
			if first.Account == b {
				other = a
			}
			f.report(first.Account, tt.outcome(f.clk.t))

			d := f.selectFor(t, "conv")
			if d.Account != other || d.Reason != tt.wantReason {
				t.Fatalf("got %s (%s: %s), want %s (%s)", d.Account.Name, d.Reason, d.Detail, other.Name, tt.wantReason)
			}
			bnd, _, _ := f.st.Lookup(context.Background(), key("conv").Hash, ttl)
			if moved := bnd.Account == other.Name; moved != tt.wantMoved {
				t.Fatalf("binding now on %s; moved=%v, want %v", bnd.Account, moved, tt.wantMoved)
			}
			// Later turns do not flap: they stay where the binding says
			// once the short cooldown is over.
			f.clk.t = f.clk.t.Add(time.Minute)
			d = f.selectFor(t, "conv")
			if d.Account.Name != bnd.Account || d.Reason != scheduler.ReasonSticky {
				t.Fatalf("after a minute: %s (%s), want sticky on %s", d.Account.Name, d.Reason, bnd.Account)
			}
		})
	}
}

func TestAllLimited(t *testing.T) {
	a, b, c := acct(t, "a", 1), acct(t, "b", 1), acct(t, "c", 1)
	f := newFixture(t, a, b, c)
	now := f.clk.t
	f.report(a, quota(now.Add(3*time.Hour)))
	f.report(b, quota(now.Add(90*time.Minute)))
	f.report(c, quota(now.Add(2*time.Hour)))
	_, err := f.s.Select(context.Background(), scheduler.Request{Session: key("s")})
	var ue *scheduler.UnavailableError
	if !errors.As(err, &ue) || !errors.Is(err, scheduler.ErrNoAccount) {
		t.Fatalf("got %v, want UnavailableError", err)
	}
	if !ue.AllQuota || !ue.Until.Equal(now.Add(90*time.Minute)) {
		t.Fatalf("got %+v; want all quota until the earliest reset %s", ue, now.Add(90*time.Minute))
	}

	// One account out for another reason: no longer "all limited".
	f.report(c, health.Outcome{Class: health.Unauthorized, Status: 401})
	_, err = f.s.Select(context.Background(), scheduler.Request{Session: key("s")})
	if !errors.As(err, &ue) || ue.AllQuota || ue.Reasons["invalid"] != 1 || ue.Reasons["quota"] != 2 {
		t.Fatalf("got %+v", err)
	}

	// The quota resets: the account that reset first serves again.
	f.clk.t = now.Add(91 * time.Minute)
	if d := f.selectFor(t, "s"); d.Account.Name != "b" {
		t.Fatalf("after b's reset got %s", d.Account.Name)
	}
}

func TestInvalidMarkEndsWhenKeyChanges(t *testing.T) {
	a := acct(t, "a", 1)
	f := newFixture(t, a)
	f.report(a, health.Outcome{Class: health.Unauthorized, Status: 401})
	if _, err := f.s.Select(context.Background(), scheduler.Request{Session: key("s")}); !errors.Is(err, scheduler.ErrNoAccount) {
		t.Fatalf("invalid account still selected: %v", err)
	}
	fixed := acct(t, "a", 1, func(c *config.Account) { c.APIKey = "sk-a-new-key-after-the-fix" })
	f.pool.Replace([]*account.Account{fixed})
	if d := f.selectFor(t, "s"); d.Account != fixed {
		t.Fatalf("after the key changed got %v", d.Account)
	}
}

func TestSuccessClearsCooldown(t *testing.T) {
	a := acct(t, "a", 1)
	f := newFixture(t, a)
	f.report(a, health.Outcome{Class: health.RateLimit, Status: 429, Until: f.clk.t.Add(time.Hour)})
	f.report(a, health.Outcome{Class: health.OK, Status: 200})
	if cs, _ := f.st.Cooldowns(context.Background()); len(cs) != 0 {
		t.Fatalf("cooldowns after a success: %+v", cs)
	}
}

func TestFullAccountSkippedForNewSessions(t *testing.T) {
	small := acct(t, "small", 100, func(c *config.Account) { c.MaxConcurrency = 1 })
	big := acct(t, "big", 1)
	f := newFixture(t, small, big)
	release, ok := f.track.Acquire(context.Background(), small, 0)
	if !ok {
		t.Fatal("no slot on an idle account")
	}
	defer release()
	for i := range 20 {
		if d := f.selectFor(t, "new-"+string(rune('a'+i))); d.Account != big {
			t.Fatalf("new session went to the full account %s", d.Account.Name)
		}
	}
}

// ending is an Availability whose cooldowns each end after they were seen
// once: it stands in for a cooldown that expires (or a sync that clears
// it) while a request is being placed.
type ending struct {
	until time.Time
	seen  map[string]bool
}

func (e *ending) Cooldown(a *account.Account) (store.Cooldown, bool) {
	if e.seen[a.Name] {
		return store.Cooldown{}, false
	}
	e.seen[a.Name] = true
	return store.Cooldown{Account: a.Name, Reason: "rate_limit", Until: e.until}, true
}
func (e *ending) HasSlot(*account.Account) bool { return true }

// TestUnavailableNamesEveryCause: when accounts serve the model but none
// can take the request, the error is an *UnavailableError counting each
// account by its cause, never the bare ErrNoAccount that reads "no account
// serves the model".
func TestUnavailableNamesEveryCause(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	rateLimited := func(f *fixture, a *account.Account) {
		f.report(a, health.Outcome{Class: health.RateLimit, Status: 429, Until: now.Add(30 * time.Second)})
	}
	tests := []struct {
		name    string
		setup   func(f *fixture, a, b *account.Account) scheduler.Request
		avail   scheduler.Availability // replaces the tracker when set
		want    scheduler.UnavailableError
		wantErr error // instead of an UnavailableError
	}{
		{name: "both cooling", setup: func(f *fixture, a, b *account.Account) scheduler.Request {
			rateLimited(f, a)
			f.report(b, health.Outcome{Class: health.Overloaded, Status: 503})
			return scheduler.Request{Session: key("s")}
		}, want: scheduler.UnavailableError{Reasons: map[string]int{"rate_limit": 1, "overloaded": 1}, Until: now.Add(15 * time.Second)}},
		{name: "one tried without a cooldown, the other cooling", setup: func(f *fixture, a, b *account.Account) scheduler.Request {
			rateLimited(f, b)
			return scheduler.Request{Session: key("s"), Exclude: map[string]bool{"a": true, "b": true}}
		}, want: scheduler.UnavailableError{Reasons: map[string]int{"rate_limit": 1}, Until: now.Add(30 * time.Second), Tried: 1}},
		{name: "every account tried", setup: func(f *fixture, a, b *account.Account) scheduler.Request {
			return scheduler.Request{Session: key("s"), Exclude: map[string]bool{"a": true, "b": true}}
		}, want: scheduler.UnavailableError{Reasons: map[string]int{}, Tried: 2}},
		{name: "cooldowns end while the request is placed", avail: &ending{until: now.Add(time.Minute), seen: map[string]bool{}},
			setup: func(*fixture, *account.Account, *account.Account) scheduler.Request {
				return scheduler.Request{Session: key("s")}
			}, want: scheduler.UnavailableError{Reasons: map[string]int{}, Back: 2}},
		{name: "no account serves the model", setup: func(*fixture, *account.Account, *account.Account) scheduler.Request {
			return scheduler.Request{Session: key("s"), Model: "o3"}
		}, wantErr: scheduler.ErrNoAccount},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			only := func(c *config.Account) { c.Models = []string{"gpt-5"} }
			a, b := acct(t, "a", 1, only), acct(t, "b", 1, only)
			f := newFixture(t, a, b)
			r := tt.setup(f, a, b)
			s := f.s
			if tt.avail != nil {
				s = scheduler.New(f.pool, f.st, ttl, scheduler.WithClock(f.clk.now), scheduler.WithAvailability(tt.avail))
			}
			_, err := s.Select(context.Background(), r)
			if tt.wantErr != nil {
				var ue *scheduler.UnavailableError
				if !errors.Is(err, tt.wantErr) || errors.As(err, &ue) {
					t.Fatalf("got %v, want %v", err, tt.wantErr)
				}
				return
			}
			var ue *scheduler.UnavailableError
			if !errors.As(err, &ue) {
				t.Fatalf("got %v, want an UnavailableError", err)
			}
			if fmt.Sprint(*ue) != fmt.Sprint(tt.want) {
				t.Fatalf("got %+v, want %+v", *ue, tt.want)
			}
		})
	}
}
