package admin

import "github.com/proxy-dev/proxy/pkg/event"

// ring keeps the last n decisions, oldest overwritten first.
type ring struct {
	buf  []event.Decision
	next int
	full bool
}

func newRing(n int) *ring { return &ring{buf: make([]event.Decision, n)} }

func (r *ring) add(d event.Decision) {
	r.buf[r.next] = d
	r.next = (r.next + 1) % len(r.buf)
	if r.next == 0 {
		r.full = true
	}
}

// all returns the kept decisions, oldest first, as a copy.
func (r *ring) all() []event.Decision {
	if !r.full {
		return append([]event.Decision(nil), r.buf[:r.next]...)
	}
	out := make([]event.Decision, 0, len(r.buf))
	out = append(out, r.buf[r.next:]...)
	return append(out, r.buf[:r.next]...)
}
