package relay

import (
	"testing"
	"time"
)

// TestBudgetTrimsAfterABurst: once TrimAfter bytes of bodies have come and
// gone and none has been held for trimDelay, the process's free memory
// goes back to the system, once; not while bodies keep coming, not while
// one is held, and not after small bodies.
func TestBudgetTrimsAfterABurst(t *testing.T) {
	b := NewBudget(1 << 30)
	clock := time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)
	var scheduled []func()
	trims := 0
	b.now = func() time.Time { return clock }
	b.schedule = func(f func()) { scheduled = append(scheduled, f) }
	b.trim = func() { trims++ }
	// fire lets trimDelay pass and runs what was scheduled.
	fire := func() {
		clock = clock.Add(trimDelay)
		fs := scheduled
		scheduled = nil
		for _, f := range fs {
			f()
		}
	}

	for range 10 {
		b.take(1 << 20)
		b.give(1 << 20)
	}
	if len(scheduled) != 0 {
		t.Fatal("a trim was scheduled after 10 MiB of bodies")
	}

	// A burst of large bodies, then quiet: one trim.
	for range 8 {
		b.take(8 << 20)
	}
	for range 8 {
		b.give(8 << 20)
	}
	if len(scheduled) != 1 {
		t.Fatalf("%d trims scheduled after a 64 MiB burst, want 1", len(scheduled))
	}
	fire()
	if trims != 1 || len(scheduled) != 0 {
		t.Fatalf("%d trims (%d still scheduled), want 1", trims, len(scheduled))
	}

	// Bodies come and go one after another: each give leaves none held,
	// but the proxy is not idle. The trim waits for quiet.
	b.take(TrimAfter)
	b.give(TrimAfter)
	clock = clock.Add(trimDelay - time.Millisecond)
	b.take(1 << 20)
	b.give(1 << 20)
	fs := scheduled
	scheduled = nil
	for _, f := range fs {
		f() // trimDelay has not passed since the last body
	}
	if trims != 1 || len(scheduled) != 1 {
		t.Fatalf("%d trims, %d scheduled, want the trim to wait once more", trims, len(scheduled))
	}
	fire()
	if trims != 2 {
		t.Fatalf("%d trims once quiet, want 2", trims)
	}

	// A body held when the trim comes: none then, one once it is gone.
	b.take(TrimAfter)
	b.give(TrimAfter)
	b.take(1 << 20)
	fire()
	if trims != 2 {
		t.Fatal("trimmed while a body was held")
	}
	b.give(1 << 20)
	fire()
	if trims != 3 {
		t.Fatalf("%d trims after the held body went, want 3", trims)
	}
}
