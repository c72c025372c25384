package store

import (
	"context"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// localBindings is the embedded store's own copy of its bindings. Nothing
// but this process writes to its embedded Redis, so the copy is never
// stale, and a sticky hit (the request path's one store call) costs no
// round trip: the hit answers from memory and its TTL refresh is written to
// Redis behind it, where listings and `proxy sessions` read it. A store on
// a shared Redis has no such copy: there other instances write too.
type localBindings struct {
	// elapsed is the embedded server's own clock: the time its TTLs have
	// been advanced by. Expiry here follows it, so the copy and the server
	// agree even when the wall clock steps back.
	elapsed func() time.Duration

	mu      sync.Mutex
	entries map[string]localEntry
	touches chan touch
	done    chan struct{}
}

type localEntry struct {
	b       Binding
	expires time.Duration // on the elapsed clock
}

// touch is a TTL refresh owed to Redis.
type touch struct {
	session string
	ttl     time.Duration
	at      time.Time
}

// touchQueue bounds the refreshes waiting to be written; past it, one is
// skipped, which only makes a listing show the session expiring early.
const touchQueue = 4096

func newLocalBindings(elapsed func() time.Duration) *localBindings {
	return &localBindings{elapsed: elapsed, entries: map[string]localEntry{}, touches: make(chan touch, touchQueue), done: make(chan struct{})}
}

// get returns a live binding, pushing its expiry back to ttl from now.
func (l *localBindings) get(session string, now time.Time, ttl time.Duration) (Binding, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.entries[session]
	if !ok {
		return Binding{}, false
	}
	at := l.elapsed()
	if at >= e.expires {
		delete(l.entries, session)
		return Binding{}, false
	}
	e.expires = at + ttl
	e.b.LastUsed = time.UnixMilli(now.UnixMilli()).UTC()
	l.entries[session] = e
	return e.b, true
}

func (l *localBindings) put(b Binding, ttl time.Duration) {
	l.mu.Lock()
	l.entries[b.Session] = localEntry{b: b, expires: l.elapsed() + ttl}
	l.mu.Unlock()
}

func (l *localBindings) drop(session string) {
	l.mu.Lock()
	delete(l.entries, session)
	l.mu.Unlock()
}

// sweep forgets expired bindings, so memory follows the live sessions.
func (l *localBindings) sweep() {
	at := l.elapsed()
	l.mu.Lock()
	for k, e := range l.entries {
		if at >= e.expires {
			delete(l.entries, k)
		}
	}
	l.mu.Unlock()
}

// owe queues a TTL refresh for Redis; it never blocks.
func (l *localBindings) owe(t touch) {
	select {
	case l.touches <- t:
	default:
	}
}

// writeBehind writes owed refreshes to Redis, a burst in one pipeline, and
// sweeps expired entries every tick, until the queue is closed.
func (s *Store) writeBehind(tick <-chan time.Time) {
	l := s.local
	defer close(l.done)
	pending := map[string]touch{}
	for {
		select {
		case t, ok := <-l.touches:
			if !ok {
				s.writeTouches(pending)
				return
			}
			pending[t.session] = t
		drain:
			for {
				select {
				case more, ok := <-l.touches:
					if !ok {
						break drain
					}
					pending[more.session] = more
				default:
					break drain
				}
			}
			s.writeTouches(pending)
		case <-tick:
			l.sweep()
		}
	}
}

// writeTouches refreshes the TTL and LastUsed of each pending session, as
// Lookup does on a shared Redis, and forgets them.
func (s *Store) writeTouches(pending map[string]touch) {
	if len(pending) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, t := range pending {
			p.PExpire(ctx, s.sessionKey(t.session), t.ttl)
			p.SetXX(ctx, s.lastUsedKey(t.session), t.at.UnixMilli(), t.ttl)
		}
		return nil
	})
	clear(pending)
}

// closeLocal writes what is owed and stops the writer.
func (s *Store) closeLocal() {
	if s.local != nil {
		close(s.local.touches)
		<-s.local.done
	}
}
