// Package store keeps the proxy's shared state in Redis: the session bindings
// that make conversations sticky and the per-account usage counters. It talks
// to a real Redis server when one is configured and otherwise to an embedded
// miniredis private to the process (no TCP listener: its client reaches it
// over a Unix socket in a 0700 directory, since it holds bindings and rotated
// OAuth tokens and has no password), so the rest of the proxy never knows the
// difference.
package store

import (
	"errors"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Store is the proxy's Redis-backed state. Every key it writes lives under its
// key prefix, so several proxies (or test runs) can share one server.
// A Store is safe for concurrent use.
type Store struct {
	client redis.UniversalClient
	prefix string
	now    func() time.Time
	emb    *embedded      // nil unless Open started a miniredis
	local  *localBindings // the embedded store's copy of its bindings; nil otherwise

	closeOnce sync.Once
	closeErr  error
}

// Options configures a Store.
type Options struct {
	// URL is redis://[user:pass@]host:port/db, rediss:// or unix://; empty
	// starts an embedded miniredis (Open only).
	URL string
	// KeyPrefix is put in front of every key, e.g. "proxy:". It is used as
	// given: the config layer owns the default.
	KeyPrefix string
	// Now is the clock for binding timestamps, the usage day and the embedded
	// server's TTLs; nil means time.Now. Tests inject a fake to avoid sleeping.
	Now func() time.Time
	// SkipPing makes Open return the store for a URL without first asking
	// the server: for a caller that runs on while Redis is down (every
	// call fails fast until it answers).
	SkipPing bool
}

// New returns a Store on an existing client. The Store owns the client from
// then on: Close closes it.
func New(client redis.UniversalClient, o Options) *Store {
	now := o.Now
	if now == nil {
		now = time.Now
	}
	return &Store{client: client, prefix: o.KeyPrefix, now: now}
}

// Embedded reports whether the Store runs on its own in-process miniredis,
// whose contents are lost when the proxy stops.
func (s *Store) Embedded() bool { return s.emb != nil }

// Close closes the client and, for an embedded store, stops its clock and
// its server. Calling Close more than once is harmless.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.closeLocal()
		err := s.client.Close()
		if s.emb != nil {
			s.emb.close()
		}
		if err != nil && !errors.Is(err, redis.ErrClosed) {
			s.closeErr = err
		}
	})
	return s.closeErr
}

func (s *Store) sessionKey(session string) string {
	return s.prefix + "session:" + session
}

func (s *Store) usageKey(account string, day time.Time) string {
	return s.prefix + "usage:" + account + ":" + day.UTC().Format("20060102")
}
