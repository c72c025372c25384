package relay

import (
	"context"
	"io"
	"sync/atomic"
	"time"
)

// idleTimer ends an upstream request that sends nothing for too long. A
// healthy stream has no total limit: every byte that arrives restarts the
// clock.
type idleTimer struct {
	d       time.Duration
	timer   *time.Timer
	expired atomic.Bool
}

// watchIdle cancels the request through cancel when body goes quiet for d,
// and returns the body wrapped so every read restarts the clock.
func watchIdle(body io.ReadCloser, d time.Duration, cancel context.CancelFunc) (io.ReadCloser, *idleTimer) {
	t := &idleTimer{d: d}
	t.timer = time.AfterFunc(d, func() {
		t.expired.Store(true)
		cancel()
	})
	return &idleBody{ReadCloser: body, t: t}, t
}

func (t *idleTimer) stop() { t.timer.Stop() }

// Expired reports whether the timer ended the request.
func (t *idleTimer) Expired() bool { return t != nil && t.expired.Load() }

type idleBody struct {
	io.ReadCloser
	t *idleTimer
}

func (b *idleBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if n > 0 {
		b.t.timer.Reset(b.t.d)
	}
	return n, err
}
