package health_test

import (
	"context"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/health"
)

func TestParseLimitsOfAPIAccounts(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name     string
		header   []string
		none     bool
		pri, sec *health.Window
	}{
		{
			name: "requests and tokens as OpenAI sends them",
			header: []string{
				"x-ratelimit-limit-requests", "500", "x-ratelimit-remaining-requests", "50", "x-ratelimit-reset-requests", "6m0s",
				"x-ratelimit-limit-tokens", "200000", "x-ratelimit-remaining-tokens", "150000", "x-ratelimit-reset-tokens", "20ms",
			},
			pri: &health.Window{UsedPercent: 90, ResetsAt: now.Add(6 * time.Minute)},
			sec: &health.Window{UsedPercent: 25, ResetsAt: now.Add(20 * time.Millisecond)},
		},
		{
			name:   "reset in seconds, as some compatible APIs send it",
			header: []string{"x-ratelimit-limit-requests", "60", "x-ratelimit-remaining-requests", "59", "x-ratelimit-reset-requests", "1.5"},
			pri:    &health.Window{UsedPercent: 1.7, ResetsAt: now.Add(1500 * time.Millisecond)},
		},
		{
			name:   "tokens only, no reset",
			header: []string{"x-ratelimit-limit-tokens", "1000", "x-ratelimit-remaining-tokens", "0"},
			sec:    &health.Window{UsedPercent: 100},
		},
		{
			name:   "remaining above the limit counts as unused",
			header: []string{"x-ratelimit-limit-requests", "10", "x-ratelimit-remaining-requests", "12"},
			pri:    &health.Window{UsedPercent: 0},
		},
		{name: "remaining without a limit", header: []string{"x-ratelimit-remaining-requests", "5"}, none: true},
		{name: "a zero limit", header: []string{"x-ratelimit-limit-requests", "0", "x-ratelimit-remaining-requests", "0"}, none: true},
		{name: "garbage", header: []string{"x-ratelimit-limit-requests", "many", "x-ratelimit-remaining-requests", "some"}, none: true},
		{
			name: "x-codex windows win over x-ratelimit ones",
			header: []string{"x-codex-primary-used-percent", "12", "x-ratelimit-limit-requests", "10",
				"x-ratelimit-remaining-requests", "1"},
			pri: &health.Window{UsedPercent: 12},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, ok := health.ParseLimits(hdr(tt.header...), now)
			if ok == tt.none {
				t.Fatalf("ParseLimits ok = %v, want %v (%+v)", ok, !tt.none, l)
			}
			if tt.none {
				return
			}
			checkWindow(t, "primary", l.Primary, tt.pri)
			checkWindow(t, "secondary", l.Secondary, tt.sec)
		})
	}
}

func TestUsedPercent(t *testing.T) {
	clock := newClock()
	soon, later := unix(clock.Now().Add(time.Hour)), unix(clock.Now().Add(48*time.Hour))
	tests := []struct {
		name    string
		header  []string
		elapse  time.Duration
		want    float64
		wantNil bool
	}{
		{name: "nothing observed", wantNil: true},
		{name: "the larger window", want: 97, header: []string{"x-codex-primary-used-percent", "40", "x-codex-primary-reset-at", soon,
			"x-codex-secondary-used-percent", "97", "x-codex-secondary-reset-at", later}},
		{name: "a window that has reset counts as unused", elapse: 2 * time.Hour, want: 30, header: []string{
			"x-codex-primary-used-percent", "95", "x-codex-primary-reset-at", soon,
			"x-codex-secondary-used-percent", "30", "x-codex-secondary-reset-at", later}},
		{name: "a window with no reset time stays as seen", elapse: 24 * time.Hour, want: 95, header: []string{"x-codex-primary-used-percent", "95"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &fakeClock{now: clock.Now()}
			tr := health.New(nil, health.WithClock(c.Now))
			if tt.header != nil {
				tr.ObserveLimits("gpt", hdr(tt.header...))
			}
			c.Add(tt.elapse)
			got, ok := tr.UsedPercent("gpt")
			if ok == tt.wantNil || got != tt.want {
				t.Fatalf("UsedPercent = %v, %v; want %v, %v", got, ok, tt.want, !tt.wantNil)
			}
		})
	}
}

// Two instances on one Redis see the same windows after their syncs, so
// they steer new conversations alike; each account is written at most once
// every few seconds however many responses report it.
func TestWindowsAreSharedThroughTheStore(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	one, st := e.tracker(t)
	two, _ := e.tracker(t)

	one.ObserveLimits("full", hdr("x-codex-primary-used-percent", "97", "x-codex-secondary-used-percent", "5"))
	one.ObserveLimits("roomy", hdr("x-codex-primary-used-percent", "10"))
	if _, ok := two.UsedPercent("full"); ok {
		t.Fatal("the other instance knows the windows before any sync")
	}
	if got, _ := st.Windows(ctx); len(got) != 0 {
		t.Fatalf("windows written on the request path: %+v", got)
	}
	mustSync(t, one)
	mustSync(t, two)
	for name, want := range map[string]float64{"full": 97, "roomy": 10} {
		if got, ok := two.UsedPercent(name); !ok || got != want {
			t.Errorf("the other instance sees %s at %v (%v), want %v", name, got, ok, want)
		}
	}

	// A newer observation is written only once the account's last write is
	// a few seconds old.
	e.clock.Add(time.Second)
	one.ObserveLimits("full", hdr("x-codex-primary-used-percent", "98"))
	mustSync(t, one)
	if got, _ := st.Windows(ctx); got["full"].Primary == nil || got["full"].Primary.UsedPercent != 97 {
		t.Fatalf("stored %+v a second after the last write, want the first write (97%%) held", got["full"].Primary)
	}
	if got, _ := one.UsedPercent("full"); got != 98 {
		t.Fatalf("the observing instance sees %v, want its own newer 98", got)
	}
	e.clock.Add(5 * time.Second)
	mustSync(t, one)
	mustSync(t, two)
	if got, _ := two.UsedPercent("full"); got != 98 {
		t.Fatalf("the other instance sees %v after the held-back write, want 98", got)
	}

	// What the other instance observed later wins over an older copy.
	e.clock.Add(time.Second)
	two.ObserveLimits("roomy", hdr("x-codex-primary-used-percent", "20"))
	mustSync(t, two)
	mustSync(t, one)
	if got, _ := one.UsedPercent("roomy"); got != 20 {
		t.Fatalf("the first instance sees roomy at %v, want the newer 20", got)
	}
}

func mustSync(t *testing.T, tr *health.Tracker) {
	t.Helper()
	if err := tr.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
}
