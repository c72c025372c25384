package e2e_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/proxy-dev/proxy/pkg/cmd/serve"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/status"
)

// sharedRedis returns the URL of the Redis two proxies share and a key
// prefix of this test's own: the real server CI provides when
// PROXY_TEST_REDIS_URL is set, else a miniredis (a real Redis protocol
// server on loopback).
func sharedRedis(t *testing.T) (url, prefixYAML string) {
	t.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	prefix := "e2e-" + hex.EncodeToString(b[:]) + ":"
	prefixYAML = fmt.Sprintf("redis:\n  key_prefix: %q\n", prefix)
	if u := os.Getenv("PROXY_TEST_REDIS_URL"); u != "" {
		// Registered before the proxies start, so it runs after they stop:
		// some keys (the cooldowns hash, shared tokens) have no TTL and
		// would stay in the test database for ever.
		t.Cleanup(func() { dropPrefix(t, u, prefix) })
		return u, prefixYAML
	}
	if os.Getenv("PROXY_REQUIRE_E2E") == "1" {
		t.Fatal("PROXY_REQUIRE_E2E=1 but PROXY_TEST_REDIS_URL is not set")
	}
	t.Log("PROXY_TEST_REDIS_URL not set: two instances share a miniredis")
	return "redis://" + miniredis.RunT(t).Addr() + "/0", prefixYAML
}

// dropPrefix deletes every key under prefix in the Redis at url.
func dropPrefix(t *testing.T, url, prefix string) {
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Errorf("PROXY_TEST_REDIS_URL: %v", err)
		return
	}
	c := redis.NewClient(opts)
	defer c.Close()
	ctx := context.Background()
	iter := c.Scan(ctx, 0, prefix+"*", 100).Iterator()
	for iter.Next(ctx) {
		if err := c.Del(ctx, iter.Val()).Err(); err != nil {
			t.Errorf("cleaning up %s: %v", prefix, err)
			return
		}
	}
	if err := iter.Err(); err != nil {
		t.Errorf("cleaning up %s: %v", prefix, err)
	}
}

func replier(body string) string {
	if m := replyFrom.FindStringSubmatch(body); m != nil {
		return m[1]
	}
	return ""
}

func TestTwoInstancesActAsOnePool(t *testing.T) {
	redisURL, prefix := sharedRedis(t)

	t.Run("sessions alternating between instances stay on one account", func(t *testing.T) {
		a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
		b := startUpstream(t, "b", fakeupstream.WithAPIKey(keyB))
		c := startUpstream(t, "c", fakeupstream.WithAPIKey(keyB))
		cfg := prefix + "accounts:\n" + openaiAccount("a", a, "KEY_A", 1) + openaiAccount("b", b, "KEY_B", 1) + openaiAccount("c", c, "KEY_B", 1)
		p1 := startProxy(t, cfg, env, withRedis(redisURL))
		p2 := startProxy(t, cfg, env, withRedis(redisURL))
		for i := range 12 {
			sess := fmt.Sprint("alt-", i)
			served := map[string]bool{}
			for turn := range 4 {
				p := []*running{p1, p2}[turn%2]
				status, _, body := post(t, p.URL, sess)
				if status != 200 {
					t.Fatalf("%s turn %d: %d %s", sess, turn, status, body)
				}
				served[replier(body)] = true
			}
			if len(served) != 1 {
				t.Fatalf("session %s served by %v across the two instances", sess, served)
			}
		}
		if !strings.Contains(p2.Logs.String(), "reason=sticky") {
			t.Fatal("the second instance never found a binding the first made")
		}
	})

	t.Run("a cooldown seen by one instance keeps the other off the account", func(t *testing.T) {
		a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
		standby := startUpstream(t, "standby", fakeupstream.WithAPIKey(keyB))
		a.Script(fakeupstream.QuotaExceeded(time.Now().Add(time.Hour)))
		cfg := prefix + "accounts:\n" + openaiAccount("a", a, "KEY_A", 1) + openaiAccount("standby", standby, "KEY_B", 0)
		p1 := startProxy(t, cfg, env, withRedis(redisURL))
		// The second instance never rereads the cooldowns during the test:
		// only the push from the first can tell it.
		p2 := startProxy(t, cfg, env, withRedis(redisURL), func(o *serve.ServeOptions) { o.CooldownSync = time.Hour })
		if _, _, body := post(t, p1.URL, "cd-1"); replier(body) != "standby" {
			t.Fatalf("first instance: %s", body)
		}
		waitForCooldown(t, p2, "a")
		for i := range 3 {
			if _, _, body := post(t, p2.URL, fmt.Sprint("cd-new-", i)); replier(body) != "standby" {
				t.Fatalf("second instance: %s", body)
			}
		}
		if n := len(a.Requests()); n != 1 {
			t.Fatalf("the limited account saw %d requests, want 1 (the second instance tried it %d times)", n, n-1)
		}
	})

	t.Run("concurrent 401s on both instances cause one token refresh", func(t *testing.T) {
		fresh := jwt(time.Now().Add(time.Hour), "fresh-multi")
		revoked := jwt(time.Now().Add(time.Hour), "revoked-multi")
		ts := newTokenServer(t, fresh)
		up := startUpstream(t, "chatgpt", fakeupstream.WithChatGPT(fresh, "acct-1"))
		cfg := fmt.Sprintf("%soauth:\n  token_url: %s\naccounts:\n  - name: chatgpt\n    type: openai-responses\n    base_url: %s/backend-api/codex\n    access_token: %s\n    refresh_token: refresh-1\n    account_id: acct-1\n",
			prefix, ts.URL, up.URL(), revoked)
		p1 := startProxy(t, cfg, env, withRedis(redisURL))
		p2 := startProxy(t, cfg, env, withRedis(redisURL))
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				p := []*running{p1, p2}[i%2]
				if status, _, body := post(t, p.URL, fmt.Sprint("r-", i)); status != 200 || replier(body) != "chatgpt" {
					t.Errorf("request %d: %d %s", i, status, body)
				}
			}()
		}
		wg.Wait()
		if n := ts.refreshes.Load(); n != 1 {
			t.Fatalf("%d token refreshes across two instances, want 1", n)
		}
	})
}

