package scheduler

import (
	"sync"
	"time"
)

// DefaultRemembered is how many conversations an instance remembers the
// account of, for when the store fails: at least half of it, the most
// recently served, are always remembered, and never more than all of it
// (about 150 bytes each, 2.5 MB at the most).
const DefaultRemembered = 16384

// WithRemembered sets how many conversations' accounts the instance
// remembers for a store outage (DefaultRemembered; at least 2).
func WithRemembered(n int) Option {
	return func(s *Scheduler) { s.mem = newMemory(n) }
}

// memory is the instance's own record of which account each conversation
// it served is bound to. It is read only when the store fails, so that a
// conversation keeps its account (and its prompt cache) through an outage
// instead of being placed again by weights and headroom. Writing it is a
// map write on every selection; it is bounded by two generations: when the
// current one is full it becomes the old one and the older is dropped, so
// the conversations served least recently are forgotten first, with no
// per-entry bookkeeping.
type memory struct {
	half int // entries per generation

	mu       sync.Mutex
	cur, old map[string]remembered
}

type remembered struct {
	account string
	used    time.Time
}

func newMemory(n int) *memory {
	half := max(n/2, 1)
	return &memory{half: half, cur: map[string]remembered{}}
}

// note records that session is bound to account as of now.
func (m *memory) note(session, account string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.put(session, remembered{account: account, used: now})
}

// put adds e, turning the generations over when the current one is full.
// m.mu is held.
func (m *memory) put(session string, e remembered) {
	if _, ok := m.cur[session]; !ok && len(m.cur) >= m.half {
		m.old, m.cur = m.cur, map[string]remembered{}
	}
	m.cur[session] = e
}

// recall returns the account session was last bound to, unless that was
// longer than ttl ago (its binding would have expired in the store too).
func (m *memory) recall(session string, now time.Time, ttl time.Duration) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.cur[session]
	if !ok {
		if e, ok = m.old[session]; ok {
			// Still in use: keep it past the next turnover.
			m.put(session, e)
		}
	}
	if !ok || (ttl > 0 && now.Sub(e.used) > ttl) {
		return "", false
	}
	return e.account, true
}

// len is how many conversations are remembered, for tests.
func (m *memory) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.cur) + len(m.old)
}
