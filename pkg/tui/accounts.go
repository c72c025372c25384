package tui

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/status"
)

// barWidth is the cells of one rate-limit bar.
const barWidth = 8

// Widths at which the accounts panel shows both rate-limit windows, or one.
const (
	bothBarsWidth = 80
	oneBarWidth   = 64
)

// AccountsPanel shows each account's state with a cooldown countdown, its
// streams in flight, requests today and rate-limit windows.
type AccountsPanel struct{}

// Height is how many lines the panel takes for doc, given at most limit.
func (AccountsPanel) Height(doc *status.Document, limit int) int {
	if doc == nil || len(doc.Accounts) == 0 {
		return 1
	}
	return min(len(doc.Accounts), max(limit, 1))
}

// View renders the panel in width cells and at most height lines.
func (p AccountsPanel) View(doc *status.Document, now time.Time, width, height int, s Styles) string {
	if doc == nil {
		return s.Dim.Render(fit("accounts: waiting for /_proxy/status…", width))
	}
	if len(doc.Accounts) == 0 {
		return s.Dim.Render(fit("accounts: none configured", width))
	}
	nameW := 14
	if width < 50 {
		nameW = 10
	}
	lines := make([]string, 0, height)
	for i, a := range doc.Accounts {
		if i == height-1 && len(doc.Accounts) > height {
			lines = append(lines, s.Dim.Render(fit(fmt.Sprintf("  … %d more accounts", len(doc.Accounts)-i), width)))
			break
		}
		mark, state := accountState(a, now, s)
		line := mark + " " + fit(a.Name, nameW) + " " + fit(state, 15) + " " +
			fitRight(fmt.Sprintf("in %d", a.InFlight), 5) + " " + fitRight(fmt.Sprintf("%d req", a.Today.Requests), 7)
		if a.Limits != nil && width >= oneBarWidth {
			line += " " + bar(a.Limits.Primary, s)
			if width >= bothBarsWidth {
				line += " " + bar(a.Limits.Secondary, s)
			}
		}
		lines = append(lines, fit(line, width))
	}
	return strings.Join(lines, "\n")
}

// accountState is the account's marker and state in words, with the time
// left for a cooldown.
func accountState(a status.Account, now time.Time, s Styles) (string, string) {
	switch a.State {
	case status.StateHealthy:
		return s.Healthy.Render("●"), s.Healthy.Render("healthy")
	case status.StateCoolingDown:
		txt := "cooling"
		if a.Until != nil {
			txt += " " + countdown(a.Until.Sub(now))
		}
		return s.Cooling.Render("◐"), s.Cooling.Render(txt)
	case status.StateInvalid:
		return s.Invalid.Render("✗"), s.Invalid.Render("invalid")
	case status.StateDisabled:
		return s.Dim.Render("○"), s.Dim.Render("disabled")
	}
	return "?", a.State
}

// bar draws one rate-limit window: its length, how full, the percentage.
func bar(w *health.Window, s Styles) string {
	if w == nil {
		return fit("", 2+1+barWidth+5)
	}
	used := math.Max(0, math.Min(100, w.UsedPercent))
	full := int(math.Round(used / 100 * barWidth))
	return fitRight(window(w.WindowMinutes), 2) + " " +
		s.BarFull.Render(strings.Repeat("█", full)) + s.BarEmpty.Render(strings.Repeat("░", barWidth-full)) +
		" " + fitRight(fmt.Sprintf("%.0f%%", used), 4)
}
