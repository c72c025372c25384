package scheduler_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/scheduler"
	"github.com/proxy-dev/proxy/pkg/store"
)

// TestResumeGoesToTheMinter: a conversation without a binding whose items
// one account minted goes back to it, whatever the weights say; the owner
// is asked only when there is no binding.
func TestResumeGoesToTheMinter(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name       string
		owner      string
		bound      string // an existing binding, "" for none
		wantReason scheduler.Reason
		wantAcct   string // "" when any account may serve
		wantAsked  bool
	}{
		{name: "the minter, against the weights", owner: "light", wantReason: scheduler.ReasonResumed, wantAcct: "light", wantAsked: true},
		{name: "no owner known: a weighted choice", owner: "", wantReason: scheduler.ReasonNew, wantAsked: true},
		{name: "an owner the pool does not have", owner: "gone", wantReason: scheduler.ReasonNew, wantAsked: true},
		{name: "a binding wins and the owner is not asked", owner: "light", bound: "heavy", wantReason: scheduler.ReasonSticky, wantAcct: "heavy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _ := newStore(t)
			pool := account.NewPool([]*account.Account{acct(t, "heavy", 1000), acct(t, "light", 1)})
			s := scheduler.New(pool, st, ttl, scheduler.WithSeed(3))
			k := key("resume " + tt.name)
			if tt.bound != "" {
				if _, _, err := st.Bind(ctx, store.Binding{Session: k.Hash, Account: tt.bound}, ttl); err != nil {
					t.Fatal(err)
				}
			}
			asked := false
			d, err := s.Select(ctx, scheduler.Request{Session: k, Owner: func(context.Context) string {
				asked = true
				return tt.owner
			}})
			if err != nil {
				t.Fatal(err)
			}
			if d.Reason != tt.wantReason || (tt.wantAcct != "" && d.Account.Name != tt.wantAcct) || asked != tt.wantAsked {
				t.Errorf("Select = %s (%s), asked %v; want %s (%s), asked %v", d.Account.Name, d.Reason, asked, tt.wantAcct, tt.wantReason, tt.wantAsked)
			}
			if tt.wantReason == scheduler.ReasonResumed {
				if d.Detail != "the conversation's items were minted by light" {
					t.Errorf("Detail = %q", d.Detail)
				}
				// Bound to it: the next turn is sticky there.
				next, _ := s.Select(ctx, scheduler.Request{Session: k})
				if next.Reason != scheduler.ReasonSticky || next.Account.Name != "light" {
					t.Errorf("next turn = %s (%s), want light (sticky)", next.Account.Name, next.Reason)
				}
			}
		})
	}
}

// TestDecisionCarriesNotes: the notes beside a binding reach the decision
// of a sticky turn, a failover and a move.
func TestDecisionCarriesNotes(t *testing.T) {
	ctx := context.Background()
	st, _ := newStore(t)
	pool := account.NewPool([]*account.Account{acct(t, "a", 1), acct(t, "b", 1)})
	s := scheduler.New(pool, st, ttl)
	k := key("notes")
	if _, _, err := st.Bind(ctx, store.Binding{Session: k.Hash, Account: "a"}, ttl); err != nil {
		t.Fatal(err)
	}
	if err := st.NoteConversation(ctx, k.Hash, "a", ttl); err != nil {
		t.Fatal(err)
	}
	for _, r := range []scheduler.Request{{Session: k}, {Session: k, Exclude: map[string]bool{"a": true}}} {
		d, err := s.Select(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(d.Minters) != "[a]" || d.Bound != "a" {
			t.Errorf("%s: Minters %q, Bound %q; want [a], a", d.Reason, d.Minters, d.Bound)
		}
	}
}
