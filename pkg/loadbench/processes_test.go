package loadbench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// BenchmarkAddedLatencyProcesses is BenchmarkAddedLatency with the proxy
// and the floor each in a process of its own, as users run `proxy serve`:
// it builds ./cmd/proxy and the floor command
// (pkg/loadbench/internal/floor) once, starts both on 127.0.0.1 in front
// of the same in-process upstream, and interleaves direct, bare and proxy
// requests at 1 and 8 streams. The metrics are BenchmarkAddedLatency's.
// It skips when the go command is not on PATH.
func BenchmarkAddedLatencyProcesses(b *testing.B) {
	proxyBin, floorBin := buildBinaries(b)
	up, err := startUpstream(24, 0, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := up.Close(); err != nil {
			b.Errorf("stopping the upstream: %v", err)
		}
	})
	dir := b.TempDir()
	cfg := filepath.Join(dir, "proxy.yaml")
	if err := os.WriteFile(cfg, []byte(proxyConfig(up.URL())), 0o600); err != nil {
		b.Fatal(err)
	}
	vars := childEnv(dir)
	bareURL := startProcess(b, "floor", floorBin, vars, "-upstream", up.URL(), "-listen", "127.0.0.1:0")
	proxyURL := startProcess(b, "proxy serve", proxyBin, vars,
		"serve", "--config", cfg, "--listen", "127.0.0.1:0", "--log-level", logLevel(), "--log-format", "text")
	tr := clientTransport()
	b.Cleanup(tr.CloseIdleConnections)
	e := &env{
		up:     up,
		direct: target{name: "direct", base: up.URL(), key: true},
		bare:   target{name: "bare", base: bareURL},
		proxy:  target{name: "proxy", base: proxyURL},
		client: &http.Client{Transport: tr},
	}
	for _, conc := range []int{1, 8} {
		b.Run(fmt.Sprintf("streams=%d", conc), func(b *testing.B) {
			runInterleaved(b, e, conc)
		})
	}
}

// buildBinaries builds the proxy and the floor command into a temporary
// directory with the go command on PATH, from the module's root, and
// returns their paths. It skips the benchmark when there is no go command.
func buildBinaries(b *testing.B) (proxyBin, floorBin string) {
	b.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		b.Skip("skipping: the go command is not on PATH; this benchmark builds ./cmd/proxy and the floor with it")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, goBin, "env", "GOMOD").Output()
	if err != nil {
		b.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		b.Fatal("go env GOMOD: not inside the module")
	}
	dir := b.TempDir()
	cmd := exec.CommandContext(ctx, goBin, "build", "-o", dir+string(filepath.Separator), "./cmd/proxy", "./pkg/loadbench/internal/floor")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("building the proxy and the floor: %v\n%s", err, out)
	}
	exe := ""
	if runtime.GOOS == "windows" {
		exe = ".exe"
	}
	return filepath.Join(dir, "proxy"+exe), filepath.Join(dir, "floor"+exe)
}

// childEnv is the environment of the proxy and floor processes: the
// upstream's key, and home and config directories in dir so no user
// config or state is read or written. Nothing else of the benchmark's
// environment is passed on, so no PROXY_* variable changes the run.
func childEnv(dir string) []string {
	env := []string{
		"BENCH_UPSTREAM_KEY=" + upstreamKey,
		"HOME=" + dir,
		"XDG_CONFIG_HOME=" + dir,
		"XDG_STATE_HOME=" + dir,
		"XDG_CACHE_HOME=" + dir,
		"TMPDIR=" + os.TempDir(),
	}
	for _, k := range []string{"PATH", "SYSTEMROOT"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// startProcess starts bin and waits until it prints "... listening on
// http://ADDR" on stderr; it returns that base URL. The process is killed
// and waited for on cleanup; its later output is discarded.
func startProcess(b *testing.B, name, bin string, env []string, args ...string) string {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	w := newListenWatch()
	cmd.Stderr = w
	// Bounds the wait for the stderr copy should the process hand its
	// stderr to a child that outlives it.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		b.Fatalf("starting %s: %v", name, err)
	}
	exited := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(exited)
	}()
	b.Cleanup(func() {
		cancel()
		<-exited
	})
	select {
	case addr := <-w.found:
		return addr
	case <-exited:
		b.Fatalf("%s exited before listening: %v\n%s", name, waitErr, w.head())
	case <-time.After(time.Minute):
		b.Fatalf("%s did not start listening within a minute\n%s", name, w.head())
	}
	return ""
}

// listenWatch is a process's stderr: it finds the first "listening on
// http://ADDR" line and keeps the output up to it (bounded) to explain a
// failed start; everything after is dropped.
type listenWatch struct {
	found chan string

	mu   sync.Mutex
	buf  bytes.Buffer
	done bool
}

const listenWatchMax = 16 << 10

func newListenWatch() *listenWatch { return &listenWatch{found: make(chan string, 1)} }

func (w *listenWatch) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	w.buf.Write(p[:min(len(p), max(listenWatchMax-w.buf.Len(), 0))])
	if addr, ok := listenAddr(w.buf.String()); ok {
		w.done = true
		w.found <- addr
	}
	return len(p), nil
}

func (w *listenWatch) head() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

// listenAddr finds, in the complete lines of out, the first that says
// "listening on http://ADDR" and returns "http://ADDR".
func listenAddr(out string) (string, bool) {
	const marker = "listening on http://"
	lines := strings.Split(out, "\n")
	for _, line := range lines[:len(lines)-1] { // the last is not complete yet
		i := strings.Index(line, marker)
		if i < 0 {
			continue
		}
		addr, _, _ := strings.Cut(line[i+len(marker):], " ")
		addr = strings.TrimRight(addr, "\r")
		if addr == "" {
			continue
		}
		return "http://" + addr, true
	}
	return "", false
}

func TestListenAddr(t *testing.T) {
	tests := []struct {
		name string
		out  string
		want string
		ok   bool
	}{
		{"proxy serve", "proxy listening on http://127.0.0.1:41234 (Codex base_url: http://127.0.0.1:41234/v1)\nconfig: x\n", "http://127.0.0.1:41234", true},
		{"floor", "floor listening on http://127.0.0.1:5000\n", "http://127.0.0.1:5000", true},
		{"after other lines", "warning: something\r\nfloor listening on http://127.0.0.1:5000\r\n", "http://127.0.0.1:5000", true},
		{"line not complete", "proxy listening on http://127.0.0.1:41", "", false},
		{"no such line", "error: config not found\n", "", false},
		{"empty address", "listening on http://\n", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := listenAddr(tt.out)
			if got != tt.want || ok != tt.ok {
				t.Errorf("listenAddr(%q) = %q, %v; want %q, %v", tt.out, got, ok, tt.want, tt.ok)
			}
		})
	}
}
