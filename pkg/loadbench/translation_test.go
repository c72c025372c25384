package loadbench

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/translate"
)

// The cost of translation (issue 21): the same answer over the four paths
// a request can take through the two front doors and the two account APIs,
// each measured against the same request sent straight to the upstream in
// the form the account receives it.
//
//	responses      a Codex Responses request, Responses account (the baseline path)
//	chat-door      a chat request through the front door, Responses account
//	               (translated on the way in, the events made chunks)
//	chat-account   a Codex Responses request, chat-only account (translated at
//	               the send, the chunks rebuilt as Responses events)
//	chat-native    a chat request, chat-only account (byte for byte)

// translationPath is one path and the direct run it is measured against.
type translationPath struct {
	name          string
	direct, proxy target
}

// translationEnv is the upstream (both APIs, stamps in the text so they
// survive translation) with two proxies in front: one whose account speaks
// Responses, one whose account speaks only Chat Completions.
type translationEnv struct {
	up     *upstream
	paths  []translationPath
	client *http.Client
}

// startTranslationEnv starts the upstream and both proxies and builds the
// four paths' requests from the captured Codex request (55 KB, restored to
// its recorded size) with a tool exchange appended, 61 KB in all.
func startTranslationEnv(b *testing.B, deltas int, gap time.Duration) *translationEnv {
	b.Helper()
	up, err := startUpstream(deltas, gap, nil)
	if err != nil {
		b.Fatal(err)
	}
	up.textStamps = true
	b.Cleanup(func() {
		if err := up.Close(); err != nil {
			b.Errorf("stopping the upstream: %v", err)
		}
	})
	start := func(api string) string {
		cfg := proxyConfig(up.URL())
		if api != "" {
			cfg += "    api: " + api + "\n"
		}
		u, stop, err := startProxyConfig(cfg, io.Discard)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() {
			if err := stop(); err != nil {
				b.Errorf("stopping the proxy (%s): %v", api, err)
			}
		})
		return u
	}
	viaResponses, viaChat := start(""), start("chat_completions")

	codex := translationCodexBody(b)
	chat, _, err := translate.ResponsesToChat(codex, translate.ChatOptions{})
	if err != nil {
		b.Fatalf("translating the Codex request: %v", err)
	}
	// What each account receives, sent straight to the upstream as the
	// direct run: the proxy's cost is then all that is added.
	chatAsResponses, req, err := translate.ChatToResponses(chat)
	if err != nil || len(req.NativeOnly) > 0 {
		b.Fatalf("translating the chat request: %v (native only: %v)", err, req.NativeOnly)
	}
	const chatPath = "/v1/chat/completions"
	direct := func(name, path string, body []byte) target {
		return target{name: "direct-" + name, base: up.URL(), path: path, key: true, body: body}
	}
	tr := clientTransport()
	b.Cleanup(tr.CloseIdleConnections)
	return &translationEnv{
		up:     up,
		client: &http.Client{Transport: tr},
		paths: []translationPath{
			{name: "responses", direct: direct("responses", "", codex),
				proxy: target{name: "responses", base: viaResponses, body: codex}},
			{name: "chat-door", direct: direct("chat-door", "", chatAsResponses),
				proxy: target{name: "chat-door", base: viaResponses, path: chatPath, body: chat}},
			{name: "chat-account", direct: direct("chat-account", chatPath, chat),
				proxy: target{name: "chat-account", base: viaChat, body: codex}},
			{name: "chat-native", direct: direct("chat-native", chatPath, chat),
				proxy: target{name: "chat-native", base: viaChat, path: chatPath, body: chat}},
		},
	}
}

// targets lists every path's direct and proxied target.
func (e *translationEnv) targets() []target {
	var ts []target
	for _, p := range e.paths {
		ts = append(ts, p.direct, p.proxy)
	}
	return ts
}

// translationCodexBody is the captured Codex request (see loadCodexRequest)
// with a tool exchange after its user message, as a tool turn resends it:
// an exec_command call, its 1-2 KiB output, the assistant's reply and the
// next user message, three times.
func translationCodexBody(b *testing.B) []byte {
	b.Helper()
	req, err := loadCodexRequest()
	if err != nil {
		b.Fatal(err)
	}
	input := append([]json.RawMessage(nil), req.input...)
	for step := range 3 {
		id := "call_loadbench_" + strconv.Itoa(step)
		input = append(input,
			json.RawMessage(`{"type":"function_call","name":"`+toolName+`","arguments":`+strconv.Quote(toolArgs)+`,"call_id":"`+id+`"}`),
			toolOutputItem(id, step),
			json.RawMessage(`{"type":"message","role":"assistant","content":[{"type":"output_text","text":"The listing shows the package; looking at the failing test next."}]}`),
			userMessageItem(step))
	}
	return req.body("loadbench-translation", input, false, "")
}

