package storetest

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/store"
)

// testLimits: each limit admits up to its value and then refuses, naming
// itself and what it counted; a refused request counts nothing; spending
// adds up per day, week and month; a minute and a day roll over; leases
// are freed by release or by their TTL; concurrent checks never admit more
// than the limit.
func testLimits(t *testing.T, e *env) {
	s, _ := e.store()
	ctx := context.Background()
	check := func(client string, c store.LimitCheck) store.LimitVerdict {
		t.Helper()
		v, err := s.CheckLimits(ctx, client, c)
		if err != nil {
			t.Fatalf("CheckLimits: %v", err)
		}
		return v
	}

	rpm := store.LimitCheck{RequestsPerMinute: 3}
	for i := range 3 {
		if v := check("ci", rpm); v.Refused != "" {
			t.Fatalf("request %d of 3 refused: %+v", i+1, v)
		}
	}
	if v := check("ci", rpm); v != (store.LimitVerdict{Refused: store.LimitRequestsPerMinute, Used: 3}) {
		t.Errorf("4th request in a minute = %+v, want refused by requests_per_minute at 3", v)
	}
	if v := check("lead", rpm); v.Refused != "" {
		t.Errorf("another key is refused by ci's count: %+v", v)
	}

	// Spending: the limits read it, at or over the value refuses.
	if err := s.AddSpend(ctx, map[string]store.Spend{"ci": {Tokens: 900, MicroUSD: 1_500_000}, "lead": {Tokens: 5}}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddSpend(ctx, map[string]store.Spend{"ci": {Tokens: 100}}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Spending(ctx, "ci")
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.Spent{TokensToday: 1000, TokensThisWeek: 1000, MicroUSDThisMonth: 1_500_000}); got != want {
		t.Errorf("Spending = %+v, want %+v", got, want)
	}
	tests := []struct {
		name string
		c    store.LimitCheck
		want store.LimitVerdict
	}{
		{"under every limit", store.LimitCheck{TokensPerDay: 1001, TokensPerWeek: 1001, MicroUSDPerMonth: 1_500_001}, store.LimitVerdict{}},
		{"tokens_per_day reached", store.LimitCheck{TokensPerDay: 1000}, store.LimitVerdict{Refused: store.LimitTokensPerDay, Used: 1000}},
		{"tokens_per_week reached", store.LimitCheck{TokensPerWeek: 999}, store.LimitVerdict{Refused: store.LimitTokensPerWeek, Used: 1000}},
		{"usd_per_month reached", store.LimitCheck{MicroUSDPerMonth: 1_000_000}, store.LimitVerdict{Refused: store.LimitUSDPerMonth, Used: 1_500_000}},
	}
	for _, tt := range tests {
		if v := check("ci", tt.c); v != tt.want {
			t.Errorf("%s: %+v, want %+v", tt.name, v, tt.want)
		}
	}

	// A stream refused by its limit takes no request of the minute.
	conc := store.LimitCheck{Concurrent: 1, RequestsPerMinute: 10, LeaseTTL: time.Minute}
	conc.Lease = "a"
	if v := check("ws", conc); v.Refused != "" {
		t.Fatalf("first stream refused: %+v", v)
	}
	conc.Lease = "b"
	if v := check("ws", conc); v != (store.LimitVerdict{Refused: store.LimitConcurrent, Used: 1}) {
		t.Errorf("second stream = %+v, want refused by concurrent at 1", v)
	}
	if err := s.ReleaseStream(ctx, "ws", "a"); err != nil {
		t.Fatal(err)
	}
	if v := check("ws", conc); v.Refused != "" {
		t.Errorf("stream after a release refused: %+v", v)
	}
	// b is open; its lease expires unless renewed.
	e.elapse(40 * time.Second)
	if err := s.RenewStream(ctx, "ws", "b", time.Minute); err != nil {
		t.Fatal(err)
	}
	e.elapse(40 * time.Second)
	conc.Lease = "c"
	if v := check("ws", conc); v.Refused != store.LimitConcurrent {
		t.Errorf("a renewed lease was let go: %+v", v)
	}
	e.elapse(30 * time.Second)
	if v := check("ws", conc); v.Refused != "" {
		t.Errorf("a lease past its TTL still holds its slot: %+v", v)
	}
	if err := s.RenewStream(ctx, "ws", "b", time.Minute); err != nil {
		t.Fatal(err)
	}
	conc.Lease = "d"
	if v := check("ws", conc); v.Refused != store.LimitConcurrent || v.Used != 1 {
		t.Errorf("renewing an expired lease brought it back: %+v", v)
	}

	// Concurrent checks: exactly the limit gets through.
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := 0
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			v, err := s.CheckLimits(ctx, "race", store.LimitCheck{Concurrent: 4, RequestsPerMinute: 6, Lease: fmt.Sprint(i), LeaseTTL: time.Minute})
			if err == nil && v.Refused == "" {
				mu.Lock()
				admitted++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if admitted != 4 {
		t.Errorf("20 concurrent checks against concurrent 4 admitted %d", admitted)
	}

	// Past midnight (the case starts an hour before it), a new day and a new
	// minute; the week and the month go on (2025-03-15 is a Saturday).
	e.elapse(time.Hour)
	if v := check("ci", store.LimitCheck{TokensPerDay: 1000, RequestsPerMinute: 3}); v.Refused != "" {
		t.Errorf("new day: %+v, want admitted", v)
	}
	if v := check("ci", store.LimitCheck{TokensPerWeek: 1000}); v.Refused != store.LimitTokensPerWeek {
		t.Errorf("same week: %+v, want refused", v)
	}
	if _, err := s.CheckLimits(ctx, "ci", store.LimitCheck{Concurrent: 1}); err == nil {
		t.Error("a concurrent check without a lease was accepted")
	}
}

// testPeriodEnd: when each limit resets, in UTC.
func testPeriodEnd(t *testing.T, _ *env) {
	at := time.Date(2026, 12, 9, 15, 4, 5, 0, time.UTC) // a Wednesday
	tests := []struct {
		limit string
		want  time.Time
	}{
		{store.LimitRequestsPerMinute, time.Date(2026, 12, 9, 15, 5, 0, 0, time.UTC)},
		{store.LimitTokensPerDay, time.Date(2026, 12, 10, 0, 0, 0, 0, time.UTC)},
		{store.LimitTokensPerWeek, time.Date(2026, 12, 14, 0, 0, 0, 0, time.UTC)},
		{store.LimitUSDPerMonth, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{store.LimitConcurrent, time.Time{}},
	}
	for _, tt := range tests {
		if got := store.PeriodEnd(tt.limit, at); !got.Equal(tt.want) {
			t.Errorf("PeriodEnd(%s) = %v, want %v", tt.limit, got, tt.want)
		}
	}
	sunday := time.Date(2026, 12, 13, 23, 0, 0, 0, time.UTC)
	if got := store.PeriodEnd(store.LimitTokensPerWeek, sunday); !got.Equal(time.Date(2026, 12, 14, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("week of a Sunday ends %v, want the next day", got)
	}
}
