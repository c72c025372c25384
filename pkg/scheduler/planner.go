package scheduler

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/store"
)

// Windows says which rate-limit windows each account reported last, with
// their lengths and reset times. *health.Tracker implements it.
type Windows interface {
	// Limits returns the account's last reported windows; ok is false
	// when none was observed yet.
	Limits(name string) (store.Limits, bool)
}

// minTimeLeft is the least share of its length a window counts as having
// left before it resets, so a window about to reset weighs a lot but never
// without bound.
const minTimeLeft = 0.05

// WithPlanner steers new conversations towards the accounts whose room
// expires first: a window's unused share is lost when it resets, so an
// account whose five-hour window resets soon with room left should serve
// the next conversation rather than one whose window resets late. The
// threshold rule is headroom's (an account at or above threshold percent
// of either window gets no new conversation while another of its tier has
// room), but for a week with more room left than time, which would
// otherwise reset unspent. Below it each account's weight is multiplied
// by its urgency, never less than 5% of it; unlike headroom's factor it
// can be more than 1, so room about to be lost can outweigh the weights
// (at most 20 × 400, see urgency). Conversations already bound stay where
// they are, and failover choices are not changed. A threshold outside
// (0, 100] is DefaultHeadroomThreshold.
func WithPlanner(w Windows, threshold float64) Option {
	return func(s *Scheduler) { s.steering = planner{w, orDefaultThreshold(threshold)} }
}

// Strategy names how new conversations are steered by the accounts'
// windows (config headroom.strategy).
type Strategy string

const (
	// StrategyPlanner spends first the room that expires first (WithPlanner).
	StrategyPlanner Strategy = "planner"
	// StrategyHeadroom spends first the accounts that used least (WithHeadroom).
	StrategyHeadroom Strategy = "headroom"
	// StrategyWeighted is the weights alone: no steering.
	StrategyWeighted Strategy = "weighted"
)

// Observed is what the strategies read of the accounts' windows.
// *health.Tracker implements it.
type Observed interface {
	Headroom
	Windows
}

// WithStrategy steers new conversations by strategy: WithPlanner,
// WithHeadroom, or nothing (the weights alone). An unknown strategy is
// the planner.
func WithStrategy(strategy Strategy, o Observed, threshold float64) Option {
	switch strategy {
	case StrategyWeighted:
		return func(s *Scheduler) { s.steering = nil }
	case StrategyHeadroom:
		return WithHeadroom(o, threshold)
	}
	return WithPlanner(o, threshold)
}

// planner leans new conversations towards the accounts whose room
// expires soonest.
type planner struct {
	w         Windows
	threshold float64
}

func (planner) reason() Reason { return ReasonPlanner }

// steer makes choice c by urgency. The threshold reads the fuller window,
// except a week spent slower than it runs: its room is lost at the reset
// if nobody spends it, and the five hours still keep a new conversation
// off an account about to be limited.
func (p planner) steer(c choice, plain *account.Account, now time.Time) (*account.Account, string) {
	limits := make(map[*account.Account]store.Limits, len(c.as))
	chosen, seen := lean(c, plain, p.threshold, func(a *account.Account) (observation, bool) {
		l, ok := p.w.Limits(a.Name)
		if !ok || (l.Primary == nil && l.Secondary == nil) {
			return observation{}, false
		}
		limits[a] = l
		used := l.Primary.UsedAt(now)
		if r, f, ok := pace(l.Secondary, now); !ok || r <= f {
			used = max(used, l.Secondary.UsedAt(now))
		}
		return observation{used: used, factor: urgency(l, now)}, true
	})
	if chosen == plain {
		return chosen, ""
	}
	over := describeWindows(limits[plain], now)
	if o, ok := seen[plain]; ok && o.used >= p.threshold {
		over += fmt.Sprintf(" (threshold %s%%)", percent(p.threshold))
	}
	return chosen, fmt.Sprintf("chose %s: %s; over %s: %s", chosen.Name, describeWindows(limits[chosen], now), plain.Name, over)
}

// urgency is how soon an account's room expires, 1 being windows spent at
// an even pace: for each window, its room r = 1 - used/100 over the share
// of its length still to run f (at least minTimeLeft). The five hours
// count once, so half a window left with 20 minutes of five hours to go
// is 7.5 and an idle window just started is 1. The week counts squared:
// it holds many five-hour windows, and over days it is the one that
// binds, so a week behind its pace (r/f < 1) is kept for later, and one
// ahead of it is spent before its reset throws its room away (the square
// served more than the week counted once in `proxy routing simulate`).
// A window whose reset time has passed counts as whole and fresh (r = f =
// 1); one of no known length or reset counts by its room alone (f = 1).
func urgency(l store.Limits, now time.Time) float64 {
	u := 1.0
	if r, f, ok := pace(l.Primary, now); ok {
		u = r / f
	}
	if r, f, ok := pace(l.Secondary, now); ok {
		u *= (r / f) * (r / f)
	}
	return u
}

// pace is w's room r and the share of its length left to run f at now;
// ok is false when w was not reported.
func pace(w *store.Window, now time.Time) (r, f float64, ok bool) {
	if w == nil {
		return 0, 0, false
	}
	if !w.ResetsAt.IsZero() && !now.Before(w.ResetsAt) {
		return 1, 1, true
	}
	r, f = min(max(1-w.UsedPercent/100, 0), 1), 1
	if length := time.Duration(w.WindowMinutes) * time.Minute; length > 0 && !w.ResetsAt.IsZero() {
		f = min(max(float64(w.ResetsAt.Sub(now))/float64(length), minTimeLeft), 1)
	}
	return r, f, true
}

// describeWindows says what the planner weighed of an account: each
// window's used share and how soon it resets ("5h 50% used, resets in
// 20m, 7d 12% used, resets in 3d4h").
func describeWindows(l store.Limits, now time.Time) string {
	var parts []string
	for i, w := range []*store.Window{l.Primary, l.Secondary} {
		if w == nil {
			continue
		}
		name := []string{"primary", "secondary"}[i]
		if w.WindowMinutes > 0 {
			name = shortDuration(time.Duration(w.WindowMinutes) * time.Minute)
		}
		switch {
		case w.ResetsAt.IsZero():
			parts = append(parts, fmt.Sprintf("%s %s%% used", name, percent(w.UsedPercent)))
		case !now.Before(w.ResetsAt):
			parts = append(parts, name+" reset since seen")
		default:
			parts = append(parts, fmt.Sprintf("%s %s%% used, resets in %s", name, percent(w.UsedPercent), shortDuration(w.ResetsAt.Sub(now))))
		}
	}
	if len(parts) == 0 {
		return "not seen yet"
	}
	return strings.Join(parts, ", ")
}

// shortDuration writes d to the minute, rounded up, in its largest unit
// and the next one when not zero: 20m, 4h, 4h20m, 3d2h.
func shortDuration(d time.Duration) string {
	m := int((d + time.Minute - 1) / time.Minute)
	n, units := []int{m / (24 * 60), m / 60 % 24, m % 60}, "dhm"
	for i := range n {
		if n[i] == 0 {
			continue
		}
		s := strconv.Itoa(n[i]) + units[i:i+1]
		if i+1 < len(n) && n[i+1] > 0 {
			s += strconv.Itoa(n[i+1]) + units[i+1:i+2]
		}
		return s
	}
	return "0m"
}
