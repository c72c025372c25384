package store

import (
	"context"
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
type embedded struct {
	mr  *miniredis.Miniredis
	ln  net.Listener // the Unix socket the proxy's own client uses
	dir string       // holds the socket

	mu      sync.Mutex
	last    time.Time     // the clock reading TTLs have been advanced to
	elapsed time.Duration // how far TTLs have been advanced in all

	stop chan struct{}
	done chan struct{} // closed when the clock goroutine has returned
}

// openEmbedded starts a miniredis on loopback (never on a public interface:
// it has no password) and a Store on it.
func openEmbedded(ctx context.Context, o Options) (*Store, error) {
	mr := miniredis.NewMiniRedis()
	if err := mr.StartAddr("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("store: starting embedded redis: %w", err)
	}
	client, ln, sockDir := embeddedClient(mr)
	s := New(client, o)
	e := &embedded{
		mr:   mr,
		ln:   ln,
		dir:  sockDir,
		last: s.now(),
		stop: make(chan struct{}),
		done: make(chan struct{}),
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
		return nil, fmt.Errorf("store: connecting to embedded redis %s: %w", mr.Addr(), err)
	}
	return s, nil
}

// embeddedClient connects the proxy to its embedded server over a Unix
// socket, which costs less per round trip than loopback TCP; the TCP
// listener stays for anyone who wants to look in with redis-cli. Where no
// Unix socket can be made, the client uses TCP.
func embeddedClient(mr *miniredis.Miniredis) (redis.UniversalClient, net.Listener, string) {
	tcp := redis.NewClient(&redis.Options{Addr: mr.Addr()})
	dir, err := os.MkdirTemp("", "proxy-redis-")
	if err != nil {
		return tcp, nil, ""
	}
	sock := filepath.Join(dir, "redis.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		_ = os.RemoveAll(dir)
		return tcp, nil, ""
	}
	_ = tcp.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mr.Server().ServeConn(c)
		}
	}()
	return redis.NewClient(&redis.Options{Network: "unix", Addr: sock}), ln, dir
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

// close stops the clock goroutine, waits for it, then stops the server.
func (e *embedded) close() {
	close(e.stop)
	<-e.done
	if e.ln != nil {
		_ = e.ln.Close()
		_ = os.RemoveAll(e.dir)
	}
	e.mr.Close()
}
