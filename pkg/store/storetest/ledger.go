package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/store"
)

// testLedger: lines add up per day, key, account and model; a reader gets
// them back in order, day by day; a day lives its retention past its last
// write.
func testLedger(t *testing.T, e *env) {
	s, prefix := e.store()
	ctx := context.Background()
	add := func(s *store.Store, lines map[store.LedgerKey]store.Usage) {
		t.Helper()
		if err := s.AddLedger(ctx, lines, 90*24*time.Hour); err != nil {
			t.Fatalf("AddLedger: %v", err)
		}
	}
	ci := store.LedgerKey{Client: "ci", Account: "api-a", Model: "gpt-5"}
	lead := store.LedgerKey{Client: "lead", Account: "chatgpt", Model: "gpt-5.5"}
	add(s, map[store.LedgerKey]store.Usage{ci: {Requests: 1, InputTokens: 100, CachedTokens: 80, OutputTokens: 20, ReasoningTokens: 5}, lead: {Requests: 2, InputTokens: 10}})
	add(s, map[store.LedgerKey]store.Usage{ci: {Requests: 1, InputTokens: 50, OutputTokens: 10}})
	day1 := time.Date(start.Year(), start.Month(), start.Day(), 0, 0, 0, 0, time.UTC)

	key := prefix + "ledger:" + day1.Format("20060102")
	if d := e.pttl(t, key); d <= 90*24*time.Hour || d > 92*24*time.Hour {
		t.Errorf("PTTL of %s = %v, want the retention and a day", key, d)
	}

	// Across midnight, a new day; the old one stays.
	e.elapse(2 * time.Hour)
	add(s, map[store.LedgerKey]store.Usage{ci: {Requests: 1, OutputTokens: 3}})
	got, err := s.Ledger(ctx, start.Add(-24*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	want := []store.LedgerEntry{
		{Day: day1, LedgerKey: ci, Usage: store.Usage{Requests: 2, InputTokens: 150, CachedTokens: 80, OutputTokens: 30, ReasoningTokens: 5}},
		{Day: day1, LedgerKey: lead, Usage: store.Usage{Requests: 2, InputTokens: 10}},
		{Day: day1.AddDate(0, 0, 1), LedgerKey: ci, Usage: store.Usage{Requests: 1, OutputTokens: 3}},
	}
	if len(got) != len(want) {
		t.Fatalf("Ledger = %+v, want %+v", got, want)
	}
	for i := range want {
		if !got[i].Day.Equal(want[i].Day) || got[i].LedgerKey != want[i].LedgerKey || got[i].Usage != want[i].Usage {
			t.Errorf("line %d = %+v, want %+v", i, got[i], want[i])
		}
	}
	if got, _ := s.Ledger(ctx, e.clock.Now()); len(got) != 1 {
		t.Errorf("since today: %d lines, want 1", len(got))
	}
	if got, _ := s.Ledger(ctx, e.clock.Now().Add(48*time.Hour)); len(got) != 0 {
		t.Errorf("since a day to come: %d lines, want none", len(got))
	}
	if err := s.AddLedger(ctx, map[store.LedgerKey]store.Usage{{Client: "ci"}: {Requests: 1}}, 0); err == nil {
		t.Error("AddLedger with no account: no error")
	}
}
