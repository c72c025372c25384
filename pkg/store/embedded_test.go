package store_test

import (
	"context"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/store"
)

// TestEmbeddedClockExpires drives the embedded server's clock the way the
// clock goroutine does, with a fake time: a 30m binding left alone survives
// 29m and is gone at 31m.
func TestEmbeddedClockExpires(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	s := openEmbedded(t, clock)
	if !s.Embedded() {
		t.Fatal("Embedded() = false without a URL")
	}
	const ttl = 30 * time.Minute
	if _, _, err := s.Bind(ctx, store.Binding{Session: "s1", Account: "a"}, ttl); err != nil {
		t.Fatalf("Bind: %v", err)
	}
	c := store.ClientOf(s)

	clock.add(29 * time.Minute)
	store.SyncClock(s, clock.Now())
	// EXISTS, not Lookup: a Lookup would refresh the TTL.
	if n, err := c.Exists(ctx, "test:session:s1").Result(); err != nil || n != 1 {
		t.Fatalf("after 29m EXISTS = %d, %v; want the binding alive", n, err)
	}

	clock.add(2 * time.Minute)
	store.SyncClock(s, clock.Now())
	if b, ok, err := s.Lookup(ctx, "s1", ttl); err != nil || ok {
		t.Fatalf("after 31m Lookup = %+v, %v, %v; want a miss", b, ok, err)
	}
}

// TestEmbeddedClockBackwards checks that a clock stepping back neither
// revives nor stalls expiry.
func TestEmbeddedClockBackwards(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	s := openEmbedded(t, clock)
	const ttl = 10 * time.Minute
	if _, _, err := s.Bind(ctx, store.Binding{Session: "s1", Account: "a"}, ttl); err != nil {
		t.Fatalf("Bind: %v", err)
	}
	store.SyncClock(s, clock.Now().Add(-time.Hour))
	clock.add(-time.Hour + 11*time.Minute)
	store.SyncClock(s, clock.Now())
	if _, ok, err := s.Lookup(ctx, "s1", ttl); err != nil || ok {
		t.Fatalf("Lookup = %v, %v; want expired 11m after the step back", ok, err)
	}
}

// TestEmbeddedCloseStopsClock checks that Close does not leak the clock
// goroutine and may be called twice.
func TestEmbeddedCloseStopsClock(t *testing.T) {
	s, err := store.Open(context.Background(), store.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	done := store.ClockDone(s)
	select {
	case <-done:
		t.Fatal("clock goroutine stopped before Close")
	default:
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-done:
	default:
		t.Fatal("clock goroutine still running after Close")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := store.ClientOf(s).Ping(context.Background()).Err(); err == nil {
		t.Error("client still answers after Close")
	}
}

// TestEmbeddedStickyHitsFromMemory: the embedded store answers a sticky hit
// from its own copy (nothing else writes to its server) and writes the TTL
// refresh to Redis behind it; binds, rebinds and drops keep the copy right.
func TestEmbeddedStickyHitsFromMemory(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	s := openEmbedded(t, clock)
	c := store.ClientOf(s)
	const ttl = 30 * time.Minute
	if _, _, err := s.Bind(ctx, store.Binding{Session: "s1", Account: "a", Type: "openai"}, ttl); err != nil {
		t.Fatal(err)
	}

	// Deleting the key behind the store's back shows where hits come from.
	if err := c.Del(ctx, "test:session:s1").Err(); err != nil {
		t.Fatal(err)
	}
	if b, ok, err := s.Lookup(ctx, "s1", ttl); err != nil || !ok || b.Account != "a" {
		t.Fatalf("hit from memory = %+v, %v, %v", b, ok, err)
	}

	// The refresh a hit owes is written to Redis behind it.
	if err := s.Rebind(ctx, store.Binding{Session: "s2", Account: "b", Type: "openai"}, ttl); err != nil {
		t.Fatal(err)
	}
	clock.add(20 * time.Minute)
	store.SyncClock(s, clock.Now())
	if b, ok, _ := s.Lookup(ctx, "s2", ttl); !ok || b.Account != "b" {
		t.Fatalf("rebound session = %+v, %v", b, ok)
	}
	deadline := time.Now().Add(5 * time.Second)
	for c.PTTL(ctx, "test:session:s2").Val() <= 25*time.Minute {
		if time.Now().After(deadline) {
			t.Fatalf("TTL not refreshed in Redis: %s", c.PTTL(ctx, "test:session:s2").Val())
		}
		time.Sleep(time.Millisecond) // the write-behind goroutine's turn; not a TTL wait
	}

	// A drop reaches the copy too.
	if err := s.Drop(ctx, "s2"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Lookup(ctx, "s2", ttl); ok {
		t.Fatal("dropped session still found")
	}

	// Expiry follows the server's clock: without a hit for the TTL, gone.
	clock.add(31 * time.Minute)
	store.SyncClock(s, clock.Now())
	if _, ok, _ := s.Lookup(ctx, "s1", ttl); ok {
		t.Fatal("session found after its TTL without use")
	}
}
