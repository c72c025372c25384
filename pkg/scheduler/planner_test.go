package scheduler_test

import (
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/scheduler"
	"github.com/proxy-dev/proxy/pkg/store"
)

// planNow is the planner tests' clock.
var planNow = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

// windows is a Windows of fixed limits; an account missing was never
// observed.
type windows map[string]store.Limits

func (w windows) Limits(name string) (store.Limits, bool) {
	l, ok := w[name]
	return l, ok
}

// UsedPercent makes windows an Observed too, for WithStrategy.
func (w windows) UsedPercent(name string) (float64, bool) {
	l, ok := w[name]
	if !ok {
		return 0, false
	}
	return max(l.Primary.UsedPercent, l.Secondary.UsedPercent), true
}

// five is a five-hour window used percent, resetting in left.
func five(used float64, left time.Duration) *store.Window {
	return &store.Window{UsedPercent: used, WindowMinutes: 300, ResetsAt: planNow.Add(left)}
}

// week is a weekly window used percent, resetting in left.
func week(used float64, left time.Duration) *store.Window {
	return &store.Window{UsedPercent: used, WindowMinutes: 7 * 24 * 60, ResetsAt: planNow.Add(left)}
}

func TestPlannerSpendsWhatExpiresFirst(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		name      string
		weights   map[string]int
		windows   windows
		threshold float64
		n         int
		check     func(t *testing.T, counts map[string]int)
		// wantPlanner: some decisions say planner, each detail containing
		// this; "" means none may.
		wantPlanner string
	}{
		{
			name: "the issue's example: A's room expires in 20 minutes, B's in 4 hours", n: 2000,
			weights: map[string]int{"a": 1, "b": 1},
			windows: windows{"a": {Primary: five(50, 20*time.Minute)}, "b": {Primary: five(10, 4*time.Hour)}},
			// Urgencies 0.5/0.067 = 7.5 and 0.9/0.8 = 1.125: a gets about 0.87.
			check:       between("a", 0.84, 0.90),
			wantPlanner: "chose a: 5h 50% used, resets in 20m; over b: 5h 10% used, resets in 4h",
		},
		{
			name: "an account at the threshold gets no new conversation, however soon it resets", n: 200,
			weights:     map[string]int{"full": 1, "roomy": 1},
			windows:     windows{"full": {Primary: five(95, 10*time.Minute)}, "roomy": {Primary: five(10, 4*time.Hour)}},
			check:       want(map[string]int{"full": 0, "roomy": 200}),
			wantPlanner: "over full: 5h 95% used, resets in 10m (threshold 90%)",
		},
		{
			name: "the weekly window counts for the threshold too", n: 200,
			weights:     map[string]int{"a": 1, "b": 1},
			windows:     windows{"a": {Primary: five(0, 5*time.Hour), Secondary: week(92, 3*day)}, "b": {Primary: five(30, 2*time.Hour)}},
			check:       want(map[string]int{"a": 0, "b": 200}),
			wantPlanner: "over a: 5h 0% used, resets in 5h, 7d 92% used, resets in 3d (threshold 90%)",
		},
		{
			name: "the threshold is configurable", n: 200, threshold: 50,
			weights: map[string]int{"a": 1, "b": 1},
			windows: windows{"a": {Primary: five(60, 10*time.Minute)}, "b": {Primary: five(10, 4*time.Hour)}},
			check:   want(map[string]int{"a": 0, "b": 200}),
		},
		{
			name: "an unobserved account counts as a window spent at an even pace", n: 2000,
			weights: map[string]int{"seen": 1, "unseen": 1},
			windows: windows{"seen": {Primary: five(0, 5*time.Hour), Secondary: week(0, 7*day)}},
			check:   between("seen", 0.47, 0.53),
		},
		{
			name: "a window past its reset counts as whole and fresh", n: 2000,
			weights: map[string]int{"reset": 1, "fresh": 1},
			windows: windows{"reset": {Primary: five(99, -time.Minute)}, "fresh": {Primary: five(0, 5*time.Hour)}},
			check:   between("reset", 0.47, 0.53),
		},
		{
			name: "the lean stays within the configured weights", n: 2000,
			weights: map[string]int{"big": 3, "small": 1},
			windows: windows{"big": {Primary: five(0, 5*time.Hour)}, "small": {Primary: five(0, 5*time.Hour)}},
			check:   between("big", 0.72, 0.78),
		},
		{
			name: "a week spent ahead of its pace is kept for later", n: 2000,
			weights: map[string]int{"early": 1, "even": 1},
			// early: 5h neutral, 7d 80% used with half the week to go:
			// damped by (0.2/0.5)² = 0.16 against 1, so it gets about 0.14.
			windows: windows{"early": {Primary: five(0, 5*time.Hour), Secondary: week(80, 3*day+12*time.Hour)},
				"even": {Primary: five(0, 5*time.Hour), Secondary: week(50, 3*day+12*time.Hour)}},
			check:       between("early", 0.11, 0.17),
			wantPlanner: "over early: 5h 0% used, resets in 5h, 7d 80% used, resets in 3d12h",
		},
		{
			name: "a week with room left near its reset is spent first", n: 2000,
			weights: map[string]int{"ending": 1, "even": 1},
			// ending: 7d 20% used with a day to go, (0.8/(1/7))² = 31
			// against 1: it gets about 0.97.
			windows: windows{"ending": {Primary: five(0, 5*time.Hour), Secondary: week(20, day)},
				"even": {Primary: five(0, 5*time.Hour), Secondary: week(50, 3*day+12*time.Hour)}},
			check:       between("ending", 0.95, 0.99),
			wantPlanner: "chose ending: 5h 0% used, resets in 5h, 7d 20% used, resets in 1d",
		},
		{
			name: "a week over the threshold but slower than its pace still takes new conversations", n: 2000,
			weights: map[string]int{"ending": 1, "fresh": 1},
			// ending: 7d 92% used, resetting in 30 minutes: its 8% is
			// lost unless spent, (0.08/0.05)² = 2.56 against 1.
			windows: windows{"ending": {Primary: five(0, 5*time.Hour), Secondary: week(92, 30*time.Minute)},
				"fresh": {Primary: five(0, 5*time.Hour), Secondary: week(0, 7*day)}},
			check:       between("ending", 0.68, 0.76),
			wantPlanner: "chose ending: 5h 0% used, resets in 5h, 7d 92% used, resets in 30m",
		},
		{
			name: "windows of no known length count by their room", n: 2000,
			weights: map[string]int{"busy": 1, "idle": 1},
			windows: windows{"busy": {Primary: &store.Window{UsedPercent: 80}}, "idle": {Primary: &store.Window{UsedPercent: 0}}},
			// 0.2 against 1, as headroom does.
			check:       between("busy", 0.13, 0.20),
			wantPlanner: "over busy: primary 80% used",
		},
		{
			name: "nothing observed: the weights alone", n: 2000,
			weights: map[string]int{"a": 1, "b": 1}, windows: windows{},
			check: between("a", 0.47, 0.53),
		},
		{
			name: "every account full: the lean among them all", n: 2000,
			weights: map[string]int{"a": 1, "b": 1},
			windows: windows{"a": {Primary: five(95, time.Hour)}, "b": {Primary: five(99, time.Hour)}},
			// Nobody refused: urgencies 0.05/0.2 = 0.25 and the floor 0.05.
			check: between("a", 0.79, 0.87),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st, _ := newStore(t)
			s := scheduler.New(weighted(t, tt.weights), st, ttl, scheduler.WithSeed(7),
				scheduler.WithClock(func() time.Time { return planNow }), scheduler.WithPlanner(tt.windows, tt.threshold))
			counts, reasons, details := split(t, s, tt.n, false)
			t.Logf("split %v, reasons %v", counts, reasons)
			tt.check(t, counts)
			if reasons[scheduler.ReasonHeadroom] > 0 {
				t.Errorf("%d decisions say headroom, want planner", reasons[scheduler.ReasonHeadroom])
			}
			if tt.wantPlanner == "" {
				return
			}
			if len(details) == 0 {
				t.Fatalf("no decision says planner; reasons %v", reasons)
			}
			found := false
			for _, d := range details {
				if !strings.HasPrefix(d, "chose ") {
					t.Fatalf("planner detail %q does not say what it chose", d)
				}
				found = found || strings.Contains(d, tt.wantPlanner)
			}
			if !found {
				t.Errorf("no planner detail contains %q; first %q", tt.wantPlanner, details[0])
			}
		})
	}
}

