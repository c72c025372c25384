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
// moved with FastForward.
func TestMiniredis(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (redis.UniversalClient, storetest.Advance) {
		mr := miniredis.RunT(t)
		c := redis.NewClient(&redis.Options{Addr: mr.Addr()})
		t.Cleanup(func() { _ = c.Close() })
		return c, mr.FastForward
	})
}

// TestEmbedded runs the suite on the server Open starts when no URL is
// configured, its clock moved through the same sync the clock goroutine runs.
func TestEmbedded(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (redis.UniversalClient, storetest.Advance) {
		clock := newClock()
		s := openEmbedded(t, clock)
		return store.ClientOf(s), func(d time.Duration) {
			clock.add(d)
			store.SyncClock(s, clock.Now())
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
