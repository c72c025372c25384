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