// waitForCooldown returns once p's status shows the account cooling down.
// The push that tells it arrives within milliseconds; the bound only keeps
// a broken push from hanging the test.
func waitForCooldown(t *testing.T, p *running, account string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get(p.URL + "/_proxy/status")
		if err != nil {
			t.Fatal(err)
		}
		var doc status.Document
		err = json.NewDecoder(resp.Body).Decode(&doc)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range doc.Accounts {
			if a.Name == account && a.Reason != "" {
				return
			}
		}
		runtime.Gosched()
	}
	t.Fatalf("the second instance never heard of %s's cooldown", account)
}

// With a configured Redis that stops answering, requests are still served,
// and stickiness comes back with Redis.
func TestRedisDown(t *testing.T) {
	m := miniredis.RunT(t)
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	b := startUpstream(t, "b", fakeupstream.WithAPIKey(keyB))
	clk := &testClock{t: time.Now()}
	p := startProxy(t, "accounts:\n"+openaiAccount("a", a, "KEY_A", 1)+openaiAccount("b", b, "KEY_B", 1), env, withRedis("redis://"+m.Addr()+"/0"), withClock(clk))
	_, _, before := post(t, p.URL, "conv")

	m.Close()
	for i := range 5 {
		status, _, body := post(t, p.URL, fmt.Sprint("down-", i))
		if status != 200 || !strings.Contains(body, "response.completed") {
			t.Fatalf("with Redis down: %d %s", status, body)
		}
	}
	// The conversation keeps its account even without Redis: every
	// instance ranks accounts for a session the same way.
	if _, _, body := post(t, p.URL, "conv"); replier(body) != replier(before) {
		t.Fatalf("without Redis conv moved from %s to %s", replier(before), replier(body))
	}
	if !strings.Contains(p.Logs.String(), "session store unavailable") {
		t.Fatalf("no warning about the store:\n%s", p.Logs)
	}

	if err := m.Restart(); err != nil {
		t.Fatal(err)
	}
	// The proxy asks the store again a few seconds after it failed.
	clk.advance(10 * time.Second)
	_, _, body := post(t, p.URL, "back")
	if _, _, again := post(t, p.URL, "back"); replier(again) != replier(body) {
		t.Fatal("a session moved after Redis came back")
	}
	if !strings.Contains(p.Logs.String(), "session store answers again") || !strings.Contains(p.Logs.String(), "session=") {
		t.Fatalf("no recovery in the log:\n%s", p.Logs)
	}
	if n := len(m.Keys()); n == 0 {
		t.Fatal("no binding written once Redis was back")
	}
}
