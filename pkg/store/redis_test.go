package store_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/proxy-dev/proxy/pkg/store"
	"github.com/proxy-dev/proxy/pkg/store/storetest"
)

// redisURL returns PROXY_TEST_REDIS_URL, skipping the test without it unless
// PROXY_REQUIRE_E2E=1 says the real-server run must not be skipped.
func redisURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("PROXY_TEST_REDIS_URL")
	if u != "" {
		return u
	}
	if os.Getenv("PROXY_REQUIRE_E2E") == "1" {
		t.Fatal("PROXY_REQUIRE_E2E=1 but PROXY_TEST_REDIS_URL is not set: the real Redis run is required")
	}
	t.Skip("PROXY_TEST_REDIS_URL not set: skipping the real Redis run (e.g. PROXY_TEST_REDIS_URL=redis://127.0.0.1:6379/15)")
	return ""
}

// TestRedis runs the conformance suite on a real server. Its clock cannot be
// moved, so the TTL cases check PTTL bounds; every case uses a key prefix of
// its own and deletes its keys.
func TestRedis(t *testing.T) {
	u := redisURL(t)
	opts, err := redis.ParseURL(u)
	if err != nil {
		t.Fatalf("PROXY_TEST_REDIS_URL: %v", err)
	}
	storetest.Run(t, func(t *testing.T) storetest.NewTarget {
		c := redis.NewClient(opts)
		t.Cleanup(func() { _ = c.Close() })
		if err := c.Ping(context.Background()).Err(); err != nil {
			t.Fatalf("ping %s: %v", opts.Addr, err)
		}
		return func(prefix string, now func() time.Time) storetest.Target {
			return storetest.Target{Store: store.New(c, store.Options{KeyPrefix: prefix, Now: now}), Raw: c}
		}
	})
}

// TestOpenRedis checks that Open reaches a real server by URL.
func TestOpenRedis(t *testing.T) {
	u := redisURL(t)
	s, err := store.Open(context.Background(), store.Options{URL: u, KeyPrefix: "storetest-open:"})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if s.Embedded() {
		t.Error("Embedded() = true for a URL")
	}
	if _, ok, err := s.Lookup(context.Background(), "none", 60e9); err != nil || ok {
		t.Errorf("Lookup = %v, %v; want a clean miss", ok, err)
	}
}
