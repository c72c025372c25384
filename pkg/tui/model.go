// Package tui is the `proxy watch` screen: a live table of routing
// decisions, the accounts with their cooldowns and rate-limit windows, and
// totals with the pool's prompt-cache hit rate. The Model is pure: it
// changes only on messages (decisions, status documents, connection
// changes, clock ticks, keys), so tests drive it without a terminal; the
// network side lives in feed.go.
package tui

import (
	"fmt"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/status"
)

// DefaultMaxRows is how many decisions the screen keeps for scrolling.
const DefaultMaxRows = 1000

// tickEvery moves the clock for countdowns.
const tickEvery = time.Second

// Options configures a Model.
type Options struct {
	// Addr is the server watched, shown in the title.
	Addr string
	// Now is the clock at start; ticks move it after. time.Now when nil.
	Now func() time.Time
	// MaxRows bounds the decisions kept; DefaultMaxRows when 0.
	MaxRows int
	// Width and Height are the screen size until the terminal reports one.
	Width, Height int
}

// Model is the watch screen.
type Model struct {
	keys    KeyMap
	styles  Styles
	help    help.Model
	addr    string
	maxRows int
	tick    func() tea.Cmd

	now           time.Time
	width, height int

	decisions []event.Decision // newest first, the ones shown
	pending   []event.Decision // newest first, arrived while paused
	seen      map[string]bool  // request ids kept, so a reconnect's backlog adds no repeats
	totals    Totals

	status    *status.Document
	statusErr string
	usage     UsageMsg
	conn      ConnMsg
	retryAt   time.Time // when the feed tries again, while reconnecting

	table     Table
	filter    Filter
	paused    bool
	detail    bool
	showUsage bool
	showHelp  bool
}

// New returns the screen with no data yet.
func New(o Options) Model {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxRows <= 0 {
		o.MaxRows = DefaultMaxRows
	}
	if o.Width <= 0 {
		o.Width = 80
	}
	if o.Height <= 0 {
		o.Height = 24
	}
	h := help.New()
	s := DefaultStyles()
	h.Styles = s.Help
	return Model{
		keys: DefaultKeyMap(), styles: s, help: h, addr: o.Addr, maxRows: o.MaxRows,
		tick: func() tea.Cmd {
			return tea.Tick(tickEvery, func(t time.Time) tea.Msg { return TickMsg(t) })
		},
		now: o.Now(), width: o.Width, height: o.Height,
		seen: map[string]bool{},
	}
}

// Init starts the clock.
func (m Model) Init() tea.Cmd { return m.tick() }

// Update applies one message.
func (m Model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case TickMsg:
		m.now = time.Time(msg)
		return m, m.tick()
	case DecisionMsg:
		m = m.addDecision(event.Decision(msg))
	case StatusMsg:
		if msg.Err != nil {
			m.statusErr = msg.Err.Error()
		} else {
			m.status, m.statusErr = msg.Doc, ""
		}
	case UsageMsg:
		if msg.Err != nil && m.usage.Lines != nil {
			// Keep the last good figures, and say why they are old.
			m.usage.Err = msg.Err
		} else {
			m.usage = msg
		}
	case ConnMsg:
		// The feed's clock may be ahead of the last tick: the countdown
		// starts from the later of the two.
		if msg.At.After(m.now) {
			m.now = msg.At
		}
		m.conn, m.retryAt = msg, m.now.Add(msg.Retry)
	case tea.KeyPressMsg:
		return m.key(msg)
	}
	return m, nil
}

// addDecision puts d on top (or aside while paused) and counts it. A
// selection below the top stays on the same decision as rows arrive. It
// keeps d cut (event.Decision.Bounded), whatever proxy sent it: the rows
// kept stay small, and an escape sequence in a model or an error shows as
// text instead of acting on the terminal.
func (m Model) addDecision(d event.Decision) Model {
	d = d.Bounded()
	if d.RequestID != "" {
		if m.seen[d.RequestID] {
			return m
		}
		m.seen = cloneSeen(m.seen)
		m.seen[d.RequestID] = true
	}
	m.totals = m.totals.Add(d)
	if m.paused {
		m.pending = prepend(m.pending, d, m.maxRows)
		return m
	}
	return m.show(d)
}

