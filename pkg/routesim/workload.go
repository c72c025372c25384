package routesim

import (
	"math"
	"math/rand/v2"
	"sort"
	"time"
)

// Turn is one request of a conversation.
type Turn struct {
	At     time.Time
	Conv   int   // the conversation's number
	Tokens int64 // what serving it spends of the windows
}

// Workload is the turns of every conversation, in time order: a warm-up
// week from From, then the measured days from Start to End.
type Workload struct {
	From, Start, End time.Time
	Turns            []Turn
	Demand           int64 // the tokens of every turn from Start to End
}

// WarmUp is how long the pool is run before it is measured: three weeks,
// so every window has reset at least twice and the pool is measured in
// its steady state, not as it fills from empty (which flatters whatever
// spreads the first week's load).
const WarmUp = 3 * week

// The workload's shape.
const (
	// medianTurn is the median tokens of a turn; turnSigma the lognormal's
	// spread (a mean about twice the median) and maxTurn its cap.
	medianTurn = 40_000
	turnSigma  = 1.2
	maxTurn    = 2_000_000
	// meanTurns is the mean number of turns of a conversation (1 plus a
	// geometric count), meanGap the mean minutes between them (1 plus an
	// exponential).
	meanTurns = 10
	meanGap   = 4.0
	// night is the arrival rate at night as a share of the afternoon's.
	night = 0.05
)

// Start is the first measured moment: a Monday, 00:00 UTC.
var Start = time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC)

// NewWorkload draws the conversations of a pool of n accounts over the
// warm-up and days, from seed: Demand times the pool's weekly capacity a
// week.
func NewWorkload(n int, days float64, seed uint64) Workload {
	rnd := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	length := time.Duration(days * 24 * float64(time.Hour))
	w := Workload{From: Start.Add(-WarmUp), Start: Start, End: Start.Add(length)}
	meanTokens := medianTurn * math.Exp(turnSigma*turnSigma/2)
	// 1 + floor(an exponential of mean meanTurns-1) has this mean.
	perConv := meanTokens * (1 + 1/math.Expm1(1.0/(meanTurns-1)))
	want := Demand * float64(n) * WeekTokens * days / 7
	// peak arrivals an hour, so that the day's shape integrates to want.
	peak := want / perConv / (days * dayShapeHours())
	for t, conv := w.From, 0; ; conv++ {
		// Thinning: candidates at the peak rate, each kept with the
		// shape's share at its time.
		t = t.Add(time.Duration(rnd.ExpFloat64() / peak * float64(time.Hour)))
		if !t.Before(w.End) {
			break
		}
		if rnd.Float64() >= dayShape(t) {
			continue
		}
		at := t
		for range 1 + int(rnd.ExpFloat64()*(meanTurns-1)) {
			tokens := int64(min(maxTurn, medianTurn*math.Exp(turnSigma*rnd.NormFloat64())))
			w.Turns = append(w.Turns, Turn{At: at, Conv: conv, Tokens: tokens})
			if !at.Before(w.Start) && at.Before(w.End) {
				w.Demand += tokens
			}
			at = at.Add(time.Duration((1 + rnd.ExpFloat64()*(meanGap-1)) * float64(time.Minute)))
		}
	}
	sort.SliceStable(w.Turns, func(i, j int) bool { return w.Turns[i].At.Before(w.Turns[j].At) })
	return w
}

// dayShape is the arrival rate at t as a share of the peak: night all
// night, rising from 07:00 to a peak at 14:00 and falling until 21:00.
func dayShape(t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	if h < 7 || h > 21 {
		return night
	}
	return night + (1-night)*math.Sin(math.Pi*(h-7)/14)
}

// dayShapeHours is dayShape's integral over a day, in hours.
func dayShapeHours() float64 { return night*24 + (1-night)*14*2/math.Pi }
