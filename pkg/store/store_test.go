package store_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/proxy-dev/proxy/pkg/store"
	"github.com/proxy-dev/proxy/pkg/store/storetest"
)

// TestMiniredis runs the conformance suite on a bare miniredis, its clock
// moved with FastForward; the stores of a case share it.
func TestMiniredis(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.NewTarget {
		mr := miniredis.RunT(t)
		c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { _ = c.Close() })
		return func(prefix string, now func() time.Time) storetest.Target {
			return storetest.Target{Store: store.New(c, store.Options{KeyPrefix: prefix, Now: now}), Raw: c, Advance: mr.FastForward}
		}
	})
}

// TestEmbedded runs the suite on the store `proxy serve` uses when no URL is
// configured: store.Open with an empty URL, as pkg/cmd/serve builds it (its own
// miniredis, its in-memory copy of the bindings and the write-behind of
// their refreshes), with only the clock injected. Each store is its own
// server; its clock is moved through the same sync the clock goroutine
// runs, and raw reads wait for the write-behind first.
func TestEmbedded(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.NewTarget {
		var opened []*store.Store
		t.Cleanup(func() {
			for _, s := range opened {
				if err := s.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}
		})
		return func(prefix string, now func() time.Time) storetest.Target {
			s, err := store.Open(context.Background(), store.Options{URL: "", KeyPrefix: prefix, Now: now})
			if err != nil {
				t.Fatalf("Open embedded: %v", err)
			}
			opened = append(opened, s)
			return storetest.Target{
				Store:   s,
				Raw:     store.ClientOf(s),
				Advance: func(time.Duration) { store.SyncClock(s, now()) },
				Settle:  func() { store.Settle(s) },
			}
		}
	})
}

// openEmbedded opens an embedded store on clock, closed when t ends.
func openEmbedded(t testing.TB, clock *clock) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{KeyPrefix: "test:", Now: clock.Now})
	if err != nil {
		t.Fatalf("Open embedded: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// clock is a fake clock that moves only when told.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2025, 3, 14, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}
