package health

import (
	"context"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
)

// slots bounds one account's streams in flight; a nil channel means no
// bound. The in-flight count lives beside it in the Tracker, per name, so a
// reload that changes the bound never loses track of streams started before.
type slots struct {
	sem chan struct{}
}

// slotsFor returns the account's slots, made anew when its bound changed.
// Callers hold t.mu.
func (t *Tracker) slotsFor(a *account.Account) *slots {
	s := t.slots[a.Name]
	if s == nil || cap(s.sem) != a.MaxConcurrency {
		ns := &slots{}
		if a.MaxConcurrency > 0 {
			ns.sem = make(chan struct{}, a.MaxConcurrency)
		}
		t.slots[a.Name] = ns
		s = ns
	}
	return s
}

// HasSlot reports whether the account can take one more stream now.
func (t *Tracker) HasSlot(a *account.Account) bool {
	if a.MaxConcurrency <= 0 {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s := t.slotsFor(a)
	return len(s.sem) < cap(s.sem)
}

// Acquire takes a slot of the account, waiting up to wait for one to free;
// ok is false when none did. release must be called once the stream ends.
func (t *Tracker) Acquire(ctx context.Context, a *account.Account, wait time.Duration) (release func(), ok bool) {
	t.mu.Lock()
	s := t.slotsFor(a)
	t.mu.Unlock()
	if s.sem != nil {
		select {
		case s.sem <- struct{}{}:
		default:
			if wait <= 0 {
				return nil, false
			}
			timer := time.NewTimer(wait)
			defer timer.Stop()
			select {
			case s.sem <- struct{}{}:
			case <-timer.C:
				return nil, false
			case <-ctx.Done():
				return nil, false
			}
		}
	}
	t.mu.Lock()
	t.inflight[a.Name]++
	t.mu.Unlock()
	return func() {
		t.mu.Lock()
		t.inflight[a.Name]--
		t.mu.Unlock()
		if s.sem != nil {
			<-s.sem // the semaphore this stream took, even if replaced since
		}
	}, true
}

// InFlight is the account's number of streams in flight in this instance.
func (t *Tracker) InFlight(name string) int {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.inflight[name]
}
