package loadbench

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAddedLatency measures what the bare reverse proxy and the proxy
// add to a streamed /v1/responses call with a 64 KiB body, side by side:
// each op is one request per target, in a rotating order, all sticky hits
// (each worker keeps its session). Metrics, in microseconds:
//
//	direct-p50-us, direct-p99-us         the floor, end of stream
//	{bare,proxy}-p50-added-us, -p99-      percentile minus the direct one
//	ratio-p50, ratio-p99                  proxy added / bare added (target <= 1.5, <= 2)
//	{bare,proxy}-ttfb-p50-added-us, ratio-ttfb-p50, ratio-ttfb-p99  the same for the first event
//
// Use a large -benchtime (e.g. 2000x) for stable percentiles; at 1x it just
// checks that everything works.
func BenchmarkAddedLatency(b *testing.B) {
	e := startEnv(b, 24, 0, nil)
	defer func() {
		if err := e.stop(); err != nil {
			b.Errorf("stopping: %v", err)
		}
	}()
	for _, conc := range []int{1, 8} {
		b.Run(fmt.Sprintf("streams=%d", conc), func(b *testing.B) {
			runInterleaved(b, e, conc)
		})
	}
}

// BenchmarkEventDelay checks that events are passed on as they come: the
// upstream pauses 2 ms before each of 8 deltas, and the client records, per
// request, the longest time an event took from the upstream's write to its
// read. A buffering proxy would show the stream's whole length (16 ms+).
func BenchmarkEventDelay(b *testing.B) {
	e := startEnv(b, 8, 2*time.Millisecond, nil)
	defer func() {
		if err := e.stop(); err != nil {
			b.Errorf("stopping: %v", err)
		}
	}()
	s := drive(b, e, 1)
	for _, t := range []target{e.direct, e.bare, e.proxy} {
		d := durations(s.by[t.name], func(r result) time.Duration { return r.maxDelay })
		b.ReportMetric(us(quantile(d, 0.50)), t.name+"-event-delay-p50-us")
		b.ReportMetric(us(quantile(d, 0.99)), t.name+"-event-delay-p99-us")
	}
}

func runInterleaved(b *testing.B, e *env, conc int) {
	s := drive(b, e, conc)
	total := func(r result) time.Duration { return r.total }
	ttfb := func(r result) time.Duration { return r.ttfb }
	report(b, s, e, "", total)
	report(b, s, e, "ttfb-", ttfb)
}

// drive runs b.N interleaved ops on conc workers and returns the samples.
func drive(b *testing.B, e *env, conc int) *samples {
	return driveTargets(b, e.client, conc, []target{e.direct, e.bare, e.proxy})
}

// driveTargets runs b.N ops on conc workers, each op one request per
// target in a rotating order, after three warm-up rounds, and returns the
// samples. A target with a body sends it; the others send requestBody.
func driveTargets(b *testing.B, client *http.Client, conc int, targets []target) *samples {
	ctx := context.Background()
	bodies := make([][]byte, conc)
	sessions := make([]string, conc)
	for w := range conc {
		sessions[w] = fmt.Sprintf("loadbench-%d-%d", conc, w)
		bodies[w] = requestBody(sessions[w])
	}
	bodyOf := func(t target, w int) []byte {
		if t.body != nil {
			return t.body
		}
		return bodies[w]
	}
	// Warm up: connections open, the sessions bound (the first request of
	// each is a new session; every measured one is a sticky hit).
	var wg sync.WaitGroup
	errs := make(chan error, conc)
	for w := range conc {
		wg.Go(func() {
			for range 3 {
				for _, t := range targets {
					if _, err := stream(ctx, client, t, sessions[w], bodyOf(t, w), nil); err != nil {
						errs <- err
						return
					}
				}
			}
		})
	}
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}

	s := &samples{}
	var next atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	for w := range conc {
		wg.Go(func() {
			for {
				op := next.Add(1) - 1
				if op >= int64(b.N) {
					return
				}
				for i := range targets {
					t := targets[(int(op)+i)%len(targets)]
					r, err := stream(ctx, client, t, sessions[w], bodyOf(t, w), nil)
					if err != nil {
						errs <- err
						return
					}
					s.add(t.name, r)
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	return s
}

// report adds the percentile metrics of one measure.
func report(b *testing.B, s *samples, e *env, what string, measure func(result) time.Duration) {
	q := func(t target, p float64) time.Duration {
		return quantile(durations(s.by[t.name], measure), p)
	}
	d50, d99 := q(e.direct, 0.50), q(e.direct, 0.99)
	b.ReportMetric(us(d50), "direct-"+what+"p50-us")
	b.ReportMetric(us(d99), "direct-"+what+"p99-us")
	added := map[string][2]time.Duration{}
	for _, t := range []target{e.bare, e.proxy} {
		a := [2]time.Duration{q(t, 0.50) - d50, q(t, 0.99) - d99}
		added[t.name] = a
		b.ReportMetric(us(a[0]), t.name+"-"+what+"p50-added-us")
		b.ReportMetric(us(a[1]), t.name+"-"+what+"p99-added-us")
	}
	b.ReportMetric(ratio(added["proxy"][0], added["bare"][0]), "ratio-"+what+"p50")
	b.ReportMetric(ratio(added["proxy"][1], added["bare"][1]), "ratio-"+what+"p99")
}

func durations(rs []result, f func(result) time.Duration) []time.Duration {
	out := make([]time.Duration, len(rs))
	for i, r := range rs {
		out[i] = f(r)
	}
	slices.Sort(out)
	return out
}

// quantile is the nearest-rank quantile of sorted d.
func quantile(d []time.Duration, q float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	i := int(math.Ceil(q*float64(len(d)))) - 1
	return d[min(max(i, 0), len(d)-1)]
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// ratio is a/b, with a floor under b so noise around zero cannot explode it.
func ratio(a, b time.Duration) float64 {
	return float64(a) / float64(max(b, time.Microsecond))
}
