package tui

import (
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/proxy-dev/proxy/pkg/event"
)

func TestUpdate(t *testing.T) {
	tests := []struct {
		name  string
		msgs  []tea.Msg
		check func(t *testing.T, m Model)
	}{
		{"decisions newest first", traffic(), func(t *testing.T, m Model) {
			if got := ids(m.decisions); got != "req-5 req-4 req-3 req-2 req-1" {
				t.Errorf("rows %s", got)
			}
		}},
		{"a reconnect's backlog adds no repeats", append(traffic(), traffic()...), func(t *testing.T, m Model) {
			if len(m.decisions) != 5 || m.totals.Requests != 5 {
				t.Errorf("%d rows, %d counted; want 5 and 5", len(m.decisions), m.totals.Requests)
			}
		}},
		{"totals and pool cache hit", traffic(), func(t *testing.T, m Model) {
			want := Totals{Requests: 5, Errors: 1, Failovers: 1, Sticky: 2, Input: 66700, Cached: 26100, Output: 1680, Reasoning: 419}
			if m.totals != want {
				t.Errorf("totals %+v, want %+v", m.totals, want)
			}
		}},
		{"pause holds new rows aside and counts them", append([]tea.Msg{press("p")}, traffic()...), func(t *testing.T, m Model) {
			if !m.paused || len(m.decisions) != 0 || len(m.pending) != 5 || m.totals.Requests != 5 {
				t.Errorf("paused %v, %d shown, %d pending, %d counted", m.paused, len(m.decisions), len(m.pending), m.totals.Requests)
			}
		}},
		{"unpause shows what arrived, in order", append(append([]tea.Msg{press("p")}, traffic()...), press("p")), func(t *testing.T, m Model) {
			if got := ids(m.decisions); m.paused || got != "req-5 req-4 req-3 req-2 req-1" || m.pending != nil {
				t.Errorf("paused %v, rows %s, pending %d", m.paused, got, len(m.pending))
			}
		}},
		{"cursor moves and stops at the ends", append(traffic(), press("down"), press("down"), press("up"), press("up"), press("up")), func(t *testing.T, m Model) {
			if m.table.Cursor != 0 {
				t.Errorf("cursor %d, want 0", m.table.Cursor)
			}
		}},
		{"G goes to the oldest", append(traffic(), press("G")), func(t *testing.T, m Model) {
			if d, _ := m.Selected(); d.RequestID != "req-1" {
				t.Errorf("selected %s", d.RequestID)
			}
		}},
		{"a selection below the top stays on its decision", append(traffic()[:3], press("down"), traffic()[3], traffic()[4]), func(t *testing.T, m Model) {
			if d, _ := m.Selected(); d.RequestID != "req-2" {
				t.Errorf("selected %s, want req-2", d.RequestID)
			}
		}},
		{"a selection at the top follows new rows", append(traffic()[:3], traffic()[3]), func(t *testing.T, m Model) {
			if d, _ := m.Selected(); d.RequestID != "req-4" {
				t.Errorf("selected %s, want req-4", d.RequestID)
			}
		}},
		{"filter by account", append(append(append(traffic(), press("/")), typed("chatgpt")...), press("enter")), func(t *testing.T, m Model) {
			if got := ids(m.visible()); m.filter.Editing || got != "req-4 req-3 req-2 req-1" {
				t.Errorf("editing %v, visible %s", m.filter.Editing, got)
			}
		}},
		{"filter by session with backspace", append(append(append(traffic(), press("/")), typed("5e2x")...), press("backspace")), func(t *testing.T, m Model) {
			if m.filter.Value != "5e2" || len(m.visible()) != 4 {
				t.Errorf("filter %q, %d visible", m.filter.Value, len(m.visible()))
			}
		}},
		{"q while filtering is text, not quit", append(traffic(), press("/"), press("q")), func(t *testing.T, m Model) {
			if m.filter.Value != "q" {
				t.Errorf("filter %q", m.filter.Value)
			}
		}},
		{"esc drops the filter", append(append(traffic(), press("/")), append(typed("coord"), press("enter"), press("esc"))...), func(t *testing.T, m Model) {
			if m.filter != (Filter{}) || len(m.visible()) != 5 {
				t.Errorf("filter %+v, %d visible", m.filter, len(m.visible()))
			}
		}},
		{"enter opens the selected decision, esc closes it", append(traffic(), press("down"), press("enter")), func(t *testing.T, m Model) {
			if d, _ := m.Selected(); !m.detail || d.RequestID != "req-4" {
				t.Errorf("detail %v on %s", m.detail, d.RequestID)
			}
			m = apply(t, m, press("esc"))
			if m.detail {
				t.Error("esc left the detail open")
			}
		}},
		{"enter on an empty table opens nothing", []tea.Msg{press("enter")}, func(t *testing.T, m Model) {
			if m.detail {
				t.Error("detail opened with no rows")
			}
		}},
		{"? toggles help, any key leaves it", []tea.Msg{press("?")}, func(t *testing.T, m Model) {
			if !m.showHelp {
				t.Fatal("no help")
			}
			if m = apply(t, m, press("j")); m.showHelp {
				t.Error("help stayed")
			}
		}},
		{"ticks move the clock", []tea.Msg{TickMsg(t0.Add(time.Minute))}, func(t *testing.T, m Model) {
			if !m.now.Equal(t0.Add(time.Minute)) {
				t.Errorf("now %v", m.now)
			}
		}},
		{"a failed status poll keeps the last document", []tea.Msg{statusDoc(), StatusMsg{Err: errString("refused")}}, func(t *testing.T, m Model) {
			if m.status == nil || m.statusErr != "refused" {
				t.Errorf("status %v, err %q", m.status != nil, m.statusErr)
			}
		}},
		{"window size", []tea.Msg{tea.WindowSizeMsg{Width: 100, Height: 40}}, func(t *testing.T, m Model) {
			if m.width != 100 || m.height != 40 {
				t.Errorf("size %dx%d", m.width, m.height)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.check(t, apply(t, newModel(80, 24), tt.msgs...))
		})
	}
}

func TestUpdateCommands(t *testing.T) {
	tests := []struct {
		name     string
		msg      tea.Msg
		wantQuit bool
		wantCmd  bool
	}{
		{"q quits", press("q"), true, true},
		{"ctrl+c quits", press("ctrl+c"), true, true},
		{"a tick asks for the next", TickMsg(t0), false, true},
		{"a decision needs nothing", traffic()[0], false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newModel(80, 24)
			// No real timer in a test: the tick command is inspected, not run.
			m.tick = func() tea.Cmd { return func() tea.Msg { return TickMsg(t0) } }
			_, cmd := m.Update(tt.msg)
			if (cmd != nil) != tt.wantCmd {
				t.Fatalf("cmd %v, want one: %v", cmd != nil, tt.wantCmd)
			}
			if cmd == nil {
				return
			}
			_, quit := cmd().(tea.QuitMsg)
			if quit != tt.wantQuit {
				t.Errorf("quit %v, want %v", quit, tt.wantQuit)
			}
		})
	}
}

func TestUpdateDoesNotChangeItsInput(t *testing.T) {
	m := apply(t, newModel(80, 24), traffic()[:2]...)
	before := ids(m.decisions)
	_ = apply(t, m, traffic()[2:]...)
	if got := ids(m.decisions); got != before {
		t.Errorf("the old model changed: %s, was %s", got, before)
	}
	if len(m.seen) != 2 {
		t.Errorf("the old model's seen set grew to %d", len(m.seen))
	}
}

type errString string

func (e errString) Error() string { return string(e) }

func ids(ds []event.Decision) string {
	s := ""
	for i, d := range ds {
		if i > 0 {
			s += " "
		}
		s += d.RequestID
	}
	return s
}
