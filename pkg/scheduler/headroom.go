package scheduler

import (
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
)

// DefaultHeadroomThreshold is the used share (percent) of either rate-limit
// window at which an account stops taking new conversations while another
// has room: near the limit, a new conversation would soon have to move and
// lose its prompt cache.
const DefaultHeadroomThreshold = 90.0

// minHeadroomShare is the least share of its weight an account keeps below
// the threshold however much it has used, so the lean towards headroom
// never takes an account out by itself: only the threshold does.
const minHeadroomShare = 0.05

// Headroom says how much of its rate-limit windows an account has used, as
// last observed. *health.Tracker implements it.
type Headroom interface {
	// UsedPercent returns the used share of the account's tightest window;
	// ok is false when none was observed yet.
	UsedPercent(name string) (used float64, ok bool)
}

// WithHeadroom steers new conversations by each account's observed usage:
// an account at or above threshold percent of either window gets none while
// another of the same tier (weighted or standby) has room, and below it the
// choice leans towards headroom within the weights. Conversations already
// bound stay where they are, and failover choices are not changed. A
// threshold outside (0, 100] is DefaultHeadroomThreshold.
func WithHeadroom(h Headroom, threshold float64) Option {
	return func(s *Scheduler) { s.steering = headroom{h, orDefaultThreshold(threshold)} }
}

// orDefaultThreshold is threshold, or DefaultHeadroomThreshold when it is
// outside (0, 100].
func orDefaultThreshold(threshold float64) float64 {
	if !(threshold > 0 && threshold <= 100) {
		return DefaultHeadroomThreshold
	}
	return threshold
}

// steering changes the weighted choice of a new conversation by what the
// accounts' rate-limit windows say: headroom, or the planner.
type steering interface {
	// steer makes choice c and returns the account with, when that is
	// not plain (the choice by weight alone), why in words.
	steer(c choice, plain *account.Account, now time.Time) (*account.Account, string)
	// reason is what a decision it changed says.
	reason() Reason
}

// headroom leans new conversations towards the accounts that have used
// least of their windows.
type headroom struct {
	h         Headroom
	threshold float64 // percent used at which an account takes no new conversations
}

func (headroom) reason() Reason { return ReasonHeadroom }

// steered reports whether choices made for reason follow headroom: those
// that start a conversation somewhere (new, unbound, moved), never a
// failover, which serves one turn and keeps the binding.
func steered(reason Reason) bool {
	switch reason {
	case ReasonNew, ReasonUnsticky, ReasonRebound:
		return true
	}
	return false
}

// steer makes choice c by headroom: each account's weight times its
// room, 1 - used/100.
func (s headroom) steer(c choice, plain *account.Account, _ time.Time) (*account.Account, string) {
	chosen, seen := lean(c, plain, s.threshold, func(a *account.Account) (observation, bool) {
		u, ok := s.h.UsedPercent(a.Name)
		return observation{used: u, factor: 1 - u/100}, ok
	})
	if chosen == plain {
		return chosen, ""
	}
	o, known := seen[plain]
	switch {
	case known && o.used >= s.threshold:
		return chosen, fmt.Sprintf("skipped %s: %s%% used (threshold %s%%)", plain.Name, percent(o.used), percent(s.threshold))
	case known:
		return chosen, fmt.Sprintf("skipped %s: %s%% used, %s has more room", plain.Name, percent(o.used), chosen.Name)
	default:
		return chosen, fmt.Sprintf("skipped %s for %s, which has more room", plain.Name, chosen.Name)
	}
}

// observation is what a steering read of one account's windows.
type observation struct {
	// used is the percent the threshold compares.
	used float64
	// factor multiplies the account's weight (at least minHeadroomShare).
	factor float64
}

// lean makes choice c among the accounts under threshold (all of them
// when none is), each observed one's weight multiplied by its factor, an
// unobserved one's by 1. With nothing observed it is plain, the choice
// by weight alone. It returns what it observed, for the decision's words.
func lean(c choice, plain *account.Account, threshold float64, observe func(*account.Account) (observation, bool)) (*account.Account, map[*account.Account]observation) {
	seen := make(map[*account.Account]observation, len(c.as))
	var roomy []*account.Account
	for _, a := range c.as {
		o, ok := observe(a)
		if ok {
			seen[a] = o
		}
		if !ok || o.used < threshold {
			roomy = append(roomy, a)
		}
	}
	if len(seen) == 0 {
		return plain, seen
	}
	among := c.as
	if len(roomy) > 0 {
		among = roomy // every one full: lean among them all
	}
	return c.pick(among, func(a *account.Account) float64 {
		f := 1.0
		if o, ok := seen[a]; ok {
			f = max(minHeadroomShare, o.factor)
		}
		return c.weight(a) * f
	}), seen
}

// percent writes a used share the way the upstream reported it, to a tenth.
func percent(p float64) string { return strconv.FormatFloat(math.Round(p*10)/10, 'f', -1, 64) }
