package scheduler_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/scheduler"
	"github.com/proxy-dev/proxy/pkg/session"
)

// used is a Headroom of fixed numbers; an account missing was never
// observed.
type used struct {
	mu sync.Mutex
	m  map[string]float64
}

func newUsed(m map[string]float64) *used { return &used{m: m} }

func (u *used) UsedPercent(name string) (float64, bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	p, ok := u.m[name]
	return p, ok
}

func (u *used) set(name string, p float64) {
	u.mu.Lock()
	u.m[name] = p
	u.mu.Unlock()
}

// split selects n new conversations (or keyless requests) and counts where
// each went and why.
func split(t *testing.T, s *scheduler.Scheduler, n int, keyless bool) (counts map[string]int, reasons map[scheduler.Reason]int, details []string) {
	t.Helper()
	counts, reasons = map[string]int{}, map[scheduler.Reason]int{}
	for i := range n {
		r := scheduler.Request{Session: key(fmt.Sprint("conv-", i))}
		if keyless {
			r.Session = session.Key{}
		}
		d, err := s.Select(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		counts[d.Account.Name]++
		reasons[d.Reason]++
		if d.Reason == scheduler.ReasonHeadroom || d.Reason == scheduler.ReasonPlanner {
			details = append(details, d.Detail)
		}
	}
	return counts, reasons, details
}

func TestHeadroomSteersNewConversations(t *testing.T) {
	tests := []struct {
		name      string
		weights   map[string]int
		used      map[string]float64
		threshold float64 // 0: the default
		keyless   bool
		n         int
		check     func(t *testing.T, counts map[string]int)
		// wantHeadroom: some decisions say headroom, each detail containing
		// this; "" means none may.
		wantHeadroom string
	}{
		{
			name: "an account over the threshold gets no new conversation", n: 40,
			weights: map[string]int{"full": 1, "roomy": 1}, used: map[string]float64{"full": 97, "roomy": 10},
			check:        want(map[string]int{"full": 0, "roomy": 40}),
			wantHeadroom: "skipped full: 97% used (threshold 90%)",
		},
		{
			name: "without a session key too", n: 200, keyless: true,
			weights: map[string]int{"full": 1, "roomy": 1}, used: map[string]float64{"full": 97, "roomy": 10},
			check:        want(map[string]int{"full": 0, "roomy": 200}),
			wantHeadroom: "skipped full: 97% used",
		},
		{
			name: "the threshold is configurable", n: 40, threshold: 50,
			weights: map[string]int{"a": 1, "b": 1}, used: map[string]float64{"a": 60, "b": 10},
			check:        want(map[string]int{"a": 0, "b": 40}),
			wantHeadroom: "skipped a: 60% used (threshold 50%)",
		},
		{
			name: "below the threshold the choice leans towards headroom", n: 2000,
			weights: map[string]int{"busy": 1, "idle": 1}, used: map[string]float64{"busy": 80, "idle": 0},
			// Effective weights 0.2 and 1: busy gets about 1/6.
			check:        between("busy", 0.13, 0.20),
			wantHeadroom: "skipped busy: 80% used, idle has more room",
		},
		{
			name: "the lean stays within the configured weights", n: 2000,
			weights: map[string]int{"big": 3, "small": 1}, used: map[string]float64{"big": 50, "small": 0},
			// Effective weights 1.5 and 1: big gets about 0.6.
			check:        between("big", 0.56, 0.64),
			wantHeadroom: "skipped big: 50% used, small has more room",
		},
		{
			name: "every account full: the lean among them all", n: 2000,
			weights: map[string]int{"a": 1, "b": 1}, used: map[string]float64{"a": 95, "b": 99},
			// Floors of 0.05 each: an even split, nobody refused.
			check: between("a", 0.45, 0.55),
		},
		{
			name: "nothing observed: the weights alone", n: 2000,
			weights: map[string]int{"a": 1, "b": 1}, used: map[string]float64{},
			check: between("a", 0.47, 0.53),
		},
		{
			name: "an account not yet observed counts as roomy", n: 40,
			weights: map[string]int{"full": 1, "unseen": 1}, used: map[string]float64{"full": 92},
			check:        want(map[string]int{"full": 0, "unseen": 40}),
			wantHeadroom: "skipped full: 92% used",
		},
		{
			name: "a standby does not take over from a full weighted account", n: 40,
			weights: map[string]int{"main": 1, "standby": 0}, used: map[string]float64{"main": 97, "standby": 0},
			check: want(map[string]int{"main": 40, "standby": 0}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _ := newStore(t)
			s := scheduler.New(weighted(t, tt.weights), st, ttl, scheduler.WithSeed(7),
				scheduler.WithHeadroom(newUsed(tt.used), tt.threshold))
			counts, reasons, details := split(t, s, tt.n, tt.keyless)
			t.Logf("split %v, reasons %v", counts, reasons)
			tt.check(t, counts)
			switch {
			case tt.wantHeadroom == "" && reasons[scheduler.ReasonHeadroom] > 0:
				t.Errorf("%d decisions say headroom (%q), want none", reasons[scheduler.ReasonHeadroom], details[0])
			case tt.wantHeadroom != "" && len(details) == 0:
				t.Errorf("no decision says headroom; reasons %v", reasons)
			}
			for _, d := range details {
				if !strings.Contains(d, tt.wantHeadroom) {
					t.Fatalf("headroom detail %q, want it to contain %q", d, tt.wantHeadroom)
				}
			}
		})
	}
}

func want(w map[string]int) func(*testing.T, map[string]int) {
	return func(t *testing.T, counts map[string]int) {
		t.Helper()
		for name, n := range w {
			if counts[name] != n {
				t.Errorf("%s got %d, want %d (split %v)", name, counts[name], n, counts)
			}
		}
	}
}

func between(name string, lo, hi float64) func(*testing.T, map[string]int) {
	return func(t *testing.T, counts map[string]int) {
		t.Helper()
		total := 0
		for _, n := range counts {
			total += n
		}
		if share := float64(counts[name]) / float64(total); share < lo || share > hi {
			t.Errorf("%s got %.3f of the choices, want %.2f to %.2f (split %v)", name, share, lo, hi, counts)
		}
	}
}

// weighted is a pool of accounts named and weighted as weights says, in
// name order, so a seeded choice is the same on every run.
func weighted(t testing.TB, weights map[string]int) *account.Pool {
	var accts []*account.Account
	for _, name := range slices.Sorted(maps.Keys(weights)) {
		accts = append(accts, acct(t, name, weights[name]))
	}
	return account.NewPool(accts)
}

// A conversation already on an account stays there however full it gets:
// its prompt cache is worth more. Only a cooldown (a real 429) serves a
// turn elsewhere, and failover choices ignore headroom.
func TestHeadroomLeavesBoundConversationsAlone(t *testing.T) {
	accts := []*account.Account{acct(t, "a", 1), acct(t, "b", 1), acct(t, "c", 1)}
	f := newFixture(t, accts...)
	u := newUsed(map[string]float64{})
	s := scheduler.New(f.pool, f.st, ttl, scheduler.WithSeed(11), scheduler.WithClock(f.clk.now),
		scheduler.WithAvailability(f.track), scheduler.WithHeadroom(u, 0))
	bound := mustSelect(t, s, "conv").Account // bound while nothing is known
	var others []*account.Account
	for _, a := range accts {
		u.set(a.Name, 10)
		if a != bound {
			others = append(others, a)
		}
	}
	u.set(bound.Name, 97)
	for turn := range 5 {
		if d := mustSelect(t, s, "conv"); d.Account != bound || d.Reason != scheduler.ReasonSticky {
			t.Fatalf("turn %d: %s (%s), want sticky on %s", turn, d.Account.Name, d.Reason, bound.Name)
		}
	}

	// The failover choice is the weights' alone, even onto a full account.
	plain := plainChoice(t, "conv", others...)
	u.set(plain.Name, 97)
	fo, err := s.Select(context.Background(), scheduler.Request{Session: key("conv"), Exclude: map[string]bool{bound.Name: true}})
	if err != nil {
		t.Fatal(err)
	}
	if fo.Account != plain || fo.Reason != scheduler.ReasonFailover {
		t.Fatalf("failover went to %s (%s), the weights say %s: headroom changed a failover", fo.Account.Name, fo.Reason, plain.Name)
	}

	// A 429 on the bound account serves the next turn elsewhere and keeps
	// the binding.
	f.report(bound, health.Outcome{Class: health.RateLimit, Status: 429, Until: f.clk.t.Add(20 * time.Second)})
	d := mustSelect(t, s, "conv")
	if d.Account == bound || d.Reason != scheduler.ReasonFailover || d.Bound != bound.Name {
		t.Fatalf("after a 429: %s (%s, bound %q), want a failover keeping the binding to %s", d.Account.Name, d.Reason, d.Bound, bound.Name)
	}
}

// plainChoice is where the weights alone send session sess among as.
func plainChoice(t *testing.T, sess string, as ...*account.Account) *account.Account {
	t.Helper()
	st, _ := newStore(t)
	s := scheduler.New(account.NewPool(as), st, ttl)
	return mustSelect(t, s, sess).Account
}

func mustSelect(t *testing.T, s *scheduler.Scheduler, sess string) scheduler.Decision {
	t.Helper()
	d, err := s.Select(context.Background(), scheduler.Request{Session: key(sess)})
	if err != nil {
		t.Fatalf("select %s: %v", sess, err)
	}
	return d
}

// Instances that see the same numbers choose alike for every conversation,
// whatever their seeds: they agree without asking each other.
func TestHeadroomChoiceIsTheSameOnEveryInstance(t *testing.T) {
	u := newUsed(map[string]float64{"a": 70, "b": 20, "c": 95})
	pick := func(seed uint64) []string {
		st, _ := newStore(t)
		pool := account.NewPool([]*account.Account{acct(t, "a", 2), acct(t, "b", 1), acct(t, "c", 1)})
		s := scheduler.New(pool, st, ttl, scheduler.WithSeed(seed), scheduler.WithHeadroom(u, 0))
		var out []string
		for i := range 200 {
			out = append(out, mustSelect(t, s, fmt.Sprint("conv-", i)).Account.Name)
		}
		return out
	}
	one, two := pick(1), pick(2)
	for i := range one {
		if one[i] != two[i] {
			t.Fatalf("conversation %d: one instance chose %s, the other %s", i, one[i], two[i])
		}
	}
}

// A conversation that must move (its account is gone) moves by the
// steering too, and still says it was moved; while bound it stays however
// full its account is.
func TestSteeringMovesARebind(t *testing.T) {
	w := windows{"full": {Primary: five(99, time.Minute)}, "roomy": {Primary: five(1, time.Hour)}, "a": {Primary: five(99, time.Hour)}}
	for _, tt := range []struct {
		name   string
		steer  scheduler.Option
		detail string
	}{
		{"headroom", scheduler.WithHeadroom(newUsed(map[string]float64{"full": 99, "roomy": 1, "a": 99}), 0),
			"bound account a was removed; skipped full: 99% used"},
		{"planner", scheduler.WithPlanner(w, 0),
			"bound account a was removed; chose roomy: 5h 1% used, resets in 1h; over full: 5h 99% used, resets in 1m (threshold 90%)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			st, _ := newStore(t)
			a, full, roomy := acct(t, "a", 1), acct(t, "full", 1), acct(t, "roomy", 1)
			pool := account.NewPool([]*account.Account{a})
			s := scheduler.New(pool, st, ttl, scheduler.WithClock(func() time.Time { return planNow }), tt.steer)
			for i := range 40 {
				sess := fmt.Sprint("move-", i)
				if d := mustSelect(t, s, sess); d.Account != a {
					t.Fatalf("%s: %s, want a, the only account", sess, d.Account.Name)
				}
				if d := mustSelect(t, s, sess); d.Account != a || d.Reason != scheduler.ReasonSticky {
					t.Fatalf("%s: %s (%s), want sticky on a however full", sess, d.Account.Name, d.Reason)
				}
				pool.Replace([]*account.Account{full, roomy})
				d := mustSelect(t, s, sess)
				if d.Account != roomy || d.Reason != scheduler.ReasonRebound {
					t.Fatalf("%s: moved to %s (%s), want roomy (rebound)", sess, d.Account.Name, d.Reason)
				}
				if plainChoice(t, sess, full, roomy) == full && !strings.Contains(d.Detail, tt.detail) {
					t.Fatalf("%s: detail %q does not say both why it moved and why not to full (%q)", sess, d.Detail, tt.detail)
				}
				pool.Replace([]*account.Account{a})
			}
		})
	}
}
