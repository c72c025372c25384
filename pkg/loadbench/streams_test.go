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
// body), with the upstream holding every stream after its first output
// event until all are open. It reports the heap and stacks in use while
// they are open (after a GC; one process holds the client, the proxy and
// the upstream, so proxy-heap-per-stream-KiB is the proxy run minus the
// direct run), then releases them and fails unless every stream completed,
// every goroutine started since the streams began is gone but those idling
// in the proxy's bounded connection pools, and, once the proxy and upstream
// stop, every goroutine started since they started is gone.
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

// Hang guards: how long the test waits for a condition before it gives up
// and says what it saw. They bound a hang, not a speed: nothing here waits
// them out when things go right, however loaded the machine.
const (
	openGuard   = 5 * time.Minute // for every stream to open, or fail
	settleGuard = 2 * time.Minute // for goroutines to end after the streams
)

// openAndRelease runs the direct and the proxy phase on n streams and
// returns the metrics.
func openAndRelease(tb testing.TB, n int) map[string]float64 {
	tb.Helper()
	before := goroutines()
	gate := newGate()
	e := startEnv(tb, 24, 0, gate)
	stopped := false
	defer func() {
		if !stopped {
			gate.release()
			_ = e.stop()
		}
	}()
	body := requestBody("open-streams")
	m := map[string]float64{}

	var heap [2]uint64
	for phase, t := range []target{e.direct, e.proxy} {
		g1 := goroutines()
		heapBase := heapInuse()
		served0 := e.up.served.Load()
		opened := make(chan struct{}, n)
		ended := make(chan error, n) // a stream's error, once it failed
		var wg sync.WaitGroup
		var failed atomic.Int64
		var firstErr atomic.Value
		ctx, cancel := context.WithCancel(context.Background())
		for i := range n {
			wg.Go(func() {
				_, err := stream(ctx, e.client, t, fmt.Sprintf("open-%d-%d", phase, i), body, func() { opened <- struct{}{} })
				if err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err)
					ended <- err
				}
			})
		}
		openStart := time.Now()
		// Wait until every stream is open or has failed: a failed stream
		// will never open, so waiting on would only run into the guard.
		open, broken := 0, 0
		guard := time.NewTimer(openGuard)
	wait:
		for open+broken < n {
			select {
			case <-opened:
				open++
			case <-ended:
				broken++
			case <-guard.C:
				break wait
			}
		}
		guard.Stop()
		if open < n {
			gate.release()
			cancel()
			wg.Wait()
			tb.Fatalf("%s: only %d of %d streams opened (%d failed, first: %v)", t.name, open, n, failed.Load(), firstErr.Load())
		}
		m[t.name+"-open-ms"] = float64(time.Since(openStart).Milliseconds())
		gOpen := len(goroutines())
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
		m[t.name+"-goroutines-per-stream"] = float64(gOpen-len(g1)) / float64(n)

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

		// What the streams started must end, but for the connections the
		// proxy keeps in its bounded pools, whose number depends on how the
		// streams overlapped and not on how many there were: its idle
		// connections to the upstream (MaxIdleConnsPerHost 64: 2 goroutines
		// each in the proxy, 1 in the upstream's server) and its store
		// client's connections (2 goroutines each in miniredis; a
		// connection kept per stream would make n of them). The client's
		// own idle connections were just closed, so it keeps none.
		caps := poolCaps{}
		if t.name == "proxy" {
			caps = poolCaps{httpClient: 2 * 64, httpServer: 64, redis: 2 * (n - 1)}
		}
		waitStart := time.Now()
		left, ok := settle(g1, caps, settleGuard)
		m[t.name+"-settle-ms"] = float64(time.Since(waitStart).Milliseconds())
		m[t.name+"-goroutines-left"] = float64(len(left))
		if !ok {
			tb.Errorf("%s: goroutines left after the streams beyond the proxy's idle pools (%s):\n%s", t.name, caps, describe(left))
		}
	}
	m["proxy-own-heap-per-stream-KiB"] = (float64(heap[1]) - float64(heap[0])) / float64(n) / 1024

	stopped = true
	if err := e.stop(); err != nil {
		tb.Errorf("stopping: %v", err)
	}
	// Once the proxy and the upstream stop, nothing of theirs may be left.
	if left, ok := settle(before, poolCaps{}, settleGuard); !ok {
		tb.Errorf("goroutines left after the proxy stopped:\n%s", describe(left))
	}
	return m
}

