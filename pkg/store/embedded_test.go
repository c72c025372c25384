package store_test

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/store"
)

// TestEmbeddedClockExpires drives the embedded server's clock the way the
// clock goroutine does, with a fake time: a 30m binding left alone survives
// 29m and is gone at 31m.
func TestEmbeddedClockExpires(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	s := openEmbedded(t, clock)
	if !s.Embedded() {
		t.Fatal("Embedded() = false without a URL")
	}
	const ttl = 30 * time.Minute
	if _, _, err := s.Bind(ctx, store.Binding{Session: "s1", Account: "a"}, ttl); err != nil {
		t.Fatalf("Bind: %v", err)
	}
	c := store.ClientOf(s)

	clock.add(29 * time.Minute)
	store.SyncClock(s, clock.Now())
	// EXISTS, not Lookup: a Lookup would refresh the TTL.
	if n, err := c.Exists(ctx, "test:session:s1").Result(); err != nil || n != 1 {
		t.Fatalf("after 29m EXISTS = %d, %v; want the binding alive", n, err)
	}

	clock.add(2 * time.Minute)
	store.SyncClock(s, clock.Now())
	if b, ok, err := s.Lookup(ctx, "s1", ttl); err != nil || ok {
		t.Fatalf("after 31m Lookup = %+v, %v, %v; want a miss", b, ok, err)
	}
}

// TestEmbeddedClockBackwards checks that a clock stepping back neither
// revives nor stalls expiry.
func TestEmbeddedClockBackwards(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	s := openEmbedded(t, clock)
	const ttl = 10 * time.Minute
	if _, _, err := s.Bind(ctx, store.Binding{Session: "s1", Account: "a"}, ttl); err != nil {
		t.Fatalf("Bind: %v", err)
	}
	store.SyncClock(s, clock.Now().Add(-time.Hour))
	clock.add(-time.Hour + 11*time.Minute)
	store.SyncClock(s, clock.Now())
	if _, ok, err := s.Lookup(ctx, "s1", ttl); err != nil || ok {
		t.Fatalf("Lookup = %v, %v; want expired 11m after the step back", ok, err)
	}
}

