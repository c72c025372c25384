package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/scheduler"
	"github.com/proxy-dev/proxy/pkg/session"
	"github.com/proxy-dev/proxy/pkg/store"
)

const ttl = 30 * time.Minute

// newStore returns a real store on a miniredis server: nothing is mocked.
func newStore(t *testing.T) (*store.Store, *miniredis.Miniredis) {
	t.Helper()
	m := miniredis.RunT(t)
	st := store.New(redis.NewClient(&redis.Options{Addr: m.Addr()}), store.Options{KeyPrefix: "test:"})
	t.Cleanup(func() { _ = st.Close() })
	return st, m
}

// acct builds an openai account; opts adjust its config.
func acct(t testing.TB, name string, weight int, opts ...func(*config.Account)) *account.Account {
	t.Helper()
	c := config.Account{Name: name, Type: config.TypeOpenAI, BaseURL: "http://127.0.0.1:1/v1", APIKey: "sk-test-" + name, Weight: weight, Enabled: true}
	for _, o := range opts {
		o(&c)
	}
	a, err := account.New(c)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func disabled(c *config.Account) { c.Enabled = false }

func key(s string) session.Key {
	return session.Key{Hash: fmt.Sprintf("%064x", []byte(s)), Source: session.SourceHeader}
}

func TestWeightedChoiceFollowsWeights(t *testing.T) {
	st, _ := newStore(t)
	pool := account.NewPool([]*account.Account{acct(t, "a", 3), acct(t, "b", 1), acct(t, "standby", 0)})
	s := scheduler.New(pool, st, ttl, scheduler.WithSeed(42))
	counts := map[string]int{}
	const n = 4000
	for i := range n {
		d, err := s.Select(context.Background(), scheduler.Request{Session: key(fmt.Sprint("s", i))})
		if err != nil {
			t.Fatal(err)
		}
		if d.Reason != scheduler.ReasonNew {
			t.Fatalf("session %d: reason %s, want new", i, d.Reason)
		}
		counts[d.Account.Name]++
	}
	if counts["standby"] != 0 {
		t.Errorf("standby account chosen %d times while weighted accounts were available", counts["standby"])
	}
	share := float64(counts["a"]) / n
	if share < 0.72 || share > 0.78 {
		t.Errorf("account a (weight 3 of 4) got %.3f of sessions, want about 0.75 (counts %v)", share, counts)
	}
}

func TestStandbyServesOnlyWhenNothingElseCan(t *testing.T) {
	st, _ := newStore(t)
	pool := account.NewPool([]*account.Account{acct(t, "main", 1, disabled), acct(t, "standby", 0)})
	s := scheduler.New(pool, st, ttl, scheduler.WithSeed(1))
	d, err := s.Select(context.Background(), scheduler.Request{Session: key("x")})
	if err != nil {
		t.Fatal(err)
	}
	if d.Account.Name != "standby" {
		t.Fatalf("got %s, want standby", d.Account.Name)
	}
}

func TestSelect(t *testing.T) {
	gpt5only := func(c *config.Account) { c.Models = []string{"gpt-5*"} }
	tests := []struct {
		name     string
		accounts func(t *testing.T) []*account.Account
		req      scheduler.Request
		want     string // account name, or "" for ErrNoAccount
		reason   scheduler.Reason
	}{
		{
			name:     "no accounts at all",
			accounts: func(*testing.T) []*account.Account { return nil },
			req:      scheduler.Request{Session: key("s")},
		},
		{
			name:     "every account disabled",
			accounts: func(t *testing.T) []*account.Account { return []*account.Account{acct(t, "a", 1, disabled)} },
			req:      scheduler.Request{Session: key("s")},
		},
		{
			name: "model allow-list filters",
			accounts: func(t *testing.T) []*account.Account {
				return []*account.Account{acct(t, "gpt5", 1, gpt5only), acct(t, "other", 1, func(c *config.Account) { c.Models = []string{"o3"} })}
			},
			req:    scheduler.Request{Session: key("s"), Model: "gpt-5.5"},
			want:   "gpt5",
			reason: scheduler.ReasonNew,
		},
		{
			name:     "model no account serves",
			accounts: func(t *testing.T) []*account.Account { return []*account.Account{acct(t, "gpt5", 1, gpt5only)} },
			req:      scheduler.Request{Session: key("s"), Model: "claude"},
		},
		{
			name: "both account types are candidates",
			accounts: func(t *testing.T) []*account.Account {
				return []*account.Account{acct(t, "chatgpt", 0, func(c *config.Account) {
					c.Type, c.APIKey, c.AccessToken, c.BaseURL = config.TypeOpenAIResponses, "", "tok", ""
				}), acct(t, "api", 1)}
			},
			req:    scheduler.Request{Session: key("s")},
			want:   "api",
			reason: scheduler.ReasonNew,
		},
		{
			name:     "no session key serves without binding",
			accounts: func(t *testing.T) []*account.Account { return []*account.Account{acct(t, "a", 1)} },
			req:      scheduler.Request{},
			want:     "a",
			reason:   scheduler.ReasonUnsticky,
		},
		{
			name:     "excluded accounts are skipped",
			accounts: func(t *testing.T) []*account.Account { return []*account.Account{acct(t, "a", 5), acct(t, "b", 1)} },
			req:      scheduler.Request{Session: key("s"), Exclude: map[string]bool{"a": true}},
			want:     "b",
			reason:   scheduler.ReasonNew,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _ := newStore(t)
			s := scheduler.New(account.NewPool(tt.accounts(t)), st, ttl, scheduler.WithSeed(7))
			d, err := s.Select(context.Background(), tt.req)
			if tt.want == "" {
				if !errors.Is(err, scheduler.ErrNoAccount) {
					t.Fatalf("got %v, %v; want ErrNoAccount", d.Account, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Account.Name != tt.want || d.Reason != tt.reason {
				t.Fatalf("got %s (%s), want %s (%s)", d.Account.Name, d.Reason, tt.want, tt.reason)
			}
		})
	}
}

func TestSessionStaysOnItsAccount(t *testing.T) {
	st, _ := newStore(t)
	pool := account.NewPool([]*account.Account{acct(t, "a", 1), acct(t, "b", 1), acct(t, "c", 1)})
	s := scheduler.New(pool, st, ttl, scheduler.WithSeed(3))
	first, err := s.Select(context.Background(), scheduler.Request{Session: key("conv"), Model: "gpt-5", Client: "laptop"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		d, err := s.Select(context.Background(), scheduler.Request{Session: key("conv"), Model: "gpt-5"})
		if err != nil {
			t.Fatal(err)
		}
		if d.Account.Name != first.Account.Name || d.Reason != scheduler.ReasonSticky {
			t.Fatalf("turn %d went to %s (%s); the conversation started on %s", i, d.Account.Name, d.Reason, first.Account.Name)
		}
	}
	b, ok, err := st.Lookup(context.Background(), key("conv").Hash, ttl)
	if err != nil || !ok {
		t.Fatalf("binding: %v %v", ok, err)
	}
	if b.Account != first.Account.Name || b.Client != "laptop" || b.Model != "gpt-5" || b.Type != "openai" {
		t.Fatalf("binding %+v does not record the first request", b)
	}
}

func TestBindingToUnusableAccountIsReplaced(t *testing.T) {
	tests := []struct {
		name   string
		change func(t *testing.T) []*account.Account // the pool after the session was bound to "a"
		detail string
	}{
		{"disabled", func(t *testing.T) []*account.Account {
			return []*account.Account{acct(t, "a", 1, disabled), acct(t, "b", 1)}
		}, "bound account a is disabled"},
		{"removed", func(t *testing.T) []*account.Account { return []*account.Account{acct(t, "b", 1)} }, "bound account a was removed"},
		{"model no longer allowed", func(t *testing.T) []*account.Account {
			return []*account.Account{acct(t, "a", 1, func(c *config.Account) { c.Models = []string{"o3"} }), acct(t, "b", 1)}
		}, "bound account a does not serve model gpt-5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _ := newStore(t)
			pool := account.NewPool([]*account.Account{acct(t, "a", 1)})
			s := scheduler.New(pool, st, ttl, scheduler.WithSeed(5))
			req := scheduler.Request{Session: key("conv"), Model: "gpt-5"}
			if d, err := s.Select(context.Background(), req); err != nil || d.Account.Name != "a" {
				t.Fatalf("setup: %v %v", d.Account, err)
			}
			pool.Replace(tt.change(t))
			d, err := s.Select(context.Background(), req)
			if err != nil {
				t.Fatal(err)
			}
			if d.Account.Name != "b" || d.Reason != scheduler.ReasonRebound || d.Detail != tt.detail || d.Bound != "a" {
				t.Fatalf("got %s (%s: %q, bound %q); want b rebound: %q", d.Account.Name, d.Reason, d.Detail, d.Bound, tt.detail)
			}
			d, err = s.Select(context.Background(), req)
			if err != nil || d.Account.Name != "b" || d.Reason != scheduler.ReasonSticky {
				t.Fatalf("next turn: %v %s %v; want sticky on b", d.Account, d.Reason, err)
			}
		})
	}
}

func TestFailoverKeepsBinding(t *testing.T) {
	st, _ := newStore(t)
	pool := account.NewPool([]*account.Account{acct(t, "a", 1), acct(t, "b", 1)})
	s := scheduler.New(pool, st, ttl, scheduler.WithSeed(5))
	first, err := s.Select(context.Background(), scheduler.Request{Session: key("conv")})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Select(context.Background(), scheduler.Request{Session: key("conv"), Exclude: map[string]bool{first.Account.Name: true}})
	if err != nil {
		t.Fatal(err)
	}
	if d.Account.Name == first.Account.Name || d.Reason != scheduler.ReasonFailover {
		t.Fatalf("failover went to %s (%s)", d.Account.Name, d.Reason)
	}
	b, _, _ := st.Lookup(context.Background(), key("conv").Hash, ttl)
	if b.Account != first.Account.Name {
		t.Fatalf("failover overwrote the binding: now %s, was %s", b.Account, first.Account.Name)
	}
}

func TestConcurrentFirstRequestsAgree(t *testing.T) {
	st, _ := newStore(t)
	var accts []*account.Account
	for i := range 8 {
		accts = append(accts, acct(t, fmt.Sprint("acct", i), 1))
	}
	s := scheduler.New(account.NewPool(accts), st, ttl)
	const n = 32
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		chosen  = map[string]int{}
		reasons = map[scheduler.Reason]int{}
		start   = make(chan struct{})
	)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			d, err := s.Select(context.Background(), scheduler.Request{Session: key("race")})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			chosen[d.Account.Name]++
			reasons[d.Reason]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	if len(chosen) != 1 {
		t.Fatalf("concurrent first requests of one session went to %d accounts: %v", len(chosen), chosen)
	}
	if reasons[scheduler.ReasonNew] != 1 {
		t.Fatalf("want exactly one new binding, got reasons %v", reasons)
	}
}

func TestStoreDownServesWithoutStickiness(t *testing.T) {
	st, m := newStore(t)
	s := scheduler.New(account.NewPool([]*account.Account{acct(t, "a", 1)}), st, ttl)
	m.Close()
	d, err := s.Select(context.Background(), scheduler.Request{Session: key("s")})
	if err != nil {
		t.Fatal(err)
	}
	if d.Account.Name != "a" || d.Reason != scheduler.ReasonUnsticky || d.Detail != "store unavailable" {
		t.Fatalf("got %s (%s, %q)", d.Account.Name, d.Reason, d.Detail)
	}
}

// TestAllowKeepsToTheKeysAccounts: a client key kept to some accounts is
// placed on one of them, moves a conversation bound elsewhere to one, and
// gets ErrNotAllowed when none of them serves the model.
func TestAllowKeepsToTheKeysAccounts(t *testing.T) {
	st, _ := newStore(t)
	pool := account.NewPool([]*account.Account{acct(t, "a", 100), acct(t, "b", 1, func(c *config.Account) { c.Models = []string{"gpt-5*"} })})
	s := scheduler.New(pool, st, ttl, scheduler.WithSeed(5))
	onlyB := func(a *account.Account) bool { return a.Name == "b" }
	ctx := context.Background()
	for i := range 5 {
		d, err := s.Select(ctx, scheduler.Request{Session: key(fmt.Sprint("new", i)), Model: "gpt-5", Allow: onlyB})
		if err != nil || d.Account.Name != "b" {
			t.Fatalf("new conversation %d: %v %v; want b, the key's only account", i, d.Account, err)
		}
	}
	conv := key("bound-to-a")
	if d, err := s.Select(ctx, scheduler.Request{Session: conv, Model: "gpt-5", Allow: func(a *account.Account) bool { return a.Name == "a" }}); err != nil || d.Account.Name != "a" {
		t.Fatalf("setup: %v %v", d.Account, err)
	}
	d, err := s.Select(ctx, scheduler.Request{Session: conv, Model: "gpt-5", Allow: onlyB})
	if err != nil || d.Account.Name != "b" || d.Reason != scheduler.ReasonRebound || d.Detail != "bound account a is not one the client key may use" {
		t.Fatalf("bound elsewhere: %v (%s %q) %v; want b rebound", d.Account, d.Reason, d.Detail, err)
	}
	if _, err := s.Select(ctx, scheduler.Request{Session: key("o3"), Model: "o3", Allow: onlyB}); !errors.Is(err, scheduler.ErrNotAllowed) {
		t.Errorf("a model only a serves: err = %v, want ErrNotAllowed", err)
	}
	if _, err := s.Select(ctx, scheduler.Request{Session: key("x"), Model: "o3", Allow: func(*account.Account) bool { return false }, Exclude: map[string]bool{"a": true}}); errors.Is(err, scheduler.ErrNotAllowed) {
		t.Errorf("after a try, ErrNotAllowed: %v", err)
	}
}
