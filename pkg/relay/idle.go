package relay

import (
	"context"
	"io"
	"sync/atomic"
	"time"
)

// idleTimer ends an upstream request that makes no progress for too long.
// A healthy stream has no total limit: each piece of progress restarts the
// clock. For an event stream progress is a complete event, so bytes that
// trickle in without ever completing one are a silence like any other;
// for any other body it is a read that returns bytes.
type idleTimer struct {
	d       time.Duration
	timer   *time.Timer
	base    time.Time    // the clock's origin: last counts from here
	last    atomic.Int64 // when progress was last made, in ns since base
	events  atomic.Bool  // only complete events count as progress
	expired atomic.Bool
	stopped atomic.Bool
}

// watchIdle cancels the request through cancel when body makes no progress
// for d, and returns the body wrapped so every read counts as progress
// until perEvent says only events do.
func watchIdle(body io.ReadCloser, d time.Duration, cancel context.CancelFunc) (io.ReadCloser, *idleTimer) {
	t := &idleTimer{d: d, base: time.Now()}
	t.timer = time.AfterFunc(d, func() { t.fire(cancel) })
	return &idleBody{ReadCloser: body, t: t}, t
}

// fire runs when the timer goes off. Progress does not move the timer
// (a Reset per event costs more than a store); the timer, when it goes
// off, looks at when progress was last made and sleeps again for what is
// left, so the bound stays exactly d without paying for it per event.
func (t *idleTimer) fire(cancel context.CancelFunc) {
	if t.stopped.Load() {
		return
	}
	if quiet := time.Since(t.base) - time.Duration(t.last.Load()); quiet < t.d {
		t.timer.Reset(t.d - quiet)
		return
	}
	t.expired.Store(true)
	cancel()
}

// progress restarts the clock.
func (t *idleTimer) progress() {
	if t != nil {
		t.last.Store(int64(time.Since(t.base)))
	}
}

// perEvent makes only complete events count as progress from now on: the
// body is an event stream, and the relay calls progress for each event.
func (t *idleTimer) perEvent() {
	if t != nil {
		t.events.Store(true)
	}
}

func (t *idleTimer) stop() {
	t.stopped.Store(true)
	t.timer.Stop()
}

// idleCause says why the timer ended a stream, for the client and the
// account's status.
func idleCause(d time.Duration) string {
	return "upstream sent no complete event for " + d.String() + " (timeouts.stream_idle)"
}

// Expired reports whether the timer ended the request.
func (t *idleTimer) Expired() bool { return t != nil && t.expired.Load() }

type idleBody struct {
	io.ReadCloser
	t *idleTimer
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 && !b.t.events.Load() {
		b.t.progress()
	}
	return n, err
}
