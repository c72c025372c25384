// Package loadbench holds the proxy's load benchmarks (issue 6). Its only
// code outside its tests is the floor (internal/bare) and the command that
// runs the floor as a process (internal/floor).
//
// Everything runs on 127.0.0.1: a minimal streaming upstream
// (upstream_test.go), a bare httputil.ReverseProxy that reads the body first
// (the floor a pooling proxy is measured against), and `proxy serve` with
// one account pointing at the upstream. The floor and the proxy run in the
// benchmark's own process (the proxy through serve.RunServe), except in
// BenchmarkAddedLatencyProcesses, which builds both binaries with the go
// command and runs each as a process of its own, as users run the proxy.
//
//	go test ./pkg/loadbench -run '^$' -bench . -benchtime 2000x
//
// BenchmarkAddedLatency sends interleaved requests (direct, bare, proxy, in a
// rotating order) with a 64 KiB body and a session header (a sticky hit
// after the first request) at 1 and 8 concurrent streams and reports the
// latency each proxy adds over the direct run at p50 and p99, its time to
// first byte, and the proxy/bare ratios; BenchmarkAddedLatencyProcesses
// reports the same across processes. BenchmarkEventDelay checks that SSE
// events are not buffered. BenchmarkOpenStreams holds 1,000 streams open
// through the proxy, reports the heap in use, then releases them and checks
// that every stream was served and no goroutine is left.
//
// BenchmarkWebSocketSession plays a 20-request Codex tool session three
// ways (WebSocket to a ChatGPT account over an upstream WebSocket,
// WebSocket to an HTTP-only account, plain HTTP) against the fake upstream
// (pkg/fakeupstream) and reports the bytes sent upstream per request and
// the latency the proxy adds per request; BenchmarkWebSocketConnMemory
// reports the memory of an open WebSocket connection, idle and holding a
// conversation.
//
// BenchmarkTranslation, BenchmarkTranslationEventDelay and
// BenchmarkTranslationAllocs (translation_test.go) measure what
// translation between the two wire APIs costs (issue 21) on four paths: a
// Codex request to a Responses account (the baseline), a chat request
// through the front door to a Responses account, a Codex request to an
// account with api: chat_completions, and a chat request passed through to
// one; each against the same request sent straight to the upstream in the
// form its account receives.
//
// Absolute times vary by machine and load; compare the ratios.
package loadbench
