// Package storetest is the conformance suite for store.Store: the same cases
// run against the embedded miniredis and against a real Redis server, so the
// two backends cannot drift apart.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
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

// Target is one Store under test and what the suite needs to look behind
// it.
type Target struct {
	// Store is the Store under test, built the way the proxy builds it.
	Store *store.Store
	// Raw is a client on the Store's server, for what the Store's API
	// cannot show (PTTL, EXISTS, SCAN). Targets of one case that share a
	// Raw client share a server.
	Raw redis.UniversalClient
	// Advance moves the server's clock; the suite calls it once per server
	// after moving the Stores' clock by d. Nil when it cannot be moved.
	Advance Advance
	// Settle, when not nil, returns once every write the Store owes its
	// server is done (the embedded store writes a sticky hit's TTL refresh
	// behind it); the suite calls it before each raw read.
	Settle func()
}

// NewTarget returns a Store under prefix whose clock is now, ready for one
// case. It registers no cleanup of its own: what it opens is closed by the
// cleanup its open registered, which runs after the suite has deleted the
// case's keys through the Raw clients.
type NewTarget func(prefix string, now func() time.Time) Target

// Run runs the suite. open is called once per case, with the case's t, and
// returns how to make that case's Stores (a case may want several, under
// different prefixes): on one shared server, or each on a server of its own
// as the embedded store is. The suite deletes its keys when the case ends,
// before the cleanups open registered run.
func Run(t *testing.T, open func(t *testing.T) NewTarget) {
	cases := []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"LookupMiss", testLookupMiss},
		{"BindThenLookup", testBindThenLookup},
		{"BindKeepsExisting", testBindKeepsExisting},
		{"LookupRefreshesTTL", testLookupRefreshesTTL},
		{"ExpiresWithoutRefresh", testExpiresWithoutRefresh},
		{"LookupKeepsAliveAcrossTTLs", testLookupKeepsAlive},
		{"BindConcurrent", testBindConcurrent},
		{"Rebind", testRebind},
		{"ModelIsCut", testModelIsCut},
		{"RebindAfterHits", testRebindAfterHits},
		{"Drop", testDrop},
		{"DropAfterHits", testDropAfterHits},
		{"ConcurrentLookupAndDrop", testConcurrentLookupAndDrop},
		{"Usage", testUsage},
		{"Ledger", testLedger},
		{"Limits", testLimits},
		{"PeriodEnd", testPeriodEnd},
		{"Sessions", testSessions},
		{"SessionsSeeHits", testSessionsSeeHits},
		{"PrefixIsolation", testPrefixIsolation},
		{"InvalidArguments", testInvalidArguments},
		{"Cooldowns", testCooldowns},
		{"WatchCooldowns", testWatchCooldowns},
		{"CountFailure", testCountFailure},
		{"Windows", testWindows},
		{"Lock", testLock},
		{"Secrets", testSecrets},
		{"ItemRecords", testItemRecords},
		{"ConversationNotes", testConversationNotes},
		{"KeptCompactions", testKeptCompactions},
	}
	run := runID(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := &env{
				newTarget: open(t),
				clock:     &fakeClock{now: start},
				base:      fmt.Sprintf("storetest:%s:%s:", run, c.name),
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
	newTarget NewTarget
	clock     *fakeClock
	base      string
	n         atomic.Int32

	mu      sync.Mutex
	targets []target
}

// target is a Target and its prefix.
type target struct {
	Target
	prefix string
}

// store returns a new Store under a prefix of its own within this case.
func (e *env) store() (*store.Store, string) {
	prefix := fmt.Sprintf("%s%d:", e.base, e.n.Add(1))
	tg := e.newTarget(prefix, e.clock.Now)
	e.mu.Lock()
	e.targets = append(e.targets, target{tg, prefix})
	e.mu.Unlock()
	return tg.Store, prefix
}

// canAdvance reports whether the servers' clocks can be moved.
func (e *env) canAdvance() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, tg := range e.targets {
		if tg.Advance == nil {
			return false
		}
	}
	return true
}

// elapse moves the stores' clock and, where it can, each server's once.
func (e *env) elapse(d time.Duration) {
	e.clock.add(d)
	e.mu.Lock()
	defer e.mu.Unlock()
	seen := map[redis.UniversalClient]bool{}
	for _, tg := range e.targets {
		if tg.Advance != nil && !seen[tg.Raw] {
			seen[tg.Raw] = true
			tg.Advance(d)
		}
	}
}

// raw returns the client on the server that holds key, once the Store
// under the key's prefix has written what it owes.
func (e *env) raw(t *testing.T, key string) redis.UniversalClient {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	var found *target
	for i := range e.targets {
		tg := &e.targets[i]
		if strings.HasPrefix(key, tg.prefix) && (found == nil || len(tg.prefix) > len(found.prefix)) {
			found = tg
		}
	}
	if found == nil {
		t.Fatalf("no store holds key %s", key)
	}
	if found.Settle != nil {
		found.Settle()
	}
	return found.Raw
}

// pttl is the remaining TTL of a raw key; negative when it has none or is gone.
func (e *env) pttl(t *testing.T, key string) time.Duration {
	t.Helper()
	d, err := e.raw(t, key).PTTL(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("PTTL %s: %v", key, err)
	}
	return d
}

func (e *env) exists(t *testing.T, key string) bool {
	t.Helper()
	n, err := e.raw(t, key).Exists(context.Background(), key).Result()
	if err != nil {
		t.Fatalf("EXISTS %s: %v", key, err)
	}
	return n == 1
}

// get is a raw key's value; "" when it is gone.
func (e *env) get(t *testing.T, key string) string {
	t.Helper()
	v, err := e.raw(t, key).Get(context.Background(), key).Result()
	if errors.Is(err, redis.Nil) {
		return ""
	}
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	return v
}

// keys lists every key under prefix, so a case can check that a call wrote
// nothing or left nothing behind, whatever keys a binding is made of.
func (e *env) keys(t *testing.T, prefix string) []string {
	t.Helper()
	c := e.raw(t, prefix)
	var out []string
	var cursor uint64
	for {
		keys, next, err := c.Scan(context.Background(), cursor, prefix+"*", 500).Result()
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
	e.mu.Lock()
	defer e.mu.Unlock()
	seen := map[redis.UniversalClient]bool{}
	for _, tg := range e.targets {
		if seen[tg.Raw] {
			continue
		}
		seen[tg.Raw] = true
		if tg.Settle != nil {
			tg.Settle()
		}
		if err := deleteKeys(ctx, tg.Raw, e.base); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	}
}

func deleteKeys(ctx context.Context, c redis.UniversalClient, prefix string) error {
	var cursor uint64
	for {
		keys, next, err := c.Scan(ctx, cursor, prefix+"*", 500).Result()
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		if len(keys) > 0 {
			if err := c.Del(ctx, keys...).Err(); err != nil {
				return fmt.Errorf("del: %w", err)
			}
		}
		if next == 0 {
			return nil
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
