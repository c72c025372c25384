package scheduler_test

import (
	"context"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/scheduler"
	"github.com/proxy-dev/proxy/pkg/store"
)

// boundTo answers every lookup with a binding to one account, from memory,
// so a benchmark measures the scheduler and not a round trip.
type boundTo string

func (b boundTo) Lookup(_ context.Context, session string, _ time.Duration) (store.Binding, bool, error) {
	return store.Binding{Session: session, Account: string(b)}, true, nil
}
func (b boundTo) Bind(_ context.Context, nb store.Binding, _ time.Duration) (store.Binding, bool, error) {
	return nb, true, nil
}
func (boundTo) Rebind(context.Context, store.Binding, time.Duration) error { return nil }

// BenchmarkSelectSticky is the request path's selection on a sticky hit.
func BenchmarkSelectSticky(b *testing.B) {
	pool := account.NewPool([]*account.Account{acct(b, "a", 1), acct(b, "b", 1), acct(b, "c", 1)})
	s := scheduler.New(pool, boundTo("b"), ttl)
	r := scheduler.Request{Session: key("conv")}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if d, err := s.Select(ctx, r); err != nil || d.Account.Name != "b" {
			b.Fatal(d.Account, err)
		}
	}
}

// unbound answers every lookup with no binding and takes every bind, so
// each selection is a new conversation's.
type unbound struct{}

func (unbound) Lookup(context.Context, string, time.Duration) (store.Binding, bool, error) {
	return store.Binding{}, false, nil
}
func (unbound) Bind(_ context.Context, nb store.Binding, _ time.Duration) (store.Binding, bool, error) {
	return nb, true, nil
}
func (unbound) Rebind(context.Context, store.Binding, time.Duration) error { return nil }

// BenchmarkSelectNew is a new conversation's selection among eight
// accounts whose windows were all observed, per strategy: what steering
// adds to the request path.
func BenchmarkSelectNew(b *testing.B) {
	w := windows{}
	var accts []*account.Account
	for i := range 8 {
		name := string(rune('a' + i))
		accts = append(accts, acct(b, name, 1))
		w[name] = store.Limits{Primary: five(float64(10*i), time.Duration(i+1)*30*time.Minute), Secondary: week(float64(5*i), time.Duration(i+1)*20*time.Hour)}
	}
	for _, st := range []scheduler.Strategy{scheduler.StrategyWeighted, scheduler.StrategyHeadroom, scheduler.StrategyPlanner} {
		b.Run(string(st), func(b *testing.B) {
			s := scheduler.New(account.NewPool(accts), unbound{}, ttl, scheduler.WithClock(func() time.Time { return planNow }),
				scheduler.WithStrategy(st, w, 0))
			ctx := context.Background()
			sessions := make([]scheduler.Request, 1024)
			for i := range sessions {
				sessions[i] = scheduler.Request{Session: key(string(rune(i)) + "conv")}
			}
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := s.Select(ctx, sessions[i%len(sessions)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
}