func (m Model) show(ds ...event.Decision) Model {
	for i := len(ds) - 1; i >= 0; i-- {
		d := ds[i]
		if m.table.Cursor > 0 && m.filter.Match(d) {
			m.table.Cursor++
			m.table.Offset++
		}
		if len(m.decisions) == m.maxRows {
			delete(m.seen, m.decisions[len(m.decisions)-1].RequestID)
		}
		m.decisions = prepend(m.decisions, d, m.maxRows)
	}
	return m
}

func prepend(list []event.Decision, d event.Decision, limit int) []event.Decision {
	out := make([]event.Decision, 0, min(len(list)+1, limit))
	out = append(out, d)
	return append(out, list[:min(len(list), limit-1)]...)
}

func cloneSeen(s map[string]bool) map[string]bool {
	out := make(map[string]bool, len(s)+1)
	for k, v := range s {
		out[k] = v
	}
	return out
}

// key handles a key press in whatever mode the screen is in.
func (m Model) key(msg tea.KeyPressMsg) (tea.Model, tea.Cmd) {
	if m.filter.Editing {
		m.filter = m.filter.Update(msg)
		m.table = Table{}
		return m, nil
	}
	k := m.keys
	switch {
	case key.Matches(msg, k.Quit):
		return m, tea.Quit
	case m.showHelp:
		// Any key leaves help.
		m.showHelp = false
	case key.Matches(msg, k.Help):
		m.showHelp = true
	case m.showUsage && (key.Matches(msg, k.Back) || key.Matches(msg, k.Usage)):
		m.showUsage = false
	case key.Matches(msg, k.Usage) && !m.detail:
		m.showUsage = true
	case m.detail && (key.Matches(msg, k.Back) || key.Matches(msg, k.Detail)):
		m.detail = false
	case m.detail:
	case key.Matches(msg, k.Detail):
		m.detail = len(m.visible()) > 0
	case key.Matches(msg, k.Back):
		m.filter, m.table = Filter{}, Table{}
	case key.Matches(msg, k.Pause):
		m.paused = !m.paused
		if !m.paused {
			m = m.show(m.pending...)
			m.pending = nil
		}
	case key.Matches(msg, k.Filter):
		m.filter.Editing = true
	default:
		m.table = m.table.Update(msg, k, len(m.visible()), m.tableHeight())
	}
	return m, nil
}

// visible is the decisions that pass the filter, newest first.
func (m Model) visible() []event.Decision {
	if m.filter.Value == "" {
		return m.decisions
	}
	out := make([]event.Decision, 0, len(m.decisions))
	for _, d := range m.decisions {
		if m.filter.Match(d) {
			out = append(out, d)
		}
	}
	return out
}

// Selected returns the decision under the cursor.
func (m Model) Selected() (event.Decision, bool) {
	rows := m.visible()
	t := m.table.clamp(len(rows), m.tableHeight())
	if len(rows) == 0 {
		return event.Decision{}, false
	}
	return rows[t.Cursor], true
}

// Lines around the table: title, a rule under the accounts, the totals
// and the key line.
const chromeLines = 4

// accountsHeight is how many lines the accounts panel gets: all accounts
// while at least 5 rows of the table still show.
func (m Model) accountsHeight() int {
	return AccountsPanel{}.Height(m.status, m.height-chromeLines-1-5)
}

// tableHeight is the number of rows the table shows.
func (m Model) tableHeight() int {
	return max(1, m.height-chromeLines-m.accountsHeight()-1)
}

// View renders the screen.
func (m Model) View() tea.View {
	v := tea.NewView(m.render())
	v.AltScreen = true
	v.WindowTitle = "proxy watch"
	return v
}

