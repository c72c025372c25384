package e2e_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/cmd/serve"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/relay"
)

// syncBuffer is a bytes.Buffer safe for the server's concurrent log writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String is what was logged, the lines of every answer already given
// included: the relay writes them off the request (relay.Settle).
func (b *syncBuffer) String() string {
	relay.Settle()
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// running is a `proxy serve` started by a test.
type running struct {
	URL  string // http://127.0.0.1:port
	Logs *syncBuffer

	path     string
	reload   chan struct{}
	reloaded chan error
	stop     func() // stops the proxy and waits for RunServe to return; idempotent
}

// rewrite replaces the config file and reloads it as SIGHUP would,
// returning how the reload ended.
func (p *running) rewrite(t *testing.T, configYAML string) error {
	t.Helper()
	if err := os.WriteFile(p.path, []byte(configYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	p.reload <- struct{}{}
	return <-p.reloaded
}

// startProxy runs `proxy serve` in-process with the given config YAML on a
// free loopback port, with env as its whole environment, until the test ends.
func startProxy(t *testing.T, configYAML string, env map[string]string, with ...proxyOption) *running {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "proxy.yaml")
	if err := os.WriteFile(path, []byte(configYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ios := &cmdutil.IOStreams{In: strings.NewReader(""), Out: logs, ErrOut: logs, Getenv: func(k string) string { return env[k] }}
	reload, reloaded := make(chan struct{}), make(chan error, 1)
	opts := &serve.ServeOptions{IO: ios, ConfigPath: path, Listen: "127.0.0.1:0", LogLevel: "info", LogFormat: "text",
		Ready: func(addr string) { ready <- addr }, Reload: reload, Reloaded: func(err error) { reloaded <- err },
		// chatgpt.com for Codex's own login, so what Codex passes through
		// the proxy's /backend-api/ stays on loopback.
		ChatGPTBackend: startUpstream(t, "chatgpt.com", fakeupstream.WithChatGPT(codexLoginToken, "acct-codex-user")).URL() + "/backend-api"}
	for _, o := range with {
		o(opts)
	}
	go func() { done <- serve.RunServe(ctx, opts) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("proxy serve returned %v", err)
			}
		})
	}
	t.Cleanup(stop)
	select {
	case addr := <-ready:
		return &running{URL: "http://" + addr, Logs: logs, path: path, reload: reload, reloaded: reloaded, stop: stop}
	case err := <-done:
		t.Fatalf("proxy serve stopped before listening: %v\n%s", err, logs)
	case <-time.After(30 * time.Second):
		t.Fatalf("proxy serve did not start\n%s", logs)
	}
	return nil
}

// startUpstream starts a fake upstream account on a free loopback port.
func startUpstream(t *testing.T, name string, opts ...fakeupstream.Option) *fakeupstream.Server {
	t.Helper()
	s := fakeupstream.New(name, opts...)
	if err := s.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// openaiAccount is the YAML of an openai account served by s.
func openaiAccount(name string, s *fakeupstream.Server, keyVar string, weight int) string {
	return fmt.Sprintf(`  - name: %s
    type: openai
    base_url: %s/v1
    api_key: ${%s}
    weight: %d
`, name, s.URL(), keyVar, weight)
}

// chatgptAccount is the YAML of an openai-responses account served by s.
func chatgptAccount(name string, s *fakeupstream.Server, tokenVar, accountID string, weight int) string {
	return fmt.Sprintf(`  - name: %s
    type: openai-responses
    base_url: %s/backend-api/codex
    access_token: ${%s}
    account_id: %s
    weight: %d
`, name, s.URL(), tokenVar, accountID, weight)
}

// assertNoSecrets fails when any secret appears in text.
func assertNoSecrets(t *testing.T, what, text string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(text, s) {
			t.Errorf("%s contains a secret (%s...)", what, s[:4])
		}
	}
}

// waitForRequest returns once s has received a request, failing if the
// client's answer (ended) comes first. The request reaches the upstream at
// once: this only yields until it has.
func waitForRequest(t *testing.T, s *fakeupstream.Server, ended <-chan string) {
	t.Helper()
	for len(s.Requests()) == 0 {
		select {
		case body := <-ended:
			t.Fatalf("the request ended before reaching %s: %s", s.Name(), body)
		default:
			runtime.Gosched()
		}
	}
}

// proxyOption adjusts how startProxy runs `proxy serve`.
type proxyOption func(*serve.ServeOptions)

// withRedis is --redis URL.
func withRedis(url string) proxyOption { return func(o *serve.ServeOptions) { o.RedisURL = url } }

// withClock makes c the proxy's clock for scheduling and health.
func withClock(c *testClock) proxyOption { return func(o *serve.ServeOptions) { o.Now = c.now } }

// withBackend makes s the ChatGPT backend Codex's other calls under
// /backend-api/ are passed to (chatgpt_backend.url).
func withBackend(s *fakeupstream.Server) proxyOption {
	return func(o *serve.ServeOptions) { o.ChatGPTBackend = s.URL() + "/backend-api" }
}

// testClock is a clock a test moves by hand.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}
