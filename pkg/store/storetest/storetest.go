// Package storetest is the conformance suite for store.Store: the same cases
// run against the embedded miniredis and against a real Redis server, so the
// two backends cannot drift apart.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/proxy-dev/proxy/pkg/store"
)

// Advance moves the backend server's clock forward by d, expiring keys whose
// TTL runs out. It is nil for a server whose clock cannot be moved (a real
// Redis); the TTL cases then check PTTL bounds instead of waiting.
type Advance func(d time.Duration)

// Run runs the suite. open is called once per case and returns a client on a
// server (fresh or shared) plus its Advance; the suite builds its stores on
// that client under a unique key prefix, deletes its keys when the case ends,
// and closes nothing: the client belongs to open, which closes it through
// t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) (redis.UniversalClient, Advance)) {
	cases := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"LookupMiss", testLookupMiss},
		{"BindThenLookup", testBindThenLookup},
		{"BindKeepsExisting", testBindKeepsExisting},
		{"LookupRefreshesTTL", testLookupRefreshesTTL},
		{"ExpiresWithoutRefresh", testExpiresWithoutRefresh},
		{"BindConcurrent", testBindConcurrent},
		{"Rebind", testRebind},
		{"Drop", testDrop},
		{"Usage", testUsage},
		{"Sessions", testSessions},
		{"PrefixIsolation", testPrefixIsolation},
		{"InvalidArguments", testInvalidArguments},
		{"Cooldowns", testCooldowns},
		{"CountFailure", testCountFailure},
		{"Lock", testLock},
		{"Secrets", testSecrets},
	}
	run := runID(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			client, adv := open(t)
			e := &env{
				client: client,
				adv:    adv,
				clock:  &fakeClock{now: start},
				base:   fmt.Sprintf("storetest:%s:%s:", run, c.name),
			}
			t.Cleanup(func() { e.cleanup(t) })
			c.fn(t, e)
		})
	}
}

// start is just before midnight UTC, so the usage case can cross a day.
var start = time.Date(2025, 3, 14, 23, 0, 0, 0, time.UTC)

// ttl is the sessions TTL the cases use, the proxy's default.
const ttl = 30 * time.Minute

// slack bounds how much of a TTL a real server may burn between our write
// and our PTTL read.
const slack = 5 * time.Second

func runID(t *testing.T) string {
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatalf("run id: %v", err)
	}
	return hex.EncodeToString(b[:])
}

// env is one case's view of the backend.
type env struct {
	client redis.UniversalClient
	adv    Advance
	clock  *fakeClock
	base   string
	n      atomic.Int32
}

// store returns a new Store under a prefix of its own within this case.
func (e *env) store() (*store.Store, string) {
	prefix := fmt.Sprintf("%s%d:", e.base, e.n.Add(1))
	return store.New(e.client, store.Options{KeyPrefix: prefix, Now: e.clock.Now}), prefix
}

// elapse moves both the stores' clock and, when it can, the server's.
func (e *env) elapse(d time.Duration) {
	e.clock.add(d)
	if e.adv != nil {
		e.adv(d)
	}
}

// pttl is the remaining TTL of a raw key; negative when it has none or is gone.
func (e *env) pttl(t *testing.T, key string) time.Duration {
	t.Helper()
	d, err := e.client.PTTL(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("PTTL %s: %v", key, err)
	}
	return d
}

func (e *env) exists(t *testing.T, key string) bool {
	t.Helper()
	n, err := e.client.Exists(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("EXISTS %s: %v", key, err)
	}
	return n == 1
}

// keys lists every key under prefix, so a case can check that a call wrote
// nothing or left nothing behind, whatever keys a binding is made of.
func (e *env) keys(t *testing.T, prefix string) []string {
	t.Helper()
	var out []string
	var cursor uint64
	for {
		keys, next, err := e.client.Scan(context.Background(), cursor, prefix+"*", 500).Result()
		if err != nil {
			t.Fatalf("SCAN %s*: %v", prefix, err)
		}
		out = append(out, keys...)
		if next == 0 {
			return out
		}
		cursor = next
	}
}

// cleanup deletes every key the case wrote, which matters on a shared server.
func (e *env) cleanup(t *testing.T) {
	ctx := context.Background()
	var cursor uint64
	for {
		keys, next, err := e.client.Scan(ctx, cursor, e.base+"*", 500).Result()
		if err != nil {
			t.Errorf("cleanup scan: %v", err)
			return
		}
		if len(keys) > 0 {
			if err := e.client.Del(ctx, keys...).Err(); err != nil {
				t.Errorf("cleanup del: %v", err)
				return
			}
		}
		if next == 0 {
			return
		}
		cursor = next
	}
}

// fakeClock is the stores' injected clock; it moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func sessionKey(prefix, session string) string { return prefix + "session:" + session }
