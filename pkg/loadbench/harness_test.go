package loadbench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/cmd/serve"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/loadbench/internal/bare"
)

const (
	upstreamKey = "sk-loadbench-upstream"
	bodySize    = 64 << 10
)

// target is one way to reach the upstream.
type target struct {
	name string
	base string // http://127.0.0.1:port, requests go to base + path
	// path is the request's path, "" for "/v1/responses"; a path ending in
	// "/chat/completions" reads the answer as chat.completion.chunk SSE.
	path string
	// key sends the upstream's key (a run straight to the upstream).
	key bool
	// body, when set, is what every request to this target sends.
	body []byte
}

// chat reports a target whose answer is Chat Completions chunks.
func (t target) chat() bool { return strings.HasSuffix(t.path, "/chat/completions") }

// env is an upstream with the bare reverse proxy and the proxy in front of it.
type env struct {
	up     *upstream
	direct target
	bare   target
	proxy  target
	client *http.Client
	stop   func() error
}

// startEnv starts the upstream, the bare reverse proxy and `proxy serve`,
// all on 127.0.0.1.
func startEnv(tb testing.TB, deltas int, gap time.Duration, gate *gate) *env {
	tb.Helper()
	up, err := startUpstream(deltas, gap, gate)
	if err != nil {
		tb.Fatal(err)
	}
	bare, stopBare, err := startBare(up.URL())
	if err != nil {
		_ = up.Close()
		tb.Fatal(err)
	}
	proxyURL, stopProxy, err := startProxy(tb, up.URL())
	if err != nil {
		_ = stopBare()
		_ = up.Close()
		tb.Fatal(err)
	}
	tr := clientTransport()
	e := &env{
		up:     up,
		direct: target{name: "direct", base: up.URL(), key: true},
		bare:   target{name: "bare", base: bare},
		proxy:  target{name: "proxy", base: proxyURL},
		client: &http.Client{Transport: tr},
	}
	e.stop = func() error {
		tr.CloseIdleConnections()
		return errors.Join(stopProxy(), stopBare(), up.Close())
	}
	return e
}

