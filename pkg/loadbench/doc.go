// Package loadbench holds the proxy's load benchmarks (issue 6); it has no
// code of its own outside its tests.
//
// Everything runs in one process on 127.0.0.1: a minimal streaming upstream
// (upstream_test.go), a bare httputil.ReverseProxy that reads the body first
// (the floor a pooling proxy is measured against), and `proxy serve` started
// in-process through cli.RunServe with one account pointing at the upstream.
//
//	go test ./pkg/loadbench -run '^$' -bench . -benchtime 2000x
//
// BenchmarkAddedLatency sends interleaved requests (direct, bare, proxy, in a
// rotating order) with a 64 KiB body and a session header (a sticky hit
// after the first request) at 1 and 8 concurrent streams and reports the
// latency each proxy adds over the direct run at p50 and p99, its time to
// first byte, and the proxy/bare ratios. BenchmarkEventDelay checks that SSE
// events are not buffered. BenchmarkOpenStreams holds 1,000 streams open
// through the proxy, reports the heap in use, then releases them and checks
// that every stream was served and no goroutine is left.
//
// Absolute times vary by machine and load; compare the ratios.
package loadbench
