package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/store"
)

func mustUsage(t *testing.T, s *store.Store, account string) store.Usage {
	t.Helper()
	u, err := s.UsageToday(context.Background(), account)
	if err != nil {
		t.Fatalf("UsageToday %s: %v", account, err)
	}
	return u
}

func mustAdd(t *testing.T, s *store.Store, account string, u store.Usage) {
	t.Helper()
	if err := s.AddUsage(context.Background(), account, u); err != nil {
		t.Fatalf("AddUsage %s: %v", account, err)
	}
}

func testUsage(t *testing.T, e *env) {
	s, prefix := e.store()
	if u := mustUsage(t, s, "acct-a"); u != (store.Usage{}) {
		t.Fatalf("UsageToday of an idle account = %+v, want zero", u)
	}

	mustAdd(t, s, "acct-a", store.Usage{Requests: 1, InputTokens: 100, CachedTokens: 80, OutputTokens: 20, ReasoningTokens: 5})
	mustAdd(t, s, "acct-a", store.Usage{Requests: 1, InputTokens: 50, OutputTokens: 10})
	mustAdd(t, s, "acct-b", store.Usage{Requests: 1, InputTokens: 7})

	if got, want := mustUsage(t, s, "acct-a"), (store.Usage{Requests: 2, InputTokens: 150, CachedTokens: 80, OutputTokens: 30, ReasoningTokens: 5}); got != want {
		t.Errorf("acct-a today = %+v, want %+v", got, want)
	}
	if got, want := mustUsage(t, s, "acct-b"), (store.Usage{Requests: 1, InputTokens: 7}); got != want {
		t.Errorf("acct-b today = %+v, want %+v", got, want)
	}

	// Counters expire on their own, a few days on.
	key := prefix + "usage:acct-a:" + e.clock.Now().UTC().Format("20060102")
	if d := e.pttl(t, key); d <= 24*time.Hour || d > 7*24*time.Hour {
		t.Errorf("PTTL of %s = %v, want a few days", key, d)
	}

	// A new UTC day starts from zero and leaves the old day's counters alone.
	e.elapse(2 * time.Hour)
	if u := mustUsage(t, s, "acct-a"); u != (store.Usage{}) {
		t.Errorf("acct-a on the next day = %+v, want zero", u)
	}
	mustAdd(t, s, "acct-a", store.Usage{Requests: 1, OutputTokens: 3})
	if got, want := mustUsage(t, s, "acct-a"), (store.Usage{Requests: 1, OutputTokens: 3}); got != want {
		t.Errorf("acct-a on the next day = %+v, want %+v", got, want)
	}
	if !e.exists(t, key) {
		t.Errorf("the previous day's counters %s are gone", key)
	}
}
