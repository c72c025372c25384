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
