package list

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/proxy-dev/proxy/pkg/health"
	"github.com/proxy-dev/proxy/pkg/status"
)

// windowsCell shows an account's rate-limit windows as last seen: used
// share and when each starts again, like "5h 97% (resets 17:00), 7d 5%
// (resets Mar 8 12:00)". A window whose reset time has passed shows as
// unused. "" when none was seen.
func windowsCell(e status.Account, now time.Time, loc *time.Location) string {
	if e.Limits == nil {
		return ""
	}
	var parts []string
	for i, w := range []*health.Window{e.Limits.Primary, e.Limits.Secondary} {
		if w == nil {
			continue
		}
		s := status.WindowLabel(w, i, e.Type) + " " + formatPercent(w.UsedAt(now)) + "%"
		switch {
		case w.ResetsAt.IsZero():
		case now.Before(w.ResetsAt):
			s += " (resets " + shortTime(w.ResetsAt, now, loc) + ")"
		default:
			s += " (reset at " + shortTime(w.ResetsAt, now, loc) + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, ", ")
}

// poolHeadroom is status.Pool in words: "pool headroom: 5h 63% left
// across 3 accounts, 7d 80%", with API accounts' windows after the ChatGPT
// ones and their own count; "" when no account reported any window.
func poolHeadroom(entries []status.Account, now time.Time) string {
	var parts []string
	kind := ""
	for _, w := range status.Pool(entries, now) {
		p := w.Window + " " + formatPercent(w.LeftPercent) + "%"
		if w.Kind != kind {
			p += " left across " + plural(w.Accounts, "account")
			kind = w.Kind
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return ""
	}
	return "pool headroom: " + strings.Join(parts, ", ")
}

// formatPercent writes a share to a whole percent, or a tenth below 1.
func formatPercent(p float64) string {
	return strconv.FormatFloat(status.RoundPercent(p), 'f', -1, 64)
}

func plural(n int, what string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}
