package pool_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/pool"
	"github.com/proxy-dev/proxy/pkg/scheduler"
	"github.com/proxy-dev/proxy/pkg/session"
	"github.com/proxy-dev/proxy/pkg/store"
)

// newPool builds a pool the way serve does, on a miniredis.
func newPool(t *testing.T, maxConcurrency int) (*pool.Pool, *store.Store, *account.Account) {
	t.Helper()
	mr := miniredis.RunT(t)
	st := store.New(redis.NewClient(&redis.Options{Addr: mr.Addr()}), store.Options{KeyPrefix: "proxy:"})
	t.Cleanup(func() { _ = st.Close() })
	a, err := account.New(config.Account{Name: "a", Type: config.TypeOpenAI, BaseURL: "http://127.0.0.1:1", APIKey: "sk-pool-test-0123456789abcdef", Weight: 1, Enabled: true, MaxConcurrency: maxConcurrency})
	if err != nil {
		t.Fatal(err)
	}
	accounts := account.NewPool([]*account.Account{a})
	tracker := health.New(st)
	sched := scheduler.New(accounts, st, time.Hour, scheduler.WithAvailability(tracker))
	p := pool.New(context.Background(), accounts, pool.Options{Scheduler: sched, Health: tracker, Usage: st})
	t.Cleanup(p.Close)
	return p, st, a
}

func TestLeaseOutlivesTheRequest(t *testing.T) {
	p, st, _ := newPool(t, 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel() // the client is already gone
	key := session.Key{Hash: "conv-gone", Source: session.SourceHeader}
	l, err := p.Lease(ctx, scheduler.Request{Session: key}, 0)
	if err != nil {
		t.Fatalf("Lease with a cancelled request: %v", err)
	}
	l.Release()
	l.Release() // twice is harmless
	b, found, err := st.Lookup(context.Background(), "conv-gone", time.Hour)
	if err != nil || !found || b.Account != "a" {
		t.Fatalf("the binding of a request whose client left was not written: %+v %v %v", b, found, err)
	}
}

func TestLeaseBusy(t *testing.T) {
	p, _, a := newPool(t, 1)
	first, err := p.Lease(context.Background(), scheduler.Request{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	second, err := p.Lease(context.Background(), scheduler.Request{}, 0)
	if !errors.Is(err, pool.ErrBusy) || second.Decision.Account != a {
		t.Fatalf("second lease: %v, decision %+v; want ErrBusy naming a", err, second.Decision)
	}
	first.Release()
	third, err := p.Lease(context.Background(), scheduler.Request{}, 0)
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	third.Release()
}

func TestReportAndCloseWriteOnThePoolsLifetime(t *testing.T) {
	p, st, a := newPool(t, 0)
	p.Report(a, nil, health.Outcome{Class: health.Quota, Until: time.Now().Add(time.Hour), Code: "usage_limit_reached"})
	cds, err := st.Cooldowns(context.Background())
	if err != nil || cds["a"].Reason != "quota" {
		t.Fatalf("cooldown not in the store: %+v %v", cds, err)
	}
	p.AddUsage(store.LedgerKey{Client: "ci", Account: "a", Model: "gpt-5"}, store.Usage{Requests: 1, InputTokens: 10})
	p.Close()                                                           // writes what is queued
	p.AddUsage(store.LedgerKey{Account: "a"}, store.Usage{Requests: 1}) // after Close: counted as lost, no panic
	u, err := st.UsageToday(context.Background(), "a")
	if err != nil || u.Requests != 1 || u.InputTokens != 10 {
		t.Fatalf("usage after Close = %+v, %v; want the one queued request", u, err)
	}
	lines, err := st.Ledger(context.Background(), time.Now())
	if err != nil || len(lines) != 1 || lines[0].LedgerKey != (store.LedgerKey{Client: "ci", Account: "a", Model: "gpt-5"}) || lines[0].InputTokens != 10 {
		t.Fatalf("ledger after Close = %+v, %v; want the one queued request's line", lines, err)
	}
}

// flatPrice prices gpt-5 at $1 per million input and $10 per million
// output tokens, and nothing else.
type flatPrice struct{}

func (flatPrice) Cost(model string, u store.Usage) (float64, bool) {
	if model != "gpt-5" {
		return 0, false
	}
	return (float64(u.InputTokens) + 10*float64(u.OutputTokens)) / 1e6, true
}

// TestSpendingIsWrittenForLimits: each client key's tokens and priced
// cost reach the store its limits read; an unpriced model adds tokens but
// no cost, and requests with no client key add nothing.
func TestSpendingIsWrittenForLimits(t *testing.T) {
	mr := miniredis.RunT(t)
	st := store.New(redis.NewClient(&redis.Options{Addr: mr.Addr()}), store.Options{KeyPrefix: "proxy:"})
	t.Cleanup(func() { _ = st.Close() })
	p := pool.New(context.Background(), account.NewPool(nil), pool.Options{Usage: st, Prices: flatPrice{}})
	p.AddUsage(store.LedgerKey{Client: "ci", Account: "a", Model: "gpt-5"}, store.Usage{Requests: 1, InputTokens: 1000, OutputTokens: 100})
	p.AddUsage(store.LedgerKey{Client: "ci", Account: "b", Model: "gpt-5"}, store.Usage{Requests: 1, InputTokens: 500})
	p.AddUsage(store.LedgerKey{Client: "ci", Account: "a", Model: "unpriced"}, store.Usage{Requests: 1, InputTokens: 7, OutputTokens: 3})
	p.AddUsage(store.LedgerKey{Account: "a", Model: "gpt-5"}, store.Usage{Requests: 1, InputTokens: 99})
	p.Close()
	got, err := st.Spending(context.Background(), "ci")
	if err != nil {
		t.Fatal(err)
	}
	// 1000+100+500+7+3 tokens; (1000 + 1000 + 500) / 1e6 dollars.
	if want := (store.Spent{TokensToday: 1610, TokensThisWeek: 1610, MicroUSDThisMonth: 2500}); got != want {
		t.Errorf("spending = %+v, want %+v", got, want)
	}
	if none, _ := st.Spending(context.Background(), ""); none != (store.Spent{}) {
		t.Errorf("requests with no client key were counted: %+v", none)
	}
}