// clientTransport is the benchmark client's transport, with room for every
// stream the benchmarks open to keep its connection.
func clientTransport() *http.Transport {
	return &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        4096,
		MaxIdleConnsPerHost: 2048,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// startBare starts the floor in-process: package bare's reverse proxy,
// which reads the whole body first and sets the upstream's key.
func startBare(upstreamURL string) (string, func() error, error) {
	u, err := url.Parse(upstreamURL)
	if err != nil {
		return "", nil, err
	}
	tr := bare.Transport()
	h := bare.Handler(u, upstreamKey, tr)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	return "http://" + ln.Addr().String(), func() error {
		err := srv.Close()
		<-done
		tr.CloseIdleConnections()
		return err
	}, nil
}

// startProxy runs `proxy serve` in-process, as pkg/e2e does, with one
// openai account on the upstream and the embedded store.
func startProxy(tb testing.TB, upstreamURL string) (string, func() error, error) {
	return startProxyConfig(proxyConfig(upstreamURL), io.Discard)
}

// startProxyConfig runs `proxy serve` in-process with configYAML, its log
// written to logs; the upstream credentials come from the environment it
// is given ($BENCH_UPSTREAM_KEY, $BENCH_CHATGPT_TOKEN).
func startProxyConfig(configYAML string, logs io.Writer) (string, func() error, error) {
	dir, err := os.MkdirTemp("", "loadbench-ws")
	if err != nil {
		return "", nil, fmt.Errorf("making the proxy's directory: %w", err)
	}
	path := filepath.Join(dir, "proxy.yaml")
	if err := os.WriteFile(path, []byte(configYAML), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("writing the proxy's config: %w", err)
	}
	env := map[string]string{"BENCH_UPSTREAM_KEY": upstreamKey, "BENCH_CHATGPT_TOKEN": chatgptToken, "HOME": dir, "XDG_CONFIG_HOME": dir}
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	ios := &cmdutil.IOStreams{In: strings.NewReader(""), Out: logs, ErrOut: logs, Getenv: func(k string) string { return env[k] }}
	opts := &serve.ServeOptions{IO: ios, ConfigPath: path, Listen: "127.0.0.1:0", LogLevel: logLevel(), LogFormat: "text",
		Ready: func(addr string) { ready <- addr }}
	go func() { done <- serve.RunServe(ctx, opts) }()
	stop := func() error {
		cancel()
		err := <-done
		_ = os.RemoveAll(dir)
		return err
	}
	select {
	case addr := <-ready:
		return "http://" + addr, stop, nil
	case err := <-done:
		cancel()
		_ = os.RemoveAll(dir)
		return "", nil, fmt.Errorf("proxy serve stopped before listening: %v", err)
	case <-time.After(30 * time.Second):
		_ = stop()
		return "", nil, errors.New("proxy serve did not start in 30s")
	}
}

// proxyConfig is the proxy's config: one openai account on the upstream,
// its key read from $BENCH_UPSTREAM_KEY, and the embedded store.
func proxyConfig(upstreamURL string) string {
	return fmt.Sprintf(`listen: 127.0.0.1:0
accounts:
  - name: bench
    type: openai
    base_url: %s/v1
    api_key: ${BENCH_UPSTREAM_KEY}
`, upstreamURL)
}

// logLevel is the proxy's log level: info (one line per request, what a
// user runs) unless LOADBENCH_LOG_LEVEL says otherwise. Logs are discarded.
func logLevel() string {
	if l := os.Getenv("LOADBENCH_LOG_LEVEL"); l != "" {
		return l
	}
	return "info"
}

// requestBody is a Codex-shaped streamed request of exactly bodySize bytes.
func requestBody(session string) []byte {
	head := `{"model":"` + model + `","instructions":"You are Codex, a coding agent. Be concise.","input":[{"type":"message","role":"user","content":[{"type":"input_text","text":"`
	tail := `"}]}],"tools":[],"tool_choice":"auto","parallel_tool_calls":false,"reasoning":{"effort":"medium","summary":"auto"},"store":false,"stream":true,"include":["reasoning.encrypted_content"],"prompt_cache_key":"` + session + `"}`
	pad := bodySize - len(head) - len(tail)
	var b bytes.Buffer
	b.Grow(bodySize)
	b.WriteString(head)
	line := "func main() { fmt.Println(\\\"hello, world\\\") } // padding the conversation so far. "
	for b.Len()+len(line) <= len(head)+pad {
		b.WriteString(line)
	}
	for b.Len() < len(head)+pad {
		b.WriteByte('x')
	}
	b.WriteString(tail)
	return b.Bytes()
}

// result is one streamed request as the client saw it.
type result struct {
	ttfb, total time.Duration
	// maxDelay is the longest an event took from the upstream's write to
	// the client's read (delta events carry their send stamp).
	maxDelay time.Duration
	events   int
}

// stream sends one streamed request and reads the stream to its end: to
// response.completed, or for a chat target to "data: [DONE]" with no error
// chunk. opened, when not nil, is called once the first event has arrived
// (a chat stream's events are its data lines).
func stream(ctx context.Context, c *http.Client, t target, session string, body []byte, opened func()) (result, error) {
	path := t.path
	if path == "" {
		path = "/v1/responses"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.base+path, bytes.NewReader(body))
	if err != nil {
		return result{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Session_id", session)
	if t.key {
		req.Header.Set("Authorization", "Bearer "+upstreamKey)
	}
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", t.name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return result{}, fmt.Errorf("%s: status %d: %s", t.name, resp.StatusCode, b)
	}
	var r result
	br := bufio.NewReaderSize(resp.Body, 16<<10)
	completed, failed := false, false
	// delta: the data line to come is a text delta's (every chat chunk
	// is); only deltas' stamps count, the done events repeat the text.
	delta := t.chat()
	for {
		line, err := br.ReadSlice('\n')
		if len(line) > 0 {
			now := time.Now()
			if r.ttfb == 0 {
				r.ttfb = now.Sub(start)
			}
			isData := bytes.HasPrefix(line, []byte("data: "))
			switch {
			case t.chat() && isData:
				r.events++
				if r.events == 1 && opened != nil {
					opened()
				}
				completed = completed || bytes.HasPrefix(line, []byte("data: [DONE]"))
				failed = failed || bytes.HasPrefix(line, []byte(`data: {"error"`))
			case bytes.HasPrefix(line, []byte("event: ")):
				r.events++
				if r.events == 1 && opened != nil {
					opened()
				}
				if bytes.HasPrefix(line, []byte("event: response.completed")) {
					completed = true
				}
				delta = bytes.HasPrefix(line, []byte("event: response.output_text.delta"))
			}
			if isData && delta {
				if sent, ok := sentStamp(line); ok {
					r.maxDelay = max(r.maxDelay, time.Duration(int64(now.Sub(epoch))-sent))
				}
			}
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return result{}, fmt.Errorf("%s: reading the stream: %w", t.name, err)
		}
	}
	r.total = time.Since(start)
	if !completed || failed {
		return result{}, fmt.Errorf("%s: stream ended without completing (%d events, error chunk %v)", t.name, r.events, failed)
	}
	return r, nil
}

// sentStamp reads the upstream's send stamp in an event's data: the
// "sent_ns":N member of a Responses delta, or "[sent_ns=N]" in the text
// itself, which is what survives a translation into the other wire API.
func sentStamp(line []byte) (int64, bool) {
	i := bytes.Index(line, []byte("sent_ns"))
	if i < 0 {
		return 0, false
	}
	j := i + len("sent_ns")
	for j < len(line) && (line[j] == '"' || line[j] == ':' || line[j] == '=') {
		j++
	}
	k := j
	for k < len(line) && line[k] >= '0' && line[k] <= '9' {
		k++
	}
	sent, err := strconv.ParseInt(string(line[j:k]), 10, 64)
	return sent, err == nil
}

// samples collects results per target, safe for concurrent use.
type samples struct {
	mu sync.Mutex
	by map[string][]result
}

func (s *samples) add(name string, r result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.by == nil {
		s.by = map[string][]result{}
	}
	s.by[name] = append(s.by[name], r)
}
