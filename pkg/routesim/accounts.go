package routesim

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"time"
)

// The plan every simulated account is on.
const (
	// FiveHourTokens is what a five-hour window holds.
	FiveHourTokens = 20_000_000
	// WeekPerFiveHours is how many five-hour windows the week holds (see
	// the package doc).
	WeekPerFiveHours = 10
	// WeekTokens is what the weekly window holds.
	WeekTokens = WeekPerFiveHours * FiveHourTokens
	// Demand is the workload's tokens over the pool's weekly capacity.
	Demand = 1.1
)

const (
	fiveHours = 5 * time.Hour
	week      = 7 * 24 * time.Hour
)

// window is one rate-limit window of a simulated account.
type window struct {
	capacity float64
	length   time.Duration
	resetsAt time.Time
	used     float64
}

// resets is what the windows lost by resetting: the room left at each
// reset, against the capacity that reset.
type resets struct {
	lost, capacity float64
	count          int
}

// roll resets w as many times as its schedule has passed by now, adding
// the room each reset threw away to r.
func (w *window) roll(now time.Time, r *resets) {
	for !now.Before(w.resetsAt) {
		r.lost += max(w.capacity-w.used, 0)
		r.capacity += w.capacity
		r.count++
		w.used = 0
		w.resetsAt = w.resetsAt.Add(w.length)
	}
}

func (w *window) full() bool { return w.used >= w.capacity }

// percent is the used share the upstream reports, to a tenth, at most 100.
func (w *window) percent() float64 {
	return min(float64(int(1000*w.used/w.capacity))/10, 100)
}

// simAccount is one account of the simulated pool.
type simAccount struct {
	name       string
	five, week window
}

// newAccounts makes n accounts whose windows reset at seeded phases after
// start.
func newAccounts(n int, start time.Time, seed uint64) []*simAccount {
	rnd := rand.New(rand.NewPCG(seed^0x2545f4914f6cdd1d, seed))
	out := make([]*simAccount, n)
	for i := range out {
		phase := func(d time.Duration) time.Time { return start.Add(time.Duration(rnd.Float64() * float64(d))) }
		out[i] = &simAccount{
			name: "acct-" + strconv.Itoa(i+1),
			five: window{capacity: FiveHourTokens, length: fiveHours, resetsAt: phase(fiveHours)},
			week: window{capacity: WeekTokens, length: week, resetsAt: phase(week)},
		}
	}
	return out
}

// limited reports whether a window is full, and until when.
func (a *simAccount) limited() (until time.Time, ok bool) {
	for _, w := range []*window{&a.five, &a.week} {
		if w.full() && w.resetsAt.After(until) {
			until = w.resetsAt
		}
	}
	return until, !until.IsZero()
}

// serve spends a turn's tokens, as far as the windows have room: the
// upstream cuts an answer off at the limit. It returns what was served.
func (a *simAccount) serve(tokens int64) int64 {
	room := min(a.five.capacity-a.five.used, a.week.capacity-a.week.used)
	served := min(tokens, int64(max(room, 0)))
	a.five.used += float64(served)
	a.week.used += float64(served)
	return served
}

// header is what the upstream would report of a's windows after a turn:
// the x-codex-* headers a ChatGPT account sends.
func (a *simAccount) header() http.Header {
	h := http.Header{}
	for _, w := range []struct {
		which string
		w     *window
	}{{"Primary", &a.five}, {"Secondary", &a.week}} {
		p := "X-Codex-" + w.which + "-"
		h.Set(p+"Used-Percent", strconv.FormatFloat(w.w.percent(), 'f', -1, 64))
		h.Set(p+"Window-Minutes", strconv.Itoa(int(w.w.length/time.Minute)))
		h.Set(p+"Reset-At", strconv.FormatInt(w.w.resetsAt.Unix(), 10))
	}
	return h
}
