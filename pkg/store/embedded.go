package store

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// clockTick is how often the embedded server's clock catches up with real
// time; expiry is late by at most this much.
const clockTick = time.Second

// embedded is an in-process miniredis plus the goroutine that moves its
// clock. miniredis never expires keys on its own (TTLs only shrink on
// FastForward), so without this sessions would live forever in
// `proxy serve`.
//
// The server is private to the process: it holds bindings and rotated
// OAuth tokens and has no password, so it has no TCP listener at all. The
// proxy's own client reaches it over a Unix socket in a directory only the
// proxy's user may enter. To look inside, use `proxy sessions` and
// /_proxy/status, which ask the running proxy.
type embedded struct {
	mr       *miniredis.Miniredis
	ln       net.Listener  // the Unix socket the proxy's own client uses
	dir      string        // holds the socket; mode 0700
	accepted chan struct{} // closed when the accept loop has returned

	mu      sync.Mutex
	last    time.Time     // the clock reading TTLs have been advanced to
	elapsed time.Duration // how far TTLs have been advanced in all

	stop chan struct{}
	done chan struct{} // closed when the clock goroutine has returned
}

// openEmbedded starts a miniredis with no network listener, serves it on a
// private Unix socket and returns a Store on it.
func openEmbedded(ctx context.Context, o Options) (*Store, error) {
	mr, err := startPrivate()
	if err != nil {
		return nil, fmt.Errorf("store: starting embedded redis: %w", err)
	}
	ln, dir, accepted, err := listenPrivate(mr)
	if err != nil {
		mr.Close()
		return nil, fmt.Errorf("store: starting embedded redis: %w", err)
	}
	client := redis.NewClient(&redis.Options{Network: "unix", Addr: ln.Addr().String()})
	s := New(client, o)
	e := &embedded{
		mr:       mr,
		ln:       ln,
		dir:      dir,
		accepted: accepted,
		last:     s.now(),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
	}
	// TIME and PEXPIREAT follow the same clock as the TTLs.
	mr.SetTime(e.last)
	s.emb = e
	s.local = newLocalBindings(e.elapsedNow)
	sweepTicker := time.NewTicker(clockTick)
	go func() {
		defer sweepTicker.Stop()
		s.writeBehind(sweepTicker.C)
	}()
	ticker := time.NewTicker(clockTick)
	go func() {
		defer ticker.Stop()
		e.run(s.now, ticker.C)
	}()
	if err := s.client.Ping(ctx).Err(); err != nil {
		_ = s.Close()
		return nil, fmt.Errorf("store: connecting to embedded redis: %w", err)
	}
	return s, nil
}

// startPrivate starts a miniredis without a listener. miniredis starts a
// server with no listener when it is first dialled in-process before any
// Start; that first in-process connection is closed at once, since a
// net.Pipe has no buffer and a pipeline larger than miniredis's read buffer
// would deadlock on it. Connections then come from listenPrivate.
func startPrivate() (*miniredis.Miniredis, error) {
	mr := miniredis.NewMiniRedis()
	c, err := mr.Dial()
	if err != nil {
		return nil, err
	}
	_ = c.Close()
	if mr.Server() == nil {
		return nil, errors.New("miniredis did not start")
	}
	return mr, nil
}

// listenPrivate serves mr on a Unix socket in a new directory that only
// this user can enter (os.MkdirTemp makes it 0700; checked, since the
// directory is all that keeps other local users out). The socket itself is
// made 0600 too, for systems that honour socket file modes.
// The returned channel is closed once the accept loop has stopped, after
// the listener is closed.
func listenPrivate(mr *miniredis.Miniredis) (net.Listener, string, chan struct{}, error) {
	dir, err := os.MkdirTemp("", "proxy-redis-")
	if err != nil {
		return nil, "", nil, fmt.Errorf("making its socket directory: %w", err)
	}
	fail := func(err error) (net.Listener, string, chan struct{}, error) {
		_ = os.RemoveAll(dir)
		return nil, "", nil, err
	}
	fi, err := os.Stat(dir)
	if err != nil {
		return fail(fmt.Errorf("checking its socket directory: %w", err))
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return fail(fmt.Errorf("its socket directory %s has mode %o, want 0700", dir, perm))
	}
	sock := filepath.Join(dir, "redis.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return fail(fmt.Errorf("listening on its socket (set TMPDIR to a shorter path if it is too long): %w", err))
	}
	if err := os.Chmod(sock, 0o600); err != nil {
		_ = ln.Close()
		return fail(fmt.Errorf("restricting its socket: %w", err))
	}
	srv := mr.Server()
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			srv.ServeConn(c)
		}
	}()
	return ln, dir, accepted, nil
}

// run advances the server's clock on every tick until close.
func (e *embedded) run(now func() time.Time, tick <-chan time.Time) {
	defer close(e.done)
	for {
		select {
		case <-e.stop:
			return
		case <-tick:
			e.sync(now())
		}
	}
}

// sync advances the server's TTLs by the time elapsed since the last call,
// expiring what is due. A clock that went backwards only resets the baseline:
// TTLs never grow back, and expiry does not stall until the clock catches up.
func (e *embedded) sync(now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	d := now.Sub(e.last)
	e.last = now
	if d > 0 {
		e.mr.FastForward(d)
		e.elapsed += d
	}
	e.mr.SetTime(now)
}

// elapsedNow is how far the server's TTLs have been advanced: the clock of
// its expiry, which never runs backwards.
func (e *embedded) elapsedNow() time.Duration {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.elapsed
}

// close stops the clock goroutine, waits for it, then stops the socket (and
// waits for its accept loop, so no connection reaches a closed server) and
// the server, and removes the socket's directory.
func (e *embedded) close() {
	close(e.stop)
	<-e.done
	_ = e.ln.Close()
	<-e.accepted
	e.mr.Close()
	_ = os.RemoveAll(e.dir)
}
