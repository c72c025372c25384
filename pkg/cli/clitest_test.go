package cli

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/cmdutil"
)

const (
	testAPIKey      = "sk-test-key-0123456789abcdef"
	testAccessToken = "chatgpt-access-token-0123456789"
	testAccountID   = "acct-0123456789abcdef"
)

// testEnv holds the secrets the test configs refer to as ${VAR}.
var testEnv = map[string]string{"API_KEY": testAPIKey, "ACCESS_TOKEN": testAccessToken, "WRONG_KEY": "sk-wrong-0123456789abcdef"}

// ttyBuffer is an output that says whether it is a terminal, so the
// terminal layout is tested without a real tty.
type ttyBuffer struct {
	bytes.Buffer
	tty bool
}

func (b *ttyBuffer) IsTerminal() bool { return b.tty }

// testIO returns streams on buffers with env as the whole environment.
func testIO(env map[string]string, tty bool) (*cmdutil.IOStreams, *ttyBuffer, *ttyBuffer) {
	out, errOut := &ttyBuffer{tty: tty}, &ttyBuffer{tty: tty}
	return &cmdutil.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut, Getenv: func(k string) string { return env[k] }}, out, errOut
}

// runWith runs the command line like Main does, with env and buffers.
func runWith(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ios, out, errOut := testIO(env, false)
	code = Run(context.Background(), ios, args)
	return code, out.String(), errOut.String()
}

// testClock is the fixed time of golden tests: latencies come out as 0ms
// and times print the same on every machine.
var testClock = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

func fixedNow() time.Time { return testClock }

var loopbackPort = regexp.MustCompile(`127\.0\.0\.1:\d{5}`)

// stable replaces what changes between runs (ports, temporary
// directories) so output can be compared with a golden file.
func stable(s, dir string) string {
	if dir != "" {
		s = strings.ReplaceAll(s, dir, "TMP")
	}
	return loopbackPort.ReplaceAllString(s, "127.0.0.1:PORT")
}

// writeFile writes content to dir/name and returns its path.
func writeFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// closedAddr is a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// serve starts h on a loopback port until the test ends.
func serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}

// The -update flag rewrites golden files. It is registered here only when no
// other test file of the package has registered it already (package-level
// variables are initialised before any init runs), so another golden test in
// package cli can declare its own without a duplicate-flag panic.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata/")
	}
}

func updateGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

func assertGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if updateGolden() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test ./pkg/cli -run %s -update to create it): %v", t.Name(), err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// demoServer runs `proxy serve --demo` on addr until stop is called.
func demoServer(t *testing.T, addr string) (url string, stop func()) {
	t.Helper()
	cfg := writeFile(t, t.TempDir(), "proxy.yaml", "listen: 127.0.0.1:0\n", 0o600)
	ios, _, _ := testIO(nil, false)
	ready := make(chan string, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- RunServe(ctx, &ServeOptions{IO: ios, ConfigPath: cfg, Listen: addr, Demo: true,
			LogLevel: "error", LogFormat: "text", Ready: func(a string) { ready <- a }})
	}()
	select {
	case a := <-ready:
		stopped := false
		stop = func() {
			if !stopped {
				stopped = true
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serve: %v", err)
				}
			}
		}
		t.Cleanup(stop)
		return "http://" + a, stop
	case err := <-done:
		t.Fatalf("serve stopped: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not start")
	}
	cancel()
	return "", nil
}

func turn(t *testing.T, url, session string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/responses", strings.NewReader(`{"model":"gpt-5","stream":true,"input":"hi"}`))
	req.Header.Set("Session_id", session)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if b, _ := io.ReadAll(resp.Body); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
}
