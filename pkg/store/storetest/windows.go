package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/store"
)

// testWindows: the last windows written for an account replace the ones
// before, whichever Store wrote them, are read back whole in one call, stay
// under their prefix, and expire on their own once nothing writes them.
func testWindows(t *testing.T, e *env) {
	ctx := context.Background()
	s, prefix := e.store()
	other, _ := e.store()
	if got, err := s.Windows(ctx); err != nil || len(got) != 0 {
		t.Fatalf("Windows before any write = %+v, %v; want none", got, err)
	}
	first := store.Limits{Primary: &store.Window{UsedPercent: 40, WindowMinutes: 300, ResetsAt: start.Add(time.Hour)}, Observed: start}
	last := store.Limits{
		Primary:   &store.Window{UsedPercent: 97.5, WindowMinutes: 300, ResetsAt: start.Add(2 * time.Hour)},
		Secondary: &store.Window{UsedPercent: 12, WindowMinutes: 10080},
		Observed:  start.Add(time.Minute),
	}
	for _, w := range []struct {
		account string
		l       store.Limits
	}{{"a", first}, {"a", last}, {"b", first}} {
		if err := s.SetWindows(ctx, w.account, w.l); err != nil {
			t.Fatal(err)
		}
	}
	got, err := s.Windows(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a := got["a"]
	if len(got) != 2 || a.Primary == nil || a.Primary.UsedPercent != 97.5 || !a.Primary.ResetsAt.Equal(last.Primary.ResetsAt) ||
		a.Secondary == nil || a.Secondary.WindowMinutes != 10080 || !a.Secondary.ResetsAt.IsZero() || !a.Observed.Equal(last.Observed) {
		t.Fatalf("Windows = %+v, want a's last write and b", got)
	}
	if got["b"].Secondary != nil || got["b"].Primary.UsedPercent != 40 {
		t.Fatalf("b = %+v, want its own write", got["b"])
	}
	if o, _ := other.Windows(ctx); len(o) != 0 {
		t.Fatalf("a store under another prefix sees windows: %+v", o)
	}
	if d := e.pttl(t, prefix+"windows"); d <= 7*24*time.Hour || d > 9*24*time.Hour {
		t.Fatalf("PTTL of the windows = %v, want a little over a week", d)
	}
	if err := s.SetWindows(ctx, "", last); err == nil {
		t.Fatal("SetWindows with no account succeeded")
	}
}