// WithStrategy picks the steering by name; weighted is none.
func TestWithStrategy(t *testing.T) {
	w := windows{"a": {Primary: five(50, 20*time.Minute), Secondary: week(0, 0)}, "b": {Primary: five(10, 4*time.Hour), Secondary: week(0, 0)}}
	for _, tt := range []struct {
		strategy scheduler.Strategy
		want     scheduler.Reason // the reason of the steered decisions; "" none
	}{
		{scheduler.StrategyPlanner, scheduler.ReasonPlanner},
		{scheduler.StrategyHeadroom, scheduler.ReasonHeadroom},
		{scheduler.StrategyWeighted, ""},
	} {
		t.Run(string(tt.strategy), func(t *testing.T) {
			st, _ := newStore(t)
			s := scheduler.New(account.NewPool([]*account.Account{acct(t, "a", 1), acct(t, "b", 1)}), st, ttl,
				scheduler.WithClock(func() time.Time { return planNow }), scheduler.WithStrategy(tt.strategy, w, 0))
			_, reasons, _ := split(t, s, 400, false)
			for _, r := range []scheduler.Reason{scheduler.ReasonPlanner, scheduler.ReasonHeadroom} {
				if (reasons[r] > 0) != (r == tt.want) {
					t.Errorf("reasons %v, want steered decisions to say %q only", reasons, tt.want)
				}
			}
		})
	}
}
