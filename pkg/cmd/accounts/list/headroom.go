package list

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/proxy-dev/proxy/pkg/config"
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
		s := windowLabel(w, i, e.Type) + " " + formatPercent(usedNow(w, now)) + "%"
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

// PoolWindow is what the pool has left of one kind of window, averaged
// over the accounts that reported one.
type PoolWindow struct {
	Window      string  `json:"window"` // 5h, 7d, requests, tokens, primary, secondary
	LeftPercent float64 `json:"left_percent"`
	Accounts    int     `json:"accounts"`
}

// poolWindows sums up what the accounts that can serve have left of each
// kind of window. A disabled account, or one that only a fix brings back,
// adds nothing. Empty when no account reported any.
func poolWindows(entries []status.Account, now time.Time) []PoolWindow {
	type sum struct {
		left  float64
		n     int
		label string
	}
	var sums [2]sum
	for _, e := range entries {
		if !e.Enabled || e.Limits == nil || e.State == status.StateInvalid || e.State == status.StateDisabled {
			continue
		}
		for i, w := range []*health.Window{e.Limits.Primary, e.Limits.Secondary} {
			if w == nil {
				continue
			}
			s := &sums[i]
			switch l := windowLabel(w, i, e.Type); {
			case s.n == 0:
				s.label = l
			case s.label != l:
				s.label = []string{"primary", "secondary"}[i] // windows of several lengths
			}
			s.left += 100 - min(max(usedNow(w, now), 0), 100)
			s.n++
		}
	}
	out := []PoolWindow{} // [] in JSON, not null
	for _, s := range sums {
		if s.n > 0 {
			out = append(out, PoolWindow{Window: s.label, LeftPercent: s.left / float64(s.n), Accounts: s.n})
		}
	}
	return out
}

// poolHeadroom is poolWindows in words: "pool headroom: 5h 63% left across
// 3 accounts, 7d 80%"; "" when no account reported any window.
func poolHeadroom(entries []status.Account, now time.Time) string {
	var parts []string
	for _, w := range poolWindows(entries, now) {
		p := w.Window + " " + formatPercent(w.LeftPercent) + "%"
		if len(parts) == 0 {
			p += " left across " + plural(w.Accounts, "account")
		}
		parts = append(parts, p)
	}
	if len(parts) == 0 {
		return ""
	}
	return "pool headroom: " + strings.Join(parts, ", ")
}

// windowLabel names a window by its length (5h, 7d), else by what an API
// account's window counts (requests, tokens), else by its place.
func windowLabel(w *health.Window, i int, accountType string) string {
	switch m := w.WindowMinutes; {
	case m > 0 && m%(24*60) == 0:
		return strconv.Itoa(m/(24*60)) + "d"
	case m > 0 && m%60 == 0:
		return strconv.Itoa(m/60) + "h"
	case m > 0:
		return strconv.Itoa(m) + "m"
	case accountType == config.TypeOpenAI:
		return []string{"requests", "tokens"}[i]
	}
	return []string{"primary", "secondary"}[i]
}

// usedNow is the window's used share at now: 0 once it has reset.
func usedNow(w *health.Window, now time.Time) float64 {
	if !w.ResetsAt.IsZero() && !now.Before(w.ResetsAt) {
		return 0
	}
	return w.UsedPercent
}

// formatPercent writes a share to a whole percent, or a tenth below 1.
func formatPercent(p float64) string {
	if p > 0 && p < 1 {
		return strconv.FormatFloat(math.Round(p*10)/10, 'f', -1, 64)
	}
	return strconv.FormatFloat(math.Round(p), 'f', 0, 64)
}

func plural(n int, what string) string {
	if n == 1 {
		return fmt.Sprintf("1 %s", what)
	}
	return fmt.Sprintf("%d %ss", n, what)
}
