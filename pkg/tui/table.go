package tui

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/proxy-dev/proxy/pkg/event"
)

// column is one column of the decisions table. Columns are dropped in
// order of priority as the terminal narrows; flexible ones take the room
// left over up to their max.
type column struct {
	title    string
	min, max int
	priority int // 1 is kept longest
	right    bool
	cell     func(d event.Decision, s Styles) string
}

var columns = []column{
	{"TIME", 8, 8, 1, false, func(d event.Decision, _ Styles) string { return d.Time.Local().Format("15:04:05") }},
	{"SESSION", 8, 8, 4, false, func(d event.Decision, _ Styles) string {
		// A hash prefix needs no ellipsis: 8 hex digits tell sessions apart.
		return orDash(d.Session[:min(len(d.Session), 8)])
	}},
	{"SRC", 5, 5, 8, false, func(d event.Decision, _ Styles) string { return shortSource(d.Source) }},
	{"DOOR", 4, 4, optional, false, func(d event.Decision, _ Styles) string { return shortDoor(d) }},
	{"MODEL", 6, 14, 7, false, func(d event.Decision, _ Styles) string { return orDash(d.Model) }},
	{"ACCOUNT", 8, 18, 2, false, func(d event.Decision, _ Styles) string { return orDash(d.Account) }},
	{"REASON", 8, 8, 3, false, reasonCell},
	{"ST", 3, 3, 2, true, statusCell},
	{"TTFB", 5, 5, 5, true, func(d event.Decision, _ Styles) string { return latency(d.TTFB) }},
	{"TOKENS", 8, 8, 6, true, func(d event.Decision, _ Styles) string {
		if d.Usage.InputTokens == 0 && d.Usage.OutputTokens == 0 {
			return "-"
		}
		return count(d.Usage.InputTokens) + "/" + count(d.Usage.OutputTokens)
	}},
	{"HIT%", 4, 4, 5, true, func(d event.Decision, _ Styles) string {
		return percent(d.Usage.CachedTokens, d.Usage.InputTokens)
	}},
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func reasonCell(d event.Decision, s Styles) string {
	switch d.Reason {
	case "failover", "rebound":
		return s.Failover.Render(d.Reason)
	case "sticky":
		return s.Sticky.Render(d.Reason)
	}
	return orDash(d.Reason)
}

func statusCell(d event.Decision, s Styles) string {
	txt := fmt.Sprint(d.Status)
	switch {
	case d.Status == 0:
		return s.ServerErr.Render("-")
	case d.Status >= 500 || d.Status == 499:
		return s.ServerErr.Render(txt)
	case d.Status >= 400:
		return s.ClientErr.Render(txt)
	}
	return s.OK.Render(txt)
}

// optional is the priority of a column shown only when the flexible
// columns have their usual length beside it.
const optional = 9

// usualName is the width the flexible columns (MODEL, ACCOUNT) get before
// an optional column is shown.
const usualName = 12

// layout picks the columns that fit in width and their widths.
func layout(width int) ([]column, []int) {
	keep := map[int]bool{}
	used := -1 // no gap before the first column
	for p := 1; p <= 8; p++ {
		for i, c := range columns {
			if c.priority == p && used+1+c.min <= width {
				keep[i] = true
				used += 1 + c.min
			}
		}
	}
	need := 0
	for i, c := range columns {
		if keep[i] && (c.title == "ACCOUNT" || c.title == "MODEL") {
			need += max(usualName-c.min, 0)
		}
	}
	for i, c := range columns {
		if c.priority == optional && used+1+c.min+need <= width {
			keep[i] = true
			used += 1 + c.min
		}
	}
	var cols []column
	var widths []int
	for i, c := range columns {
		if keep[i] {
			cols = append(cols, c)
			widths = append(widths, c.min)
		}
	}
	// Hand the room left over to the flexible columns: both to a usual
	// name's length first, then to their max.
	spare := width - used
	for _, grow := range []struct {
		title string
		upTo  int
	}{{"ACCOUNT", usualName}, {"MODEL", usualName}, {"ACCOUNT", 0}, {"MODEL", 0}} {
		for i, c := range cols {
			limit := grow.upTo
			if limit == 0 {
				limit = c.max
			}
			if c.title == grow.title && spare > 0 && widths[i] < limit {
				add := min(spare, limit-widths[i])
				widths[i] += add
				spare -= add
			}
		}
	}
	return cols, widths
}

// Table is the scrollable list of decisions, newest first. It owns the
// cursor and the scroll offset; the rows come from the page.
type Table struct {
	Cursor int // index of the selected row
	Offset int // index of the first row shown
}

// Update moves the cursor for the navigation keys among n rows, of which
// height are shown.
func (t Table) Update(msg tea.KeyPressMsg, keys KeyMap, n, height int) Table {
	page := max(height, 1)
	switch {
	case key.Matches(msg, keys.Up):
		t.Cursor--
	case key.Matches(msg, keys.Down):
		t.Cursor++
	case key.Matches(msg, keys.PageUp):
		t.Cursor -= page
	case key.Matches(msg, keys.PageDown):
		t.Cursor += page
	case key.Matches(msg, keys.Top):
		t.Cursor = 0
	case key.Matches(msg, keys.Bottom):
		t.Cursor = n - 1
	}
	return t.clamp(n, height)
}

// clamp keeps the cursor on a row and in view.
func (t Table) clamp(n, height int) Table {
	t.Cursor = max(0, min(t.Cursor, n-1))
	height = max(height, 1)
	if t.Cursor < t.Offset {
		t.Offset = t.Cursor
	}
	if t.Cursor >= t.Offset+height {
		t.Offset = t.Cursor - height + 1
	}
	t.Offset = max(0, min(t.Offset, n-height))
	return t
}

// View renders the header and up to height rows in width cells.
func (t Table) View(rows []event.Decision, width, height int, s Styles) string {
	cols, widths := layout(width)
	var b strings.Builder
	head := make([]string, len(cols))
	for i, c := range cols {
		if c.right {
			head[i] = fitRight(c.title, widths[i])
		} else {
			head[i] = fit(c.title, widths[i])
		}
	}
	b.WriteString(s.Header.Render(fit(strings.Join(head, " "), width)))
	t = t.clamp(len(rows), height)
	shown := 0
	for i := t.Offset; i < len(rows) && shown < height; i++ {
		cells := make([]string, len(cols))
		for j, c := range cols {
			v := c.cell(rows[i], s)
			if i == t.Cursor {
				// The selection's reverse video must not be broken by a
				// cell's own colour reset.
				v = stripStyles(v)
			}
			if c.right {
				cells[j] = fitRight(v, widths[j])
			} else {
				cells[j] = fit(v, widths[j])
			}
		}
		line := fit(strings.Join(cells, " "), width)
		if i == t.Cursor {
			line = s.Selected.Render(line)
		}
		b.WriteString("\n" + line)
		shown++
	}
	if len(rows) == 0 {
		b.WriteString("\n" + s.Dim.Render(fit("waiting for requests…", width)))
		shown++
	}
	for ; shown < height; shown++ {
		b.WriteString("\n")
	}
	return b.String()
}
