package scheduler

import (
	"context"
	"errors"
	"sync"
	"time"
)

// storeRetryAfter is how long the scheduler stops asking a store that
// failed: requests must not each wait out a timeout while it is down.
const storeRetryAfter = 5 * time.Second

// breaker remembers a store outage so that requests skip the store for a
// while instead of each waiting for it to time out.
type breaker struct {
	mu        sync.Mutex
	downUntil time.Time
	down      bool
}

// allow reports whether the store may be asked now.
func (b *breaker) allow(now time.Time) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return !b.down || !now.Before(b.downUntil)
}

// StoreDown reports whether the session store is known to be unreachable:
// requests are then served without stickiness.
func (s *Scheduler) StoreDown() bool {
	s.breaker.mu.Lock()
	defer s.breaker.mu.Unlock()
	return s.breaker.down
}

// storeFailed records a failed store call made on ctx and reports whether
// it was an outage. A call cut short because ctx was cancelled (the client
// went away, the pool is closing) says nothing about the store: it neither
// trips the breaker, which would take stickiness from every user for
// storeRetryAfter, nor warns. A deadline that runs out is different: the
// caller's deadline is what bounds a store call (the pool runs selections
// on a context with a short timeout), so the store not answering within it
// is an outage, and the breaker must spare the next requests that wait.
func (s *Scheduler) storeFailed(ctx context.Context, err error) (outage bool) {
	if errors.Is(ctx.Err(), context.Canceled) || errors.Is(err, context.Canceled) {
		s.log.Debug("session store call cancelled with its request", "err", err)
		return false
	}
	s.breaker.mu.Lock()
	was := s.breaker.down
	s.breaker.down, s.breaker.downUntil = true, s.now().Add(storeRetryAfter)
	s.breaker.mu.Unlock()
	if !was {
		s.log.Warn("session store unavailable: serving without stickiness until it answers again", "err", err)
	}
	return true
}

func (s *Scheduler) storeAnswered() {
	s.breaker.mu.Lock()
	was := s.breaker.down
	s.breaker.down = false
	s.breaker.mu.Unlock()
	if was {
		s.log.Info("session store answers again: conversations are sticky again")
	}
}
