package relay

import (
	"runtime/debug"
	"sync"
	"time"
)

// TrimAfter is how many body bytes given back, since the last trim, make
// the process hand its free memory back to the system once no body is
// held; trimDelay is how long no body must be held first. After a burst
// of large bodies the Go runtime would keep their pages for minutes (until
// its forced collection every two minutes and its slow scavenger), so a
// proxy that is idle again would stay at the burst's size.
const (
	TrimAfter = 64 << 20
	trimDelay = 2 * time.Second
)

// Budget bounds the request bodies the whole process holds in memory at
// once, decompressed ones included: many large bodies arriving together
// get a clear 503 instead of taking the machine's memory.
type Budget struct {
	mu       sync.Mutex
	used     int64
	limit    int64
	given    int64     // bytes given back since the last trim
	pending  bool      // a trim is scheduled
	last     time.Time // when a body was last taken or given back
	now      func() time.Time
	schedule func(func())
	trim     func()
}

// NewBudget returns a budget of limit bytes; limit <= 0 is no limit.
func NewBudget(limit int64) *Budget {
	return &Budget{limit: limit,
		now:      time.Now,
		schedule: func(f func()) { time.AfterFunc(trimDelay, f) },
		trim:     debug.FreeOSMemory,
	}
}

// take reserves n bytes, or reports false when they would pass the limit.
func (b *Budget) take(n int64) bool {
	if b == nil || b.limit <= 0 {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.used+n > b.limit {
		return false
	}
	b.used += n
	b.last = b.now()
	return true
}

// give returns n reserved bytes.
func (b *Budget) give(n int64) {
	if b == nil || b.limit <= 0 || n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	b.given += n
	b.last = b.now()
	idleAfterBurst := b.used == 0 && b.given >= TrimAfter && !b.pending
	if idleAfterBurst {
		b.pending = true
	}
	b.mu.Unlock()
	if idleAfterBurst {
		b.schedule(b.trimIfIdle)
	}
}

// trimIfIdle hands free memory back to the system once no body has been
// held for trimDelay; while bodies keep coming and going it waits again,
// and while one is held the next give that leaves none schedules it anew.
func (b *Budget) trimIfIdle() {
	b.mu.Lock()
	quiet := b.now().Sub(b.last)
	switch {
	case b.used > 0:
		b.pending = false
		b.mu.Unlock()
		return
	case quiet < trimDelay:
		b.mu.Unlock()
		b.schedule(b.trimIfIdle)
		return
	}
	b.pending, b.given = false, 0
	b.mu.Unlock()
	// A full collection, off every request: the proxy is idle.
	b.trim()
}

// Used is how many bytes are reserved now.
func (b *Budget) Used() int64 {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used
}

// Limit is the budget's size; 0 when unbounded.
func (b *Budget) Limit() int64 {
	if b == nil {
		return 0
	}
	return b.limit
}
