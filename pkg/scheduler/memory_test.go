package scheduler

import (
	"fmt"
	"testing"
	"time"
)

// TestMemoryBound: the memory never holds more than its bound, forgets the
// conversations served least recently first, keeps one still in use past
// turnovers, and forgets one idle longer than the binding TTL.
func TestMemoryBound(t *testing.T) {
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		run      func(m *memory)
		session  string
		at       time.Time
		wantAcct string // "" for forgotten
	}{
		{name: "the oldest are forgotten", session: "s0", at: now, run: func(m *memory) {
			for i := range 10 {
				m.note(fmt.Sprint("s", i), "a", now)
			}
		}},
		{name: "the latest half is kept", session: "s9", at: now, wantAcct: "a", run: func(m *memory) {
			for i := range 10 {
				m.note(fmt.Sprint("s", i), "a", now)
			}
		}},
		{name: "one recalled is kept past turnovers", session: "s0", at: now, wantAcct: "b", run: func(m *memory) {
			m.note("s0", "b", now)
			for i := 1; i < 10; i++ {
				m.note(fmt.Sprint("s", i), "a", now)
				m.recall("s0", now, time.Hour)
			}
		}},
		{name: "idle past the TTL", session: "s0", at: now.Add(time.Hour + time.Second), run: func(m *memory) {
			m.note("s0", "a", now)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMemory(4)
			tt.run(m)
			if n := m.len(); n > 4 {
				t.Fatalf("memory holds %d entries, bound 4", n)
			}
			got, _ := m.recall(tt.session, tt.at, time.Hour)
			if got != tt.wantAcct {
				t.Fatalf("recall %s: %q, want %q", tt.session, got, tt.wantAcct)
			}
		})
	}
}