// poolCaps bounds the goroutines of idle pooled connections that may
// outlive the streams, by kind.
type poolCaps struct {
	httpClient int // net/http Transport connections (readLoop, writeLoop)
	httpServer int // net/http server connections waiting for a next request
	redis      int // miniredis peers of the store client's pool
}

func (c poolCaps) String() string {
	return fmt.Sprintf("allowed: %d http client, %d http server, %d redis goroutines", c.httpClient, c.httpServer, c.redis)
}

// settle waits until every goroutine not in base is an idle pooled
// connection within caps, and returns those left. It gives up after guard,
// returning ok false and what it saw last.
func settle(base map[int64]string, caps poolCaps, guard time.Duration) (map[int64]string, bool) {
	deadline := time.Now().Add(guard)
	for {
		left := map[int64]string{}
		var counts poolCaps
		ok := true
		for id, stack := range goroutines() {
			if _, old := base[id]; old {
				continue
			}
			left[id] = stack
			switch poolKind(stack) {
			case "http client":
				counts.httpClient++
			case "http server":
				counts.httpServer++
			case "redis":
				counts.redis++
			default:
				ok = false
			}
		}
		ok = ok && counts.httpClient <= caps.httpClient && counts.httpServer <= caps.httpServer && counts.redis <= caps.redis
		if ok || time.Now().After(deadline) {
			return left, ok
		}
		time.Sleep(20 * time.Millisecond) // a poll between checks, not a wait for time to pass
	}
}

// poolKind names the pool an idle connection's goroutine belongs to; ""
// for any other goroutine, including a connection busy in a handler.
func poolKind(stack string) string {
	switch {
	case strings.Contains(stack, "net/http.(*persistConn).readLoop"), strings.Contains(stack, "net/http.(*persistConn).writeLoop"):
		return "http client"
	case strings.Contains(stack, "net/http.(*conn).serve") && !strings.Contains(stack, "ServeHTTP"):
		return "http server"
	case strings.Contains(stack, "miniredis/v2/server.(*Server).servePeer"):
		return "redis"
	}
	return ""
}

// describe counts the pooled goroutines by kind and shows the stacks of the
// others, the leaks, trimmed, for a failure.
func describe(gs map[int64]string) string {
	counts := map[string]int{}
	var others strings.Builder
	for _, stack := range gs {
		kind := poolKind(stack)
		counts[kind]++
		if kind != "" {
			continue
		}
		if others.Len() > 8000 {
			continue
		}
		if len(stack) > 1500 {
			stack = stack[:1500] + "\n..."
		}
		others.WriteString(stack + "\n\n")
	}
	return fmt.Sprintf("%d http client, %d http server, %d redis, %d other goroutines; the others:\n%s",
		counts["http client"], counts["http server"], counts["redis"], counts[""], others.String())
}

func heapInuse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// goroutines returns the stacks of the live goroutines by goroutine ID,
// but the os/signal loop, which the first signal.Notify in the process (the
// proxy's, for SIGHUP) starts for good.
func goroutines() map[int64]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[int64]string{}
	for _, g := range strings.Split(string(buf), "\n\n") {
		rest, ok := strings.CutPrefix(g, "goroutine ")
		if !ok || strings.Contains(g, "os/signal.loop") {
			continue
		}
		idText, _, _ := strings.Cut(rest, " ")
		id, err := strconv.ParseInt(idText, 10, 64)
		if err != nil {
			continue
		}
		out[id] = g
	}
	return out
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