// render is the screen as text, exactly width by height cells.
func (m Model) render() string {
	s, w := m.styles, m.width
	if m.showHelp {
		m.help.SetWidth(w)
		body := s.Title.Render("proxy watch: keys") + "\n\n" + m.help.FullHelpView(m.keys.FullHelp()) +
			"\n\n" + s.Dim.Render("Rows are routing decisions, newest first. HIT% is cached/input tokens;\nthe footer's cache hit is the pool's, since the watch started.\n\nany key: back")
		return frame(body, w, m.height)
	}
	parts := []string{m.titleLine()}
	parts = append(parts, AccountsPanel{}.View(m.status, m.now, w, m.accountsHeight(), s))
	parts = append(parts, s.Dim.Render(strings.Repeat("─", w)))
	if m.showUsage {
		parts = append(parts, UsageView{}.View(m.usage, m.now, w, m.tableHeight()+1, s))
	} else if sel, ok := m.Selected(); ok && m.detail {
		parts = append(parts, DetailView{}.View(sel, w, m.tableHeight()+1, s))
	} else {
		parts = append(parts, m.table.View(m.visible(), w, m.tableHeight(), s))
	}
	var dropped uint64
	if m.status != nil {
		dropped = m.status.EventsDropped
	}
	footer := m.totals.View(dropped, w, s)
	if m.conn.State == Reconnecting && m.conn.Err != "" {
		// Why the screen is stale matters more than its totals.
		footer = fit(s.ServerErr.Render("✗ "+m.conn.Err), w)
	}
	parts = append(parts, footer, m.keyLine())
	return frame(strings.Join(parts, "\n"), w, m.height)
}

// titleLine names the server and the stream's state.
func (m Model) titleLine() string {
	s := m.styles
	var conn string
	switch m.conn.State {
	case Live:
		conn = s.Healthy.Render("● live")
	case Reconnecting:
		conn = s.Banner.Render(" reconnecting ")
		if left := m.retryAt.Sub(m.now); left > 0 {
			conn += s.Dim.Render(" in " + countdown(left))
		} else if m.conn.Retry > 0 {
			conn += s.Dim.Render(" now")
		}
	default:
		conn = s.Dim.Render("○ connecting")
	}
	left := s.Title.Render("proxy watch") + " " + conn + "  " + m.addr
	var right string
	if m.status != nil {
		right = fmt.Sprintf("%s · up %s · %d sessions", m.status.Version, countdown(time.Duration(m.status.UptimeSeconds)*time.Second), m.status.Sessions)
	}
	if m.statusErr != "" && m.conn.State == Live {
		right = s.ClientErr.Render("status: " + m.statusErr)
	}
	gap := m.width - lipWidth(left) - lipWidth(right)
	if right == "" || gap < 1 {
		return fit(left, m.width)
	}
	return left + strings.Repeat(" ", gap) + s.Dim.Render(right)
}

// keyLine is the last line: the filter being typed, else pause state and
// the key summary.
func (m Model) keyLine() string {
	s := m.styles
	if f := m.filter.View(s); m.filter.Editing {
		return fit(f, m.width)
	}
	var left []string
	if m.paused {
		left = append(left, s.Banner.Render(fmt.Sprintf(" PAUSED +%d ", len(m.pending))))
	}
	if f := m.filter.View(s); f != "" {
		left = append(left, f)
	}
	m.help.SetWidth(max(0, m.width-lipWidth(strings.Join(left, " "))-1))
	left = append(left, m.help.ShortHelpView(m.keys.ShortHelp()))
	return fit(strings.Join(left, " "), m.width)
}

// frame pads or cuts body to exactly height lines of width cells, so the
// screen never scrolls and the snapshots are stable.
func frame(body string, width, height int) string {
	lines := strings.Split(body, "\n")
	if len(lines) > height {
		lines = lines[:height]
	}
	for len(lines) < height {
		lines = append(lines, "")
	}
	for i, l := range lines {
		lines[i] = fit(l, width)
	}
	return strings.Join(lines, "\n")
}