// BenchmarkTranslation measures what each path adds to a streamed request
// over the same request sent straight to the upstream (24 text deltas, back
// to back): each op is one request per path and per direct run, eight in
// all, in a rotating order, at one stream, all sticky hits. Metrics, per
// path, in microseconds: <path>-p50-added-us, <path>-p99-added-us,
// <path>-ttfb-p50-added-us, and direct-<path>-p50-us for the floor itself;
// codex-body-bytes and chat-body-bytes are the two requests' sizes.
func BenchmarkTranslation(b *testing.B) {
	e := startTranslationEnv(b, 24, 0)
	s := driveTargets(b, e.client, 1, e.targets())
	b.ReportMetric(float64(len(e.paths[0].proxy.body)), "codex-body-bytes")
	b.ReportMetric(float64(len(e.paths[1].proxy.body)), "chat-body-bytes")
	for _, p := range e.paths {
		q := func(t target, measure func(result) time.Duration, pct float64) time.Duration {
			return quantile(durations(s.by[t.name], measure), pct)
		}
		total := func(r result) time.Duration { return r.total }
		ttfb := func(r result) time.Duration { return r.ttfb }
		b.ReportMetric(us(q(p.direct, total, 0.50)), p.direct.name+"-p50-us")
		b.ReportMetric(us(q(p.proxy, total, 0.50)-q(p.direct, total, 0.50)), p.name+"-p50-added-us")
		b.ReportMetric(us(q(p.proxy, total, 0.99)-q(p.direct, total, 0.99)), p.name+"-p99-added-us")
		b.ReportMetric(us(q(p.proxy, ttfb, 0.50)-q(p.direct, ttfb, 0.50)), p.name+"-ttfb-p50-added-us")
	}
}

// BenchmarkTranslationEventDelay is BenchmarkEventDelay over the four
// paths: the upstream pauses 2 ms before each of 8 deltas, each stamped in
// its text, and the client records per request the longest an event took
// from the upstream's write to its read. Metrics: <path>-event-delay-p50-us
// and -p99-us, and direct-<path>-event-delay-p50-us.
func BenchmarkTranslationEventDelay(b *testing.B) {
	e := startTranslationEnv(b, 8, 2*time.Millisecond)
	s := driveTargets(b, e.client, 1, e.targets())
	delay := func(r result) time.Duration { return r.maxDelay }
	for _, p := range e.paths {
		for _, t := range []target{p.direct, p.proxy} {
			d := durations(s.by[t.name], delay)
			if d[0] == 0 {
				b.Fatalf("%s: no stamped event reached the client", t.name)
			}
			b.ReportMetric(us(quantile(d, 0.50)), t.name+"-event-delay-p50-us")
			if t.name == p.proxy.name {
				b.ReportMetric(us(quantile(d, 0.99)), t.name+"-event-delay-p99-us")
			}
		}
	}
}

// BenchmarkTranslationAllocs counts the heap allocations each path adds to
// a request and to an event: per path it sends b.N requests straight to the
// upstream and b.N through the proxy, with 24 deltas and again with 88,
// one at a time, and reads the process's malloc count around each run (the
// client and upstream allocate the same in both, so the difference is the
// proxy's). Metrics: <path>-allocs-per-req (24 deltas, 31 events on the
// Responses side) and <path>-allocs-per-event (the slope between the two).
func BenchmarkTranslationAllocs(b *testing.B) {
	e := startTranslationEnv(b, 24, 0)
	ctx := context.Background()
	const session = "loadbench-translation-allocs"
	mallocs := func(t target, n int) uint64 {
		for range 3 { // warm: connections open, the session bound
			if _, err := stream(ctx, e.client, t, session, t.body, nil); err != nil {
				b.Fatal(err)
			}
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range n {
			if _, err := stream(ctx, e.client, t, session, t.body, nil); err != nil {
				b.Fatal(err)
			}
		}
		runtime.ReadMemStats(&after)
		return after.Mallocs - before.Mallocs
	}
	const few, many = 24, 88
	type counts struct{ few, many float64 }
	added := map[string]counts{}
	b.ResetTimer()
	for _, p := range e.paths {
		var c counts
		for _, d := range []struct {
			deltas int
			into   *float64
		}{{few, &c.few}, {many, &c.many}} {
			e.up.deltas.Store(int64(d.deltas))
			*d.into = (float64(mallocs(p.proxy, b.N)) - float64(mallocs(p.direct, b.N))) / float64(b.N)
		}
		added[p.name] = c
	}
	b.StopTimer()
	e.up.deltas.Store(few)
	for _, p := range e.paths {
		c := added[p.name]
		b.ReportMetric(c.few, p.name+"-allocs-per-req")
		b.ReportMetric((c.many-c.few)/(many-few), p.name+"-allocs-per-event")
	}
}
