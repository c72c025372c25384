package tui

import (
	"fmt"

	"github.com/charmbracelet/x/ansi"

	"github.com/proxy-dev/proxy/pkg/event"
)

// Totals add up every decision seen since the watch started.
type Totals struct {
	Requests  int
	Errors    int // status >= 400 or none
	Failovers int
	Sticky    int
	Input     int64
	Cached    int64
	Output    int64
	Reasoning int64
}

// Add counts one decision.
func (t Totals) Add(d event.Decision) Totals {
	t.Requests++
	if d.Status == 0 || d.Status >= 400 {
		t.Errors++
	}
	switch d.Reason {
	case "failover":
		t.Failovers++
	case "sticky":
		t.Sticky++
	}
	t.Input += d.Usage.InputTokens
	t.Cached += d.Usage.CachedTokens
	t.Output += d.Usage.OutputTokens
	t.Reasoning += d.Usage.ReasoningTokens
	return t
}

// View renders the totals in width cells, the pool's prompt-cache hit rate
// first: it is the number that shows stickiness working.
func (t Totals) View(dropped uint64, width int, s Styles) string {
	parts := []string{
		s.Title.Render("cache hit " + percent(t.Cached, t.Input)),
		fmt.Sprintf("%d req", t.Requests),
		fmt.Sprintf("%d err", t.Errors),
		fmt.Sprintf("%d sticky", t.Sticky),
		fmt.Sprintf("%d failover", t.Failovers),
		fmt.Sprintf("in %s", count(t.Input)),
		fmt.Sprintf("cached %s", count(t.Cached)),
		fmt.Sprintf("out %s", count(t.Output)),
	}
	if dropped > 0 {
		parts = append(parts, fmt.Sprintf("%d dropped", dropped))
	}
	// Keep whole segments that fit rather than cutting one in half.
	line := ""
	for _, p := range parts {
		next := p
		if line != "" {
			next = line + " · " + p
		}
		if lipWidth(next) > width {
			break
		}
		line = next
	}
	return fit(line, width)
}

func lipWidth(s string) int { return ansi.StringWidth(s) }

// stripStyles removes escape sequences, for cells rendered inside the
// selection.
func stripStyles(s string) string { return ansi.Strip(s) }
