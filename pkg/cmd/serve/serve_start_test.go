package serve_test

import (
	"bytes"
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/cmd/cmdtest"
	"github.com/proxy-dev/proxy/pkg/cmd/serve"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
)

// TestServeWithoutConfig refuses to serve nothing: with no config file and
// no --demo, serve exits 2 like `config validate` does, and says what to run.
func TestServeWithoutConfig(t *testing.T) {
	home := t.TempDir()
	env := map[string]string{"HOME": home, "XDG_CONFIG_HOME": home}
	code, _, stderr := cmdtest.RunWith(t, env, "serve", "--listen", "127.0.0.1:0")
	if code != cmdutil.ExitConfigError || !strings.Contains(stderr, "no config file found") ||
		!strings.Contains(stderr, "run `proxy config init` or `proxy serve --demo`") {
		t.Errorf("exit %d, stderr %q", code, stderr)
	}
}

// TestServeRedisUnreachable starts with a Redis that does not answer, as a
// running proxy rides out a Redis outage: it warns, serves without
// stickiness, and says so.
func TestServeRedisUnreachable(t *testing.T) {
	// No retries: each refused dial fails at once rather than after
	// go-redis's backoff.
	down := "redis://" + cmdtest.ClosedAddr(t) + "/0?max_retries=-1"
	ios, _, _ := cmdtest.IO(nil, false)
	// The logs come from the pool's goroutines as well as from RunServe.
	errOut := &lockedBuffer{}
	ios.ErrOut = errOut
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- serve.RunServe(ctx, &serve.ServeOptions{IO: ios, Listen: "127.0.0.1:0", RedisURL: down, Demo: true,
			LogLevel: "warn", LogFormat: "text", Ready: func(a string) { ready <- a }})
	}()
	select {
	case a := <-ready:
		cmdtest.Turn(t, "http://"+a, "no-redis")
	case err := <-done:
		t.Fatalf("serve stopped: %v; stderr %s", err, errOut)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("serve: %v", err)
	}
	want := "redis at " + down + " is unreachable: serving without stickiness until it answers"
	if !strings.Contains(errOut.String(), want) {
		t.Errorf("stderr lacks %q:\n%s", want, errOut)
	}
}

// lockedBuffer is a buffer several goroutines may write to at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
