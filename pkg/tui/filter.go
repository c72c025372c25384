package tui

import (
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/proxy-dev/proxy/pkg/event"
)

// Filter narrows the table to decisions whose account or session contains
// the typed text. It is edited in place: no cursor, no blinking, so the
// screen stays the same for the same keys.
type Filter struct {
	Value   string
	Editing bool
}

// Update edits the filter while Editing: text is typed in, backspace
// deletes, enter keeps the filter, esc drops it.
func (f Filter) Update(msg tea.KeyPressMsg) Filter {
	switch msg.String() {
	case "enter":
		f.Editing = false
	case "esc":
		f.Value, f.Editing = "", false
	case "backspace":
		if r := []rune(f.Value); len(r) > 0 {
			f.Value = string(r[:len(r)-1])
		}
	default:
		if msg.Text != "" {
			f.Value += msg.Text
		}
	}
	return f
}

// Match reports whether d passes the filter.
func (f Filter) Match(d event.Decision) bool {
	if f.Value == "" {
		return true
	}
	v := strings.ToLower(f.Value)
	return strings.Contains(strings.ToLower(d.Account), v) || strings.Contains(strings.ToLower(d.Session), v)
}

// View is the filter line of the footer.
func (f Filter) View(s Styles) string {
	switch {
	case f.Editing:
		return s.Title.Render("filter account/session: ") + f.Value + "▏"
	case f.Value != "":
		return s.Title.Render("filter: ") + f.Value + s.Dim.Render(" (/ edit, esc clear)")
	}
	return ""
}
