package store

import (
	"time"

	"github.com/redis/go-redis/v9"
)

// Hooks for the external tests, which cannot reach unexported fields but
// must drive the embedded clock and share the embedded server.

// ClientOf returns the store's client.
func ClientOf(s *Store) redis.UniversalClient { return s.client }

// SyncClock runs the embedded clock's sync, as its goroutine does each tick.
func SyncClock(s *Store, now time.Time) { s.emb.sync(now) }

// ClockDone is closed once the embedded clock goroutine has returned.
func ClockDone(s *Store) <-chan struct{} { return s.emb.done }
