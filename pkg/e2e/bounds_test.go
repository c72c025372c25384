package e2e_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"

	"github.com/proxy-dev/proxy/pkg/cmd/serve"
	"github.com/proxy-dev/proxy/pkg/fakeupstream"
	"github.com/proxy-dev/proxy/pkg/store"
)

// withShutdownGrace shortens how long streams may run on after a stop.
func withShutdownGrace(d time.Duration) proxyOption {
	return func(o *serve.ServeOptions) { o.ShutdownGrace = d }
}

// Stopping the proxy while streams hang past the grace closes them without
// a panic, and the usage of the requests that completed is still written.
func TestShutdownPastGraceKeepsUsage(t *testing.T) {
	m := miniredis.RunT(t)
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	p := startProxy(t, "accounts:\n"+openaiAccount("a", a, "KEY_A", 1), env,
		withRedis("redis://"+m.Addr()+"/0"), withShutdownGrace(50*time.Millisecond))
	for i := range 3 {
		if status, _, body := post(t, p.URL, fmt.Sprintf("done-%d", i)); status != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, status, body)
		}
	}
	hang := make(chan struct{})
	defer close(hang)
	a.Script(fakeupstream.Fault{Hang: hang, HangAfter: 2})
	const live = 5
	ended := make(chan string, live)
	for i := range live {
		go func() {
			// Not post: its t.Fatal cannot run outside the test goroutine,
			// and these requests are meant to be cut.
			req, _ := http.NewRequest(http.MethodPost, p.URL+"/v1/responses", strings.NewReader(`{"model":"gpt-5","stream":true,"input":"hi"}`))
			req.Header.Set("Session_id", fmt.Sprintf("live-%d", i))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				ended <- err.Error()
				return
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			ended <- string(body)
		}()
	}
	for len(a.Requests()) < 3+live {
		runtime.Gosched()
	}
	p.stop() // fails the test if RunServe returned an error
	for range live {
		<-ended
	}
	logs := p.Logs.String()
	if strings.Contains(logs, "panic") {
		t.Fatalf("shutdown panicked:\n%s", logs)
	}
	if !strings.Contains(logs, "closing them") {
		t.Fatalf("shutdown did not say it closed the streams left:\n%s", logs)
	}
	st := store.New(redis.NewClient(&redis.Options{Addr: m.Addr()}), store.Options{KeyPrefix: "proxy:"})
	defer st.Close()
	u, err := st.UsageToday(context.Background(), "a")
	if err != nil {
		t.Fatal(err)
	}
	// Every request the proxy logged as answered 200 (the 3 completed, and
	// the streams cut by the shutdown after their headers) is counted: none
	// is lost between the last request and the store closing.
	served := strings.Count(logs, "msg=request") - strings.Count(logs, "status=499")
	if u.Requests < 3 || int(u.Requests) != served {
		t.Fatalf("usage after shutdown counts %d requests; the log shows %d answered\n%s", u.Requests, served, logs)
	}
}

// Keep-alive connections that carry no request are closed after
// timeouts.client_idle.
func TestIdleConnectionsClosed(t *testing.T) {
	const conns = 1000
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	p := startProxy(t, "timeouts:\n  client_idle: 300ms\naccounts:\n"+openaiAccount("a", a, "KEY_A", 1), env)
	addr := strings.TrimPrefix(p.URL, "http://")
	var closed atomic.Int64
	var wg sync.WaitGroup
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			fmt.Fprintf(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
			br := bufio.NewReader(c)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			// A bound on the test, not on the proxy: the proxy closes the
			// connection after 300 ms of idleness.
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			if _, err := br.ReadByte(); err == io.EOF {
				closed.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := closed.Load(); n != conns {
		t.Fatalf("%d of %d idle connections were closed by the proxy", n, conns)
	}
}

// startBody sends a request that announces a 100 KB body and sends one
// byte of it, and returns the connection's reader with its answer.
func startBody(t *testing.T, p *running) (*bufio.Reader, *http.Response, error) {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(p.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "POST /v1/responses HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{")
	// A bound on the test only.
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	return br, resp, err
}

// With client keys set, a request without a key is refused before its
// body is read, and a trickling body does not hold the connection.
func TestKeylessTrickleRefusedBeforeBody(t *testing.T) {
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	p := startProxy(t, "client_keys:\n  - name: laptop\n    key: ${CLIENT_KEY}\naccounts:\n"+openaiAccount("a", a, "KEY_A", 1), env)
	br, resp, err := startBody(t, p)
	if err != nil {
		t.Fatalf("no answer before the body: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(body), "client key") {
		t.Fatalf("got %d %s, want 401 naming the client key", resp.StatusCode, body)
	}
	// The proxy closes the connection rather than wait for the body.
	if _, err := br.ReadByte(); err != io.EOF {
		t.Fatalf("connection still open after the 401 (read: %v)", err)
	}
}

// A body that does not arrive within timeouts.body_read gets 408.
func TestBodyReadDeadline(t *testing.T) {
	a := startUpstream(t, "a", fakeupstream.WithAPIKey(keyA))
	p := startProxy(t, "timeouts:\n  body_read: 200ms\naccounts:\n"+openaiAccount("a", a, "KEY_A", 1), env)
	_, resp, err := startBody(t, p)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(body), "timeouts.body_read") {
		t.Fatalf("got %d %s, want 408 naming timeouts.body_read", resp.StatusCode, body)
	}
}

// endlessLine is an upstream whose stream is one line that never ends.
func endlessLine(t *testing.T) (*httptest.Server, *atomic.Int64) {
	var sent atomic.Int64
	chunk := []byte("data: " + strings.Repeat("x", 64<<10))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		for sent.Load() < 300<<20 {
			n, err := w.Write(chunk)
			sent.Add(int64(n))
			if err != nil {
				return
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &sent
}

// A 300 MB SSE line without a newline is cut at limits.max_event_bytes:
// the account fails over, and the proxy reads little more than the limit.
func TestHugeSSELineBounded(t *testing.T) {
	huge, sent := endlessLine(t)
	b := startUpstream(t, "b", fakeupstream.WithAPIKey(keyB))
	cfg := fmt.Sprintf(`limits:
  max_event_bytes: 1048576
accounts:
  - name: huge
    type: openai
    base_url: %s/v1
    api_key: ${KEY_A}
    weight: 100
%s`, huge.URL, openaiAccount("b", b, "KEY_B", 0))
	p := startProxy(t, cfg, env)
	status, _, body := post(t, p.URL, "huge-line")
	if status != http.StatusOK || !strings.Contains(body, "response.completed") {
		t.Fatalf("got %d %.300s, want b's answer after failover", status, body)
	}
	// TCP buffers on both sides hold a few MiB; the proxy itself stops at 1 MiB.
	if n := sent.Load(); n > 32<<20 {
		t.Fatalf("the upstream got %d MiB of its endless line through before the proxy cut it", n>>20)
	}
	if !strings.Contains(p.Logs.String(), "limits.max_event_bytes") {
		t.Fatalf("log does not name the limit:\n%s", p.Logs)
	}
}
