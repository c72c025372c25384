package scheduler_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/scheduler"
)

// TestStoreDownKeepsConversationOnItsAccount: while the store fails, a
// conversation this instance served stays on its account, though weights
// and headroom now favour the other; it leaves only as it would with the
// store up (its account failed this turn, or is out for long).
func TestStoreDownKeepsConversationOnItsAccount(t *testing.T) {
	type step struct {
		exclude    string // account this turn already tried
		wantAcct   string
		wantReason scheduler.Reason
	}
	tests := []struct {
		name  string
		setup func(tr *health.Tracker, a *account.Account, now time.Time)
		steps []step
	}{
		{name: "weights and headroom favour the other account", steps: []step{
			{wantAcct: "a", wantReason: scheduler.ReasonSticky}, // the lookup fails
			{wantAcct: "a", wantReason: scheduler.ReasonSticky}, // the breaker skips the store
			{wantAcct: "a", wantReason: scheduler.ReasonSticky},
		}},
		{name: "its account failed this turn", steps: []step{
			{exclude: "a", wantAcct: "b", wantReason: scheduler.ReasonFailover},
			{wantAcct: "a", wantReason: scheduler.ReasonSticky}, // the next turn is back
		}},
		{name: "its account is out for long",
			setup: func(tr *health.Tracker, a *account.Account, now time.Time) {
				tr.Report(context.Background(), a, quota(now.Add(time.Hour)))
			},
			steps: []step{
				{wantAcct: "b", wantReason: scheduler.ReasonUnsticky},
				{wantAcct: "b", wantReason: scheduler.ReasonSticky}, // and stays where it went
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			base, _ := newStore(t)
			st := &ctxStore{Store: base}
			clk := &clock{t: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
			tr := health.New(base, health.WithClock(clk.now))
			a, b := acct(t, "a", 1), acct(t, "b", 100)
			room := newUsed(map[string]float64{"a": 10, "b": 95})
			s := scheduler.New(account.NewPool([]*account.Account{a, b}), st, ttl, scheduler.WithSeed(3),
				scheduler.WithClock(clk.now), scheduler.WithAvailability(tr), scheduler.WithHeadroom(room, 90))
			conv := key("conv")
			if d, err := s.Select(context.Background(), scheduler.Request{Session: conv}); err != nil || d.Account != a {
				t.Fatalf("setup: the conversation went to %v (%v), want a (b is near its limits)", d.Account, err)
			}
			// Now everything favours b, and the store is down.
			room.set("a", 80)
			room.set("b", 0)
			if tt.setup != nil {
				tt.setup(tr, a, clk.t)
			}
			st.arm("", nil, errors.New("dial tcp 127.0.0.1:6379: connect: connection refused"))
			for i, want := range tt.steps {
				clk.t = clk.t.Add(time.Second)
				r := scheduler.Request{Session: conv}
				if want.exclude != "" {
					r.Exclude = map[string]bool{want.exclude: true}
				}
				d, err := s.Select(context.Background(), r)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if d.Account.Name != want.wantAcct || d.Reason != want.wantReason {
					t.Fatalf("step %d: %s (%s, %q), want %s (%s)", i, d.Account.Name, d.Reason, d.Detail, want.wantAcct, want.wantReason)
				}
			}
		})
	}
}
