package store

import (
	"context"
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

// Settle returns once the embedded store has written the refreshes its
// sticky hits owe Redis; it does nothing for another store.
func Settle(s *Store) {
	if s.local != nil {
		s.writeOwed(context.Background())
	}
}

// SocketDir is the directory of the embedded server's Unix socket.
func SocketDir(s *Store) string { return s.emb.dir }

// SocketPath is the embedded server's Unix socket.
func SocketPath(s *Store) string { return s.emb.ln.Addr().String() }
