package loadbench

import (
	"context"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// openStreams is the figure of issue 6: streams held open at once.
const openStreams = 1000

// BenchmarkOpenStreams holds 1,000 streams open at once, first straight to
// the upstream and then through the proxy (each a session of its own, 64 KiB
// body), with the upstream holding every stream after its first event until
// all are open. It reports the heap and stacks in use while they are open
// (after a GC; one process holds the client, the proxy and the upstream, so
// proxy-heap-per-stream-KiB is the proxy run minus the direct run), then
// releases them and fails unless every stream completed and the goroutines
// are back to their count before the streams (after the proxy's idle
// upstream connections, which its transport keeps, are allowed for) and,
// once the proxy and upstream stop, to the count before they started.
func BenchmarkOpenStreams(b *testing.B) {
	n := openStreams
	if v, err := strconv.Atoi(os.Getenv("LOADBENCH_STREAMS")); err == nil && v > 0 {
		n = v
	}
	for b.Loop() {
		m := openAndRelease(b, n)
		for k, v := range m {
			b.ReportMetric(v, k)
		}
	}
}

// TestOpenStreams is the same check on 100 streams, so `go test` keeps it
// working; -short skips it.
func TestOpenStreams(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	m := openAndRelease(t, 100)
	t.Logf("%v", m)
}

// openAndRelease runs the direct and the proxy phase on n streams and
// returns the metrics.
func openAndRelease(tb testing.TB, n int) map[string]float64 {
	tb.Helper()
	g0 := numGoroutine()
	gate := newGate()
	e := startEnv(tb, 24, 0, gate)
	stopped := false
	defer func() {
		if !stopped {
			_ = e.stop()
		}
	}()
	body := requestBody("open-streams")
	m := map[string]float64{}

	var heap [2]uint64
	for phase, t := range []target{e.direct, e.proxy} {
		g1 := numGoroutine()
		heapBase := heapInuse()
		served0 := e.up.served.Load()
		opened := make(chan struct{}, n)
		var wg sync.WaitGroup
		var failed atomic.Int64
		var firstErr atomic.Value
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		for i := range n {
			wg.Go(func() {
				_, err := stream(ctx, e.client, t, fmt.Sprintf("open-%d-%d", phase, i), body, func() { opened <- struct{}{} })
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
				}
			})
		}
		openStart := time.Now()
		timeout := time.After(time.Minute)
		for i := 0; i < n; i++ {
			select {
			case <-opened:
			case <-timeout:
				gate.release()
				cancel()
				wg.Wait()
				tb.Fatalf("%s: only %d of %d streams open after 1m (%d failed, first: %v)", t.name, i, n, failed.Load(), firstErr.Load())
			}
		}
		m[t.name+"-open-ms"] = float64(time.Since(openStart).Milliseconds())
		gOpen := numGoroutine()
		if p := os.Getenv("LOADBENCH_HEAPPROFILE"); p != "" && t.name == "proxy" {
			writeHeapProfile(tb, p)
		}
		h := heapInuse()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		heap[phase] = h
		m[t.name+"-heap-inuse-MiB"] = float64(h) / (1 << 20)
		m[t.name+"-stack-inuse-MiB"] = float64(ms.StackInuse) / (1 << 20)
		m[t.name+"-heap-per-stream-KiB"] = (float64(h) - float64(heapBase)) / float64(n) / 1024
		m[t.name+"-goroutines-per-stream"] = float64(gOpen-g1) / float64(n)

		start := time.Now()
		gate.release()
		wg.Wait()
		cancel()
		m[t.name+"-release-ms"] = float64(time.Since(start).Milliseconds())
		if f := failed.Load(); f > 0 {
			tb.Fatalf("%s: %d of %d streams failed; first: %v", t.name, f, n, firstErr.Load())
		}
		if got := e.up.served.Load() - served0; got != int64(n) {
			tb.Fatalf("%s: upstream served %d streams to the end, want %d", t.name, got, n)
		}
		gate.rearm()
		e.client.Transport.(interface{ CloseIdleConnections() }).CloseIdleConnections()
		// Pools that grow under load and stay bounded are allowed: the
		// proxy's idle connections to the upstream (MaxIdleConnsPerHost 64,
		// 2 goroutines each plus 1 in the upstream's server) and the store's
		// go-redis pools (10 per GOMAXPROCS, plus 10 for pipelines and
		// MULTI; 2 goroutines each in miniredis).
		allow := 0
		if t.name == "proxy" {
			allow = 64*3 + 2*(10*runtime.GOMAXPROCS(0)+10)
		}
		waitStart := time.Now()
		left := waitGoroutines(g1+allow, 10*time.Second) - g1
		m[t.name+"-settle-ms"] = float64(time.Since(waitStart).Milliseconds())
		m[t.name+"-goroutines-left"] = float64(left)
		if left > allow {
			tb.Errorf("%s: %d goroutines more than before the streams (%d allowed for idle upstream connections)\n%s", t.name, left, allow, goroutineSummary())
		}
	}
	m["proxy-own-heap-per-stream-KiB"] = (float64(heap[1]) - float64(heap[0])) / float64(n) / 1024

	stopped = true
	if err := e.stop(); err != nil {
		tb.Errorf("stopping: %v", err)
	}
	// Once the proxy and the upstream stop, nothing of theirs may be left.
	if left := waitGoroutines(g0, 10*time.Second) - g0; left > 0 {
		tb.Errorf("%d goroutines left after the proxy stopped\n%s", left, goroutineSummary())
	}
	return m
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// waitGoroutines waits up to d for the goroutine count to drop to want and
// returns the last count.
func waitGoroutines(want int, d time.Duration) int {
	deadline := time.Now().Add(d)
	for {
		n := numGoroutine()
		if n <= want || time.Now().After(deadline) {
			return n
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// numGoroutine counts goroutines but the os/signal loop, which the first
// signal.Notify in the process (the proxy's, for SIGHUP) starts for good.
func numGoroutine() int {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	count := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.HasPrefix(g, "goroutine ") && !strings.Contains(g, "os/signal.loop") {
			count++
		}
	}
	return count
}

// goroutineSummary is the goroutine profile, trimmed, for a failure.
func goroutineSummary() string {
	var sb strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&sb, 1)
	s := sb.String()
	if len(s) > 8000 {
		s = s[:8000] + "\n..."
	}
	return s
}

// writeHeapProfile writes the heap profile to path, for
// LOADBENCH_HEAPPROFILE: what the proxy holds per open stream.
func writeHeapProfile(tb testing.TB, path string) {
	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
		tb.Fatal(err)
	}
}
