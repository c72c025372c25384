package event

import (
	"sync"
	"sync/atomic"
)

// Bus fans decisions out to subscribers without ever blocking the request
// path: a subscriber that falls behind loses events, and the loss is counted.
type Bus struct {
	mu      sync.Mutex
	subs    map[*Subscription]struct{}
	dropped atomic.Uint64
}

// NewBus returns a bus with no subscribers.
func NewBus() *Bus {
	return &Bus{subs: map[*Subscription]struct{}{}}
}

// Subscription receives decisions on C until it is cancelled.
type Subscription struct {
	C   <-chan Decision
	c   chan Decision
	bus *Bus
}

// Subscribe returns a subscription buffering up to buffer decisions.
func (b *Bus) Subscribe(buffer int) *Subscription {
	c := make(chan Decision, buffer)
	s := &Subscription{C: c, c: c, bus: b}
	b.mu.Lock()
	b.subs[s] = struct{}{}
	b.mu.Unlock()
	return s
}

// Cancel stops delivery and closes C.
func (s *Subscription) Cancel() {
	s.bus.mu.Lock()
	defer s.bus.mu.Unlock()
	if _, ok := s.bus.subs[s]; ok {
		delete(s.bus.subs, s)
		close(s.c)
	}
}

// Publish delivers d to every subscriber with room for it.
func (b *Bus) Publish(d Decision) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		select {
		case s.c <- d:
		default:
			b.dropped.Add(1)
		}
	}
}

// Dropped counts decisions lost to slow subscribers.
func (b *Bus) Dropped() uint64 { return b.dropped.Load() }
