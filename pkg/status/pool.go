package status

import (
	"math"
	"strconv"
	"time"

	"github.com/proxy-dev/proxy/pkg/config"
	"github.com/proxy-dev/proxy/pkg/health"
)

// Kinds of accounts whose windows are summed apart: a ChatGPT account's
// windows are a share of a plan's five hours and week, an API account's a
// share of its requests and tokens per minute, and an average over both
// would mean nothing.
const (
	KindChatGPT = "chatgpt"
	KindAPI     = "api"
)

// PoolWindow is what the pool has left of one kind of window: the average
// left across the accounts that can serve and reported one, and the
// soonest reset that frees room in it. `proxy accounts list` prints it as
// its last line, and Codex's /status reads the ChatGPT ones from the
// proxy's usage endpoint, so both show the same numbers.
type PoolWindow struct {
	Window string `json:"window"` // 5h, 7d, requests, tokens, primary, secondary
	// Kind is KindChatGPT or KindAPI; Secondary is false for an account's
	// primary window (the five hours, the requests), true for the other.
	Kind      string `json:"kind"`
	Secondary bool   `json:"secondary,omitempty"`
	// LeftPercent is the average share left, rounded to a whole percent
	// (a tenth below 1) as it is shown, so every reader shows one number.
	LeftPercent float64 `json:"left_percent"`
	Accounts    int     `json:"accounts"`
	// WindowMinutes is the window's length when every account reported
	// the same one; 0 otherwise.
	WindowMinutes int `json:"window_minutes,omitempty"`
	// ResetsAt is the soonest future reset among the accounts that have
	// used some of this window: when the pool next gets room back. Zero
	// when none has used any or none said when.
	ResetsAt time.Time `json:"resets_at,omitzero"`
	// Full is true when every account counted has used all of it.
	Full bool `json:"full,omitempty"`
}

// Counts reports whether a's windows count in the pool's: it is enabled,
// and not out until a fix (invalid) or disabled. One cooling down counts,
// as it comes back by itself.
func (a Account) Counts() bool {
	return a.Enabled && a.State != StateInvalid && a.State != StateDisabled
}

// Pool sums up what the accounts that can serve have left of each kind of
// window, ChatGPT accounts' apart from API accounts'. A disabled account,
// or one only a fix brings back, adds nothing; an account cooling down
// counts, with its windows as last seen. Empty (not nil) when no account
// reported any window.
func Pool(entries []Account, now time.Time) []PoolWindow {
	type sum struct {
		w       PoolWindow
		left    float64
		minutes int
		mixed   bool
	}
	var sums [4]sum // ChatGPT primary, secondary; API primary, secondary
	for _, e := range entries {
		if !e.Counts() || e.Limits == nil {
			continue
		}
		kind, base := KindChatGPT, 0
		if e.Type == config.TypeOpenAI {
			kind, base = KindAPI, 2
		}
		for i, w := range []*health.Window{e.Limits.Primary, e.Limits.Secondary} {
			if w == nil {
				continue
			}
			s := &sums[base+i]
			switch l := WindowLabel(w, i, e.Type); {
			case s.w.Accounts == 0:
				s.w.Window, s.minutes = l, w.WindowMinutes
				s.w.Full = true
			case s.w.Window != l:
				s.w.Window = []string{"primary", "secondary"}[i] // windows of several lengths
			}
			s.mixed = s.mixed || w.WindowMinutes != s.minutes
			used := min(max(w.UsedAt(now), 0), 100)
			s.left += 100 - used
			s.w.Full = s.w.Full && used >= 100
			if used > 0 && now.Before(w.ResetsAt) && (s.w.ResetsAt.IsZero() || w.ResetsAt.Before(s.w.ResetsAt)) {
				s.w.ResetsAt = w.ResetsAt
			}
			s.w.Kind, s.w.Secondary = kind, i == 1
			s.w.Accounts++
		}
	}
	out := []PoolWindow{} // [] in JSON, not null
	for _, s := range sums {
		if s.w.Accounts == 0 {
			continue
		}
		s.w.LeftPercent = RoundPercent(s.left / float64(s.w.Accounts))
		if !s.mixed {
			s.w.WindowMinutes = s.minutes
		}
		out = append(out, s.w)
	}
	return out
}

// WindowLabel names a window by its length (5h, 7d), else by what an API
// account's window counts (requests, tokens), else by its place (i is 0
// for the primary window, 1 for the secondary).
func WindowLabel(w *health.Window, i int, accountType string) string {
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

// RoundPercent rounds a share the way it is shown: to a whole percent, or
// to a tenth below 1.
func RoundPercent(p float64) float64 {
	if p > 0 && p < 1 {
		return math.Round(p*10) / 10
	}
	return math.Round(p)
}
