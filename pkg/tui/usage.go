package tui

import (
	"strings"
	"time"

	"github.com/proxy-dev/proxy/pkg/usagereport"
)

// UsageView is the usage screen (key u): today's usage per client key,
// and the last seven days as bars split by key, drawn by the same
// package as `proxy usage` so the two agree.
type UsageView struct{}

// View renders u in width cells and height lines, as of now.
func (UsageView) View(u UsageMsg, now time.Time, width, height int, s Styles) string {
	lines := []string{s.Title.Render(fit("usage: today per key, and the last 7 days  (esc or u: back)", width))}
	switch {
	case u.Lines == nil && u.Err != nil:
		lines = append(lines, s.ServerErr.Render(fit("✗ usage unavailable: "+u.Err.Error(), width)))
	case u.Lines == nil:
		lines = append(lines, s.Dim.Render("waiting for /_proxy/usage …"))
	default:
		today := now.UTC().Format(time.DateOnly)
		var todays []usagereport.Line
		for _, l := range u.Lines {
			if l.Day == today {
				todays = append(todays, l)
			}
		}
		var b strings.Builder
		if len(todays) == 0 {
			b.WriteString("nothing served today (UTC)\n")
		} else {
			_ = usagereport.WriteTable(&b, usagereport.Group(todays, []string{usagereport.ByKey}), []string{usagereport.ByKey})
		}
		b.WriteString("\n")
		since := u.Since
		if since == "" {
			since = now.UTC().AddDate(0, 0, -6).Format(time.DateOnly)
		}
		// The bar's room: the width less the day label and the count.
		_ = usagereport.WriteChart(&b, u.Lines, usagereport.Days(since, today), usagereport.ByKey, min(width-14, 60))
		lines = append(lines, strings.Split(strings.TrimRight(b.String(), "\n"), "\n")...)
		if u.Err != nil {
			lines = append(lines, s.Dim.Render(fit("last update failed: "+u.Err.Error(), width)))
		}
	}
	for i := range lines {
		lines[i] = fit(lines[i], width)
	}
	if len(lines) > height {
		lines = lines[:height]
	}
	for len(lines) < height {
		lines = append(lines, strings.Repeat(" ", width))
	}
	return strings.Join(lines, "\n")
}