// TestEmbeddedCloseStopsClock checks that Close does not leak the clock
// goroutine and may be called twice.
func TestEmbeddedCloseStopsClock(t *testing.T) {
	s, err := store.Open(context.Background(), store.Options{})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	done := store.ClockDone(s)
	select {
	case <-done:
		t.Fatal("clock goroutine stopped before Close")
	default:
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	select {
	case <-done:
	default:
		t.Fatal("clock goroutine still running after Close")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := store.ClientOf(s).Ping(context.Background()).Err(); err == nil {
		t.Error("client still answers after Close")
	}
}

// TestEmbeddedStickyHitsFromMemory: the embedded store answers a sticky hit
// from its own copy (nothing else writes to its server) and writes the TTL
// refresh to Redis behind it; binds, rebinds and drops keep the copy right.
func TestEmbeddedStickyHitsFromMemory(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	s := openEmbedded(t, clock)
	c := store.ClientOf(s)
	const ttl = 30 * time.Minute
	if _, _, err := s.Bind(ctx, store.Binding{Session: "s1", Account: "a", Type: "openai"}, ttl); err != nil {
		t.Fatal(err)
	}

	// Deleting the key behind the store's back shows where hits come from.
	if err := c.Del(ctx, "test:session:s1").Err(); err != nil {
		t.Fatal(err)
	}
	if b, ok, err := s.Lookup(ctx, "s1", ttl); err != nil || !ok || b.Account != "a" {
		t.Fatalf("hit from memory = %+v, %v, %v", b, ok, err)
	}

	// The refresh a hit owes is written to Redis behind it.
	if err := s.Rebind(ctx, store.Binding{Session: "s2", Account: "b", Type: "openai"}, ttl); err != nil {
		t.Fatal(err)
	}
	clock.add(20 * time.Minute)
	store.SyncClock(s, clock.Now())
	if b, ok, _ := s.Lookup(ctx, "s2", ttl); !ok || b.Account != "b" {
		t.Fatalf("rebound session = %+v, %v", b, ok)
	}
	store.Settle(s)
	if d := c.PTTL(ctx, "test:session:s2").Val(); d <= 25*time.Minute {
		t.Fatalf("TTL not refreshed in Redis: %s", d)
	}

	// A drop reaches the copy too.
	if err := s.Drop(ctx, "s2"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.Lookup(ctx, "s2", ttl); ok {
		t.Fatal("dropped session still found")
	}

	// Expiry follows the server's clock: without a hit for the TTL, gone.
	clock.add(31 * time.Minute)
	store.SyncClock(s, clock.Now())
	if _, ok, _ := s.Lookup(ctx, "s1", ttl); ok {
		t.Fatal("session found after its TTL without use")
	}
}

// TestEmbeddedRestoresLostKey: a sticky hit answered from the copy whose
// key is gone from the server (it expired between the hit and its refresh)
// writes the binding back, so listings and the server keep agreeing with
// the copy.
func TestEmbeddedRestoresLostKey(t *testing.T) {
	ctx := context.Background()
	clock := newClock()
	s := openEmbedded(t, clock)
	c := store.ClientOf(s)
	const ttl = 30 * time.Minute
	bound, _, err := s.Bind(ctx, store.Binding{Session: "s1", Account: "a", Type: "openai", Model: "gpt-5"}, ttl)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Del(ctx, "test:session:s1", "test:lastused:s1").Err(); err != nil {
		t.Fatal(err)
	}
	clock.add(time.Minute)
	store.SyncClock(s, clock.Now())
	if _, ok, err := s.Lookup(ctx, "s1", ttl); err != nil || !ok {
		t.Fatalf("hit from memory = %v, %v", ok, err)
	}
	store.Settle(s)
	if d := c.PTTL(ctx, "test:session:s1").Val(); d <= ttl-time.Second || d > ttl {
		t.Fatalf("PTTL of the restored key = %v, want about %v", d, ttl)
	}
	bs, err := s.Sessions(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(bs) != 1 || bs[0].Account != "a" || !bs[0].Created.Equal(bound.Created) || !bs[0].LastUsed.Equal(clock.Now()) {
		t.Fatalf("Sessions = %+v, want s1 on a, created %v, last used %v", bs, bound.Created, clock.Now())
	}
}

// TestEmbeddedIsPrivate: the embedded server holds bindings and rotated
// OAuth tokens and has no password, so Open must add no TCP listener to the
// process, and the Unix socket its client uses must sit in a directory
// only this user can enter. It is removed on Close.
func TestEmbeddedIsPrivate(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	before := tcpListeners(t)
	s, err := store.Open(context.Background(), store.Options{URL: "", KeyPrefix: "test:"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	after := tcpListeners(t)
	for inode, addr := range after {
		if _, ok := before[inode]; !ok {
			t.Errorf("Open added a TCP listener on %s", addr)
		}
	}

	dir := store.SocketDir(s)
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() || fi.Mode().Perm() != 0o700 {
		t.Errorf("socket directory %s mode %v, want drwx------", dir, fi.Mode())
	}
	sock := store.SocketPath(s)
	if filepath.Dir(sock) != dir {
		t.Errorf("socket %s is not in %s", sock, dir)
	}
	si, err := os.Stat(sock)
	if err != nil {
		t.Fatal(err)
	}
	if si.Mode()&os.ModeSocket == 0 || si.Mode().Perm()&0o077 != 0 {
		t.Errorf("socket %s mode %v, want a socket for its owner only", sock, si.Mode())
	}

	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("socket directory %s left after Close (%v)", dir, err)
	}
}

// tcpListeners returns this process's listening TCP sockets (IPv4 and
// IPv6), inode to local address: /proc/net/tcp* lists the network
// namespace's sockets, and the inodes behind /proc/self/fd say which are
// ours, so other processes starting servers meanwhile do not count.
func tcpListeners(t *testing.T) map[string]string {
	t.Helper()
	ours := map[string]bool{}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			ours[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	out := map[string]string{}
	for _, table := range []string{"/proc/self/net/tcp", "/proc/self/net/tcp6"} {
		f, err := os.Open(table)
		if os.IsNotExist(err) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(f)
		sc.Scan() // header
		for sc.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			f := strings.Fields(sc.Text())
			if len(f) < 10 || f[3] != "0A" { // 0A: LISTEN
				continue
			}
			if ours[f[9]] {
				out[f[9]] = fmt.Sprintf("%s (%s)", f[1], table)
			}
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	return out
}
