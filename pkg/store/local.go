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
//
// Two rules keep the copy and Redis agreeing:
//   - an entry never outlives its Redis key: its expiry is taken on the
//     server's clock before the write that sets the key's TTL, a refresh
//     is written to Redis after the entry was pushed back, and a refresh
//     that finds the key already expired writes it back from the entry;
//   - listings see every refresh owed when they start (Sessions writes
//     them first), and a refresh owed before a Drop or Rebind is never
//     written after it.
type localBindings struct {
	// elapsed is the embedded server's own clock: the time its TTLs have
	// been advanced by. Expiry here follows it, so the copy and the server
	// agree even when the wall clock steps back.
	elapsed func() time.Duration

	mu      sync.Mutex
	entries map[string]localEntry
	pending map[string]touch // refreshes owed to Redis, the latest per session
	// epoch counts the Drops and Rebinds. A binding read from or written
	// to Redis enters the copy only if none happened since the read or
	// write began: else the copy could keep what a Drop just deleted.
	epoch uint64

	// writeMu orders the writes of owed refreshes among themselves and
	// with Drop and Rebind, so an older refresh never lands after a newer
	// write of the same session.
	writeMu sync.Mutex

	wake chan struct{} // capacity 1: refreshes are owed
	stop chan struct{} // closed by closeLocal
	done chan struct{} // closed when the writer has returned
}

type localEntry struct {
	b       Binding
	expires time.Duration // on the elapsed clock
}

// touch is a TTL refresh owed to Redis.
type touch struct {
	ttl time.Duration
	at  time.Time
}

func newLocalBindings(elapsed func() time.Duration) *localBindings {
	return &localBindings{
		elapsed: elapsed,
		entries: map[string]localEntry{},
		pending: map[string]touch{},
		wake:    make(chan struct{}, 1),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
	}
}

// get returns a live binding, pushing its expiry back to ttl from now and
// owing Redis the same refresh. Owed refreshes are kept per session, so
// they are never dropped, however many hits come before the writer runs.
func (l *localBindings) get(session string, now time.Time, ttl time.Duration) (Binding, bool) {
	l.mu.Lock()
	e, ok := l.entries[session]
	if !ok {
		l.mu.Unlock()
		return Binding{}, false
	}
	at := l.elapsed()
	if at >= e.expires {
		delete(l.entries, session)
		l.mu.Unlock()
		return Binding{}, false
	}
	e.expires = at + ttl
	e.b.LastUsed = time.UnixMilli(now.UnixMilli()).UTC()
	l.entries[session] = e
	l.pending[session] = touch{ttl: ttl, at: now}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return e.b, true
}

// mark is the copy's state when a Redis round trip begins.
type mark struct {
	since time.Duration // the server's clock
	epoch uint64
}

func (l *localBindings) mark() mark {
	l.mu.Lock()
	defer l.mu.Unlock()
	return mark{since: l.elapsed(), epoch: l.epoch}
}

// put records b as read from or written to Redis with ttl in a round trip
// that began at m. The entry expires on the clock read before the round
// trip, so never after the key; it is left out when a Drop or Rebind ran
// meanwhile, and the next Lookup reads Redis.
func (l *localBindings) put(b Binding, ttl time.Duration, m mark) {
	l.mu.Lock()
	if l.epoch == m.epoch {
		l.entries[b.Session] = localEntry{b: b, expires: m.since + ttl}
	}
	l.mu.Unlock()
}

// forget drops the session's entry and any refresh it is owed.
func (l *localBindings) forget(session string) {
	l.mu.Lock()
	delete(l.entries, session)
	delete(l.pending, session)
	l.mu.Unlock()
}

// replace ends a Drop (b nil) or Rebind (b the new binding, written with
// ttl in a round trip that began at m): the session's entry becomes what
// Redis now holds, and every round trip still in flight is kept out of the
// copy.
func (l *localBindings) replace(session string, b *Binding, ttl time.Duration, m mark) {
	l.mu.Lock()
	l.epoch++
	delete(l.pending, session)
	if b != nil {
		l.entries[session] = localEntry{b: *b, expires: m.since + ttl}
	} else {
		delete(l.entries, session)
	}
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

// takePending returns the owed refreshes and starts a new set.
func (l *localBindings) takePending() map[string]touch {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.pending) == 0 {
		return nil
	}
	p := l.pending
	l.pending = map[string]touch{}
	return p
}

// touchDelay is how long owed refreshes gather before they are written,
// so a busy conversation's hits cost one write between them instead of a
// write each, taken from the CPU the requests themselves need. It is far
// below any binding TTL, and listings write what is owed first.
const touchDelay = 250 * time.Millisecond

// writeBehind writes owed refreshes to Redis, those of touchDelay in one
// pipeline, and sweeps expired entries every tick, until closeLocal.
func (s *Store) writeBehind(tick <-chan time.Time) {
	l := s.local
	defer close(l.done)
	gather := time.NewTimer(touchDelay)
	gather.Stop()
	gathering := false
	for {
		select {
		case <-l.stop:
			gather.Stop()
			s.writeOwed(context.Background())
			return
		case <-l.wake:
			if !gathering {
				gather.Reset(touchDelay)
				gathering = true
			}
		case <-gather.C:
			gathering = false
			s.writeOwed(context.Background())
		case <-tick:
			l.sweep()
		}
	}
}

// writeOwed writes every refresh owed so far. It returns once they are in
// Redis (or failed: a refresh is best effort, and the copy stays right).
// The write is bounded by a short timeout of its own besides ctx.
func (s *Store) writeOwed(ctx context.Context) {
	l := s.local
	l.writeMu.Lock()
	defer l.writeMu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	s.writeTouches(ctx, l.takePending())
}

// writeTouches refreshes the TTL and LastUsed of each pending session, as
// Lookup does on a shared Redis. A key that expired on the server before its
// refresh arrived (a hit in the last moment of its TTL, a clock tick in
// between) is written again from the copy, which the hit kept alive.
func (s *Store) writeTouches(ctx context.Context, pending map[string]touch) {
	if len(pending) == 0 {
		return
	}
	extended := make(map[string]*redis.BoolCmd, len(pending))
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for session, t := range pending {
			extended[session] = p.PExpire(ctx, s.sessionKey(session), t.ttl)
			p.SetXX(ctx, s.lastUsedKey(session), t.at.UnixMilli(), t.ttl)
		}
		return nil
	})
	if err != nil {
		return
	}
	var lost []Binding
	s.local.mu.Lock()
	for session, cmd := range extended {
		if cmd.Val() {
			continue
		}
		if e, ok := s.local.entries[session]; ok {
			lost = append(lost, e.b)
		}
	}
	s.local.mu.Unlock()
	if len(lost) == 0 {
		return
	}
	_, _ = s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, b := range lost {
			v, err := encodeBinding(b)
			if err != nil {
				continue
			}
			t := pending[b.Session]
			p.SetNX(ctx, s.sessionKey(b.Session), v, t.ttl)
			p.Set(ctx, s.lastUsedKey(b.Session), t.at.UnixMilli(), t.ttl)
		}
		return nil
	})
}

// closeLocal writes what is owed and stops the writer.
func (s *Store) closeLocal() {
	if s.local != nil {
		close(s.local.stop)
		<-s.local.done
	}
}
