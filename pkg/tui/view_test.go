package tui

import (
	"errors"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"
)

func TestViewSnapshots(t *testing.T) {
	base := append([]tea.Msg{statusDoc(), ConnMsg{State: Live}}, traffic()...)
	tests := []struct {
		name string
		w, h int
		msgs []tea.Msg
	}{
		{"empty", 80, 24, nil},
		{"live-80x24", 80, 24, base},
		{"narrow-60x24", 60, 24, base},
		{"narrow-40x16", 40, 16, base},
		{"wide-120x30", 120, 30, base},
		{"countdown-after-90s", 80, 24, append(base, TickMsg(t0.Add(90*time.Second)))},
		{"selected-row", 80, 24, append(base, press("down"), press("down"))},
		{"detail", 80, 24, append(base, press("down"), press("enter"))},
		// A decision from a proxy that does not cut its records: a 64 KiB
		// model that sets the terminal's title, an error that clears it.
		{"detail-hostile", 120, 24, append(base, hostile(), press("enter"))},
		{"detail-chat", 100, 24, append(base, chatDecision(), press("enter"))},
		// The planner's choice: its reason in the row, the windows it
		// weighed in the detail.
		{"planner-row-wide", 120, 30, append(base, plannerDecision())},
		{"detail-planner", 100, 24, append(base, plannerDecision(), press("enter"))},
		{"chat-row-wide", 120, 30, append(base, chatDecision())},
		{"paused", 80, 24, append([]tea.Msg{statusDoc(), ConnMsg{State: Live}, press("p")}, traffic()...)},
		{"filter-editing", 80, 24, append(append(base, press("/")), typed("coord")...)},
		{"filter-applied", 80, 24, append(append(append(base, press("/")), typed("5e2a")...), press("enter"))},
		{"help", 80, 24, append(base, press("?"))},
		{"usage", 80, 24, append(base, usageWeek(), press("u"))},
		{"usage-wide-120x30", 120, 30, append(base, usageWeek(), press("u"))},
		{"usage-waiting", 80, 24, append(base, press("u"))},
		{"usage-refused", 80, 24, append(base, UsageMsg{Err: errors.New("403 admin_only")}, press("u"))},
		{"reconnecting", 80, 24, append(base, ConnMsg{State: Reconnecting, Err: "connection refused", Retry: 2 * time.Second})},
		// The wait counts down on the clock, and the cause shows.
		{"reconnecting-after-1s", 80, 24, append(base,
			ConnMsg{State: Reconnecting, Err: "connection refused at 127.0.0.1:8787: is `proxy serve` running?", Retry: 4 * time.Second, At: t0},
			TickMsg(t0.Add(time.Second)))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := apply(t, newModel(tt.w, tt.h), tt.msgs...)
			golden(t, tt.name, m)
			if v := m.View().Content; strings.Contains(v, "\x1b]") || strings.Contains(v, "\x1b[2J") {
				t.Errorf("a decision's escape sequence reaches the terminal: %q", v)
			}
			lines := strings.Split(ansi.Strip(m.View().Content), "\n")
			if len(lines) != tt.h {
				t.Errorf("%d lines, want %d", len(lines), tt.h)
			}
			for i, l := range lines {
				if w := ansi.StringWidth(l); w != tt.w {
					t.Errorf("line %d is %d cells, want %d: %q", i, w, tt.w, l)
				}
			}
		})
	}
}
