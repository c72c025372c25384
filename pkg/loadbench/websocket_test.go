package loadbench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/coder/websocket"

	"github.com/proxy-dev/proxy/pkg/fakeupstream"
)

// The figures of the WebSocket gateway (issue: "Measure it"): what a
// 20-request Codex tool session sends upstream over WebSocket (increments)
// against HTTP (complete requests), the latency the proxy adds per request
// on each path, and the memory an open client connection costs.
//
//	go test ./pkg/loadbench -run '^$' -bench 'WebSocket' -benchtime 20x
//
// Everything runs in this process on 127.0.0.1, against pkg/fakeupstream
// (it speaks the WebSocket transport and plays a model that calls a tool),
// with no artificial delays. Its cost is in the direct baseline too, so
// the added latency is what the proxy adds.

const (
	// sessionRequests is the length of the measured Codex session.
	sessionRequests = 20
	// defaultWSConns is how many connections BenchmarkWebSocketConnMemory
	// holds open; LOADBENCH_WS_CONNS overrides it.
	defaultWSConns = 200

	chatgptToken     = "chatgpt-loadbench-access-token-0123456789"
	chatgptAccountID = "acct-loadbench"
	toolName         = "exec_command"
	toolArgs         = `{"cmd":"ls -la pkg/relay","workdir":"/home/dev/project"}`

	// directMark marks the baseline's requests, so the fake's records tell
	// them from the proxy's.
	directMark = "X-Loadbench-Direct"
	// recycleEvery bounds what a fake upstream records (every body): a
	// mode's fake and proxy are replaced after this many sessions.
	recycleEvery = 16
	// requestGuard bounds one request's wait for its answer: a hang, not
	// a speed.
	requestGuard = time.Minute
)

// sessionMode is one way the session's requests reach the upstream.
type sessionMode struct {
	name     string
	clientWS bool // the client speaks WebSocket (increments), else POSTs complete requests
	chatgpt  bool // the account is openai-responses (ChatGPT, WebSocket upstream), else openai (HTTP only)
}

var sessionModes = []sessionMode{
	{name: "ws", clientWS: true, chatgpt: true},
	{name: "ws-http", clientWS: true, chatgpt: false},
	{name: "http", clientWS: false, chatgpt: true},
}

// BenchmarkWebSocketSession plays one Codex tool session of 20 requests
// three ways, each mode on a fake upstream and a proxy of its own:
//
//	ws       client -> proxy over WebSocket, proxy -> ChatGPT account over WebSocket
//	ws-http  client -> proxy over WebSocket, proxy -> openai account over HTTP
//	http     client -> proxy with complete POSTs (SSE), ChatGPT account
//
// The session starts from the captured Codex request
// (testdata/codex-samples/request-turn1-default-model.json, its redacted
// strings restored to their recorded lengths and its omitted tool schemas
// to the captured Content-Length, 55,231 bytes) and grows as a tool-heavy
// one does: the fake answers a request that ends with a function call's
// output with text and any other with a function call, so requests
// alternate between a tool's output (1-2 KiB of file listing) and a new
// user message. Over WebSocket each request carries previous_response_id
// and only its new items; over HTTP the complete conversation.
//
// Every request is also sent straight to the same fake (over WebSocket for
// the ws modes, over HTTP for http), back to back with the proxied one in
// a rotating order. Each op is one session per mode, on new connections
// and a fresh session id. Metrics, per mode:
//
//	<mode>-upstream-bytes-per-req   mean body the fake received from the proxy per request
//	<mode>-upstream-bytes-last-req  the 20th request's
//	<mode>-upstream-bytes-total     the session's
//	<mode>-req-p50-us               send to response.completed through the proxy, median
//	<mode>-direct-p50-us            the same straight to the fake
//	<mode>-added-p50-us             median over requests of proxied minus direct time of
//	                                the same request index in the same session
//	ratio-ws-added-vs-http-added    ws-added-p50-us / http-added-p50-us
//	ratio-ws-bytes-vs-http-bytes    ws-upstream-bytes-total / http-upstream-bytes-total
//
// ws-http's baseline is direct over WebSocket, as the client would go
// without the proxy, so its added time includes what the complete POSTs
// cost the fake (parsing the whole conversation) over increments; its
// req-p50 against http's compares the two end to end.
//
// Bytes are the JSON bodies as the fake decoded them: on the wire
// permessage-deflate (WebSocket) or zstd (HTTP) may shrink both. The
// client offers permessage-deflate as Codex does; LOADBENCH_WS_DEFLATE=0
// turns that off.
func BenchmarkWebSocketSession(b *testing.B) {
	req, err := loadCodexRequest()
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("session: first request %d bytes (tool schemas %d, first developer message %d)", req.firstSize, req.toolBytes, req.developerBytes)
	ctx := context.Background()

	envs := make([]*modeEnv, len(sessionModes))
	stopAll := func() {
		for i, e := range envs {
			if e != nil {
				if err := e.stop(); err != nil {
					b.Errorf("stopping %s: %v", e.mode.name, err)
				}
				envs[i] = nil
			}
		}
	}
	defer stopAll()
	startAll := func() {
		for i, m := range sessionModes {
			e, err := startModeEnv(m, 0)
			if err != nil {
				b.Fatal(err)
			}
			envs[i] = e
			if err := e.warmUp(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	}
	startAll()

	stats := make([]modeStats, len(sessionModes))
	b.ReportAllocs()
	b.ResetTimer()
	for it := range b.N {
		if it > 0 && it%recycleEvery == 0 {
			b.StopTimer()
			stopAll()
			startAll()
			b.StartTimer()
		}
		for k := range sessionModes {
			mi := (it + k) % len(sessionModes)
			e := envs[mi]
			direct, proxied, err := e.session(ctx, req, sessionID(it, mi), sessionRequests, it)
			if err != nil {
				b.Fatalf("%s, session %d: %v\nproxy log tail:\n%s", e.mode.name, it, err, e.logs.tail())
			}
			b.StopTimer()
			sizes, err := e.proxySent(sessionRequests)
			if err != nil {
				b.Fatalf("%s, session %d: %v", e.mode.name, it, err)
			}
			stats[mi].add(direct, proxied, sizes)
			b.StartTimer()
		}
	}
	b.StopTimer()

	added := map[string]time.Duration{}
	total := map[string]float64{}
	for i, m := range sessionModes {
		s := &stats[i]
		a := s.report(b, m.name)
		added[m.name] = a
		total[m.name] = s.meanTotal()
	}
	b.ReportMetric(ratio(added["ws"], added["http"]), "ratio-ws-added-vs-http-added")
	b.ReportMetric(total["ws"]/max(total["http"], 1), "ratio-ws-bytes-vs-http-bytes")
}

// TestWebSocketSession plays one short session per mode, so `go test`
// keeps the benchmark's machinery working; -short skips it.
func TestWebSocketSession(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	req, err := loadCodexRequest()
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range sessionModes {
		t.Run(m.name, func(t *testing.T) {
			e, err := startModeEnv(m, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer func() {
				if err := e.stop(); err != nil {
					t.Errorf("stopping: %v", err)
				}
			}()
			const steps = 4
			if _, _, err := e.session(context.Background(), req, sessionID(0, i), steps, 0); err != nil {
				t.Fatalf("%v\nproxy log tail:\n%s", err, e.logs.tail())
			}
			sizes, err := e.proxySent(steps)
			if err != nil {
				t.Fatal(err)
			}
			incremental := m.clientWS && m.chatgpt
			grew := sizes[steps-1] > sizes[0]
			if sizes[0] < req.firstSize*9/10 || grew == incremental {
				t.Errorf("upstream bodies %v: want the complete first request (about %d bytes), then increments exactly when the account takes WebSockets", sizes, req.firstSize)
			}
		})
	}
}

// modeStats gathers one mode's sessions.
type modeStats struct {
	sizes   [][]int         // per session, the body the fake received for each request
	proxied []time.Duration // every proxied request
	direct  []time.Duration // every direct one
	added   []time.Duration // proxied minus direct, per request index of each session
}

func (s *modeStats) add(direct, proxied []time.Duration, sizes []int) {
	s.sizes = append(s.sizes, sizes)
	s.proxied = append(s.proxied, proxied...)
	s.direct = append(s.direct, direct...)
	for i := range proxied {
		s.added = append(s.added, proxied[i]-direct[i])
	}
}

func (s *modeStats) meanTotal() float64 {
	sum := 0
	for _, sz := range s.sizes {
		for _, n := range sz {
			sum += n
		}
	}
	return float64(sum) / float64(max(len(s.sizes), 1))
}

// report adds the mode's metrics and returns its median added latency.
func (s *modeStats) report(b *testing.B, name string) time.Duration {
	sum, last, count := 0, 0, 0
	for _, sz := range s.sizes {
		for _, n := range sz {
			sum += n
			count++
		}
		last += sz[len(sz)-1]
	}
	b.ReportMetric(float64(sum)/float64(max(count, 1)), name+"-upstream-bytes-per-req")
	b.ReportMetric(float64(last)/float64(max(len(s.sizes), 1)), name+"-upstream-bytes-last-req")
	b.ReportMetric(s.meanTotal(), name+"-upstream-bytes-total")
	med := func(d []time.Duration) time.Duration {
		d = slices.Clone(d)
		slices.Sort(d)
		return quantile(d, 0.50)
	}
	b.ReportMetric(us(med(s.proxied)), name+"-req-p50-us")
	b.ReportMetric(us(med(s.direct)), name+"-direct-p50-us")
	a := med(s.added)
	b.ReportMetric(us(a), name+"-added-p50-us")
	return a
}

// sessionID is a fresh UUID-shaped session id (Codex's are UUIDs, so the
// bodies keep the captured request's size).
func sessionID(iteration, mode int) string {
	return fmt.Sprintf("01a2149e-%04x-7%03x-8%03x-%012x", iteration&0xffff, mode&0xfff, os.Getpid()&0xfff, time.Now().UnixNano()&0xffffffffffff)
}

// modeEnv is one mode's fake upstream and proxy.
type modeEnv struct {
	mode      sessionMode
	fake      *fakeupstream.Server
	proxyURL  string
	stopProxy func() error
	logs      *logTail
	tr        *http.Transport
	client    *http.Client
	seen      int // fake records already looked at
}

// startModeEnv starts a fake upstream for m (it takes WebSockets whatever
// the account type, so the ws modes' direct baseline can use them; the
// proxy uses them only for a ChatGPT account) and a proxy with its one
// account. wsConns, when positive, is the proxy's connection limit.
func startModeEnv(m sessionMode, wsConns int) (*modeEnv, error) {
	opts := []fakeupstream.Option{fakeupstream.WithWebSocket(), fakeupstream.WithToolCall(toolName, toolArgs)}
	var account string
	if m.chatgpt {
		opts = append(opts, fakeupstream.WithChatGPT(chatgptToken, chatgptAccountID))
	} else {
		opts = append(opts, fakeupstream.WithAPIKey(upstreamKey))
	}
	fake := fakeupstream.New("bench", opts...)
	if err := fake.Start("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("starting the fake upstream: %w", err)
	}
	if m.chatgpt {
		account = chatgptAccountYAML("chat", fake.URL())
	} else {
		account = openaiAccountYAML("api", fake.URL())
	}
	logs := &logTail{}
	url, stop, err := startProxyConfig(wsProxyConfig(wsConns, account), logs)
	if err != nil {
		_ = fake.Close()
		return nil, fmt.Errorf("%s: %w", m.name, err)
	}
	tr := clientTransport()
	return &modeEnv{mode: m, fake: fake, proxyURL: url, stopProxy: stop, logs: logs, tr: tr, client: &http.Client{Transport: tr}}, nil
}

func (e *modeEnv) stop() error {
	e.tr.CloseIdleConnections()
	return errors.Join(e.stopProxy(), e.fake.Close())
}

// warmUp runs a short session on both legs, so the measured ones find
// connections made and code paths warm, and forgets what the fake
// recorded of it.
func (e *modeEnv) warmUp(ctx context.Context, req *codexRequest) error {
	if _, _, err := e.session(ctx, req, sessionID(0xffff, 0xfff), 2, 0); err != nil {
		return fmt.Errorf("%s: warm-up: %w\nproxy log tail:\n%s", e.mode.name, err, e.logs.tail())
	}
	e.seen = len(e.fake.Requests())
	return nil
}

// open opens one leg of a session: to the proxy, or straight to the fake
// with the account's credential.
func (e *modeEnv) open(ctx context.Context, req *codexRequest, session string, direct bool) (*leg, error) {
	url := e.proxyURL + "/v1/responses"
	if direct {
		url = directURL(e.mode, e.fake.URL())
	}
	return openLeg(ctx, e.mode, e.client, url, req, session, direct)
}

// directURL is a fake's own responses endpoint for the mode's account type.
func directURL(m sessionMode, fakeURL string) string {
	if m.chatgpt {
		return fakeURL + "/backend-api/codex/responses"
	}
	return fakeURL + "/v1/responses"
}

// openLeg opens one leg to url: a WebSocket when the mode's client speaks
// it, else a leg that POSTs with client. A direct leg carries the
// account's credential and the mark that tells its requests apart.
func openLeg(ctx context.Context, m sessionMode, client *http.Client, url string, req *codexRequest, session string, direct bool) (*leg, error) {
	l := &leg{name: "proxy", client: client, url: url, header: req.headers(session), conv: &codexConv{req: req, session: session}}
	if direct {
		l.name = "direct"
		l.header.Set(directMark, "1")
		if m.chatgpt {
			l.header.Set("Authorization", "Bearer "+chatgptToken)
			l.header.Set("Chatgpt-Account-Id", chatgptAccountID)
		} else {
			l.header.Set("Authorization", "Bearer "+upstreamKey)
		}
	}
	if !m.clientWS {
		l.header.Set("Accept", "text/event-stream")
		l.header.Set("Content-Type", "application/json")
		return l, nil
	}
	c, err := dialWS(ctx, l.url, l.header)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", l.name, err)
	}
	l.ws = c
	return l, nil
}

// dialWS opens a WebSocket as Codex does: its beta header, offering
// permessage-deflate (LOADBENCH_WS_DEFLATE=0 offers none, to tell what
// compression costs; the proxy's own upstream leg offers it regardless).
func dialWS(ctx context.Context, url string, h http.Header) (*websocket.Conn, error) {
	h = h.Clone()
	h.Set("OpenAI-Beta", "responses_websockets=2026-02-06")
	dctx, cancel := context.WithTimeout(ctx, requestGuard)
	defer cancel()
	mode := websocket.CompressionContextTakeover
	if os.Getenv("LOADBENCH_WS_DEFLATE") == "0" {
		mode = websocket.CompressionDisabled
	}
	c, resp, err := websocket.Dial(dctx, url, &websocket.DialOptions{HTTPHeader: h, CompressionMode: mode})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		return nil, fmt.Errorf("WebSocket upgrade (status %d): %w", status, err)
	}
	c.SetReadLimit(64 << 20)
	return c, nil
}

// session plays steps requests on a new direct and a new proxied leg,
// each request sent on both back to back, the first of the two rotating
// with the request index and rot. It returns each leg's time per request.
func (e *modeEnv) session(ctx context.Context, req *codexRequest, session string, steps, rot int) (direct, proxied []time.Duration, err error) {
	d, err := e.open(ctx, req, session, true)
	if err != nil {
		return nil, nil, err
	}
	defer d.close()
	p, err := e.open(ctx, req, session, false)
	if err != nil {
		return nil, nil, err
	}
	defer p.close()
	direct, proxied = make([]time.Duration, steps), make([]time.Duration, steps)
	for i := range steps {
		legs := []*leg{d, p}
		if (rot+i)%2 == 1 {
			legs[0], legs[1] = p, d
		}
		for _, l := range legs {
			t, err := l.step(ctx)
			if err != nil {
				return nil, nil, fmt.Errorf("request %d: %w", i+1, err)
			}
			if wantCall := i%2 == 0; (l.conv.last.callID != "") != wantCall {
				return nil, nil, fmt.Errorf("request %d, %s: answered with a function call: %v, want %v", i+1, l.name, !wantCall, wantCall)
			}
			if l == d {
				direct[i] = t
			} else {
				proxied[i] = t
			}
		}
	}
	if err := errors.Join(d.close(), p.close()); err != nil {
		return nil, nil, fmt.Errorf("closing: %w", err)
	}
	return direct, proxied, nil
}

// proxySent returns the sizes of the bodies the proxy sent the fake since
// the last look (the baseline's and the upgrade requests left out),
// checking there are want of them and, for the ws mode, that every one
// after the first continued its predecessor.
func (e *modeEnv) proxySent(want int) ([]int, error) {
	all := e.fake.Requests()
	fresh := all[e.seen:]
	e.seen = len(all)
	var sizes []int
	for _, r := range fresh {
		if r.Header.Get(directMark) != "" {
			continue
		}
		if !r.WebSocket && (r.Method != http.MethodPost || !strings.HasSuffix(r.Path, "/responses")) {
			continue
		}
		if e.mode.clientWS && e.mode.chatgpt && len(sizes) > 0 && !r.Incremental {
			return nil, fmt.Errorf("request %d reached the upstream complete, not as an increment (previous_response_id %q)", len(sizes)+1, r.PreviousResponseID)
		}
		if r.WebSocket != (e.mode.clientWS && e.mode.chatgpt) {
			return nil, fmt.Errorf("request %d reached the upstream over the wrong transport (WebSocket %v)", len(sizes)+1, r.WebSocket)
		}
		sizes = append(sizes, len(r.Body))
	}
	if len(sizes) != want {
		return nil, fmt.Errorf("the upstream received %d requests from the proxy, want %d", len(sizes), want)
	}
	return sizes, nil
}

// leg is one client's side of a session: to the proxy or to the fake.
type leg struct {
	name   string
	ws     *websocket.Conn // nil: POSTs
	client *http.Client
	url    string
	header http.Header
	conv   *codexConv
	closed bool
}

// step sends the conversation's next request and waits for its
// response.completed, returning the time between.
func (l *leg) step(ctx context.Context) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, requestGuard)
	defer cancel()
	var (
		r   reply
		d   time.Duration
		err error
	)
	if l.ws != nil {
		r, d, err = wsRoundTrip(ctx, l.ws, l.conv.next(true))
	} else {
		r, d, err = postRoundTrip(ctx, l.client, l.url, l.header, l.conv.next(false))
	}
	if err != nil {
		return 0, fmt.Errorf("%s: %w", l.name, err)
	}
	l.conv.answered(r)
	return d, nil
}

func (l *leg) close() error {
	if l.ws == nil || l.closed {
		return nil
	}
	l.closed = true
	return l.ws.Close(websocket.StatusNormalClosure, "")
}

// reply is what one answer gave the conversation.
type reply struct {
	id     string
	callID string            // the function call's, "" for a text answer
	output []json.RawMessage // the output items, as output_item.done carried them
}

// event reads one event; done once it was response.completed, an error
// for any other terminal event.
func (r *reply) event(data []byte) (done bool, err error) {
	var ev struct {
		Type     string          `json:"type"`
		Item     json.RawMessage `json:"item"`
		Response struct {
			ID string `json:"id"`
		} `json:"response"`
	}
	if err := json.Unmarshal(data, &ev); err != nil {
		return false, fmt.Errorf("event is not JSON: %w: %.200s", err, data)
	}
	switch ev.Type {
	case "response.output_item.done":
		r.output = append(r.output, append(json.RawMessage(nil), ev.Item...))
		var it struct {
			Type   string `json:"type"`
			CallID string `json:"call_id"`
		}
		if json.Unmarshal(ev.Item, &it) == nil && it.Type == "function_call" {
			r.callID = it.CallID
		}
	case "response.completed":
		r.id = ev.Response.ID
		return true, nil
	case "response.failed", "response.incomplete", "error":
		return false, fmt.Errorf("answered %.500s", data)
	}
	return false, nil
}

// wsRoundTrip sends one frame and reads its answer up to
// response.completed.
func wsRoundTrip(ctx context.Context, c *websocket.Conn, frame []byte) (reply, time.Duration, error) {
	start := time.Now()
	if err := c.Write(ctx, websocket.MessageText, frame); err != nil {
		return reply{}, 0, fmt.Errorf("sending: %w", err)
	}
	var r reply
	for {
		_, data, err := c.Read(ctx)
		if err != nil {
			return reply{}, 0, fmt.Errorf("reading the answer: %w", err)
		}
		d := time.Since(start)
		done, err := r.event(data)
		if err != nil {
			return reply{}, 0, err
		}
		if done {
			return r, d, nil
		}
	}
}

// postRoundTrip POSTs one complete request and reads its SSE stream up to
// response.completed, then to its end (so the connection is reused).
func postRoundTrip(ctx context.Context, client *http.Client, url string, h http.Header, body []byte) (reply, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return reply{}, 0, err
	}
	req.Header = h.Clone()
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return reply{}, 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 2048))
		return reply{}, 0, fmt.Errorf("status %d: %s", resp.StatusCode, b)
	}
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	var r reply
	for {
		line, err := br.ReadBytes('\n')
		if data, ok := bytes.CutPrefix(line, []byte("data: ")); ok {
			d := time.Since(start)
			done, perr := r.event(bytes.TrimRight(data, "\r\n"))
			if perr != nil {
				return reply{}, 0, perr
			}
			if done {
				if _, err := io.Copy(io.Discard, br); err != nil {
					return reply{}, 0, fmt.Errorf("reading the stream's end: %w", err)
				}
				return r, d, nil
			}
		}
		if err == io.EOF {
			return reply{}, 0, errors.New("stream ended without response.completed")
		}
		if err != nil {
			return reply{}, 0, fmt.Errorf("reading the stream: %w", err)
		}
	}
}

// codexConv is one Codex conversation as its client keeps it: every item
// so far (for a complete request) and the last response (to continue).
type codexConv struct {
	req     *codexRequest
	session string
	step    int
	history []json.RawMessage
	last    reply
	// completeLen is the size of the last request as a complete one: what
	// the proxy holds for a conversation it continues.
	completeLen int
}

// next is the next request's body: an increment frame (previous_response_id
// and the new items) when ws, else the complete request. The new items are
// the captured request's input first, then the output of a function call
// when the last answer was one, else a new user message.
func (c *codexConv) next(ws bool) []byte {
	var items []json.RawMessage
	switch {
	case c.step == 0:
		items = c.req.input
	case c.last.callID != "":
		items = []json.RawMessage{toolOutputItem(c.last.callID, c.step)}
	default:
		items = []json.RawMessage{userMessageItem(c.step)}
	}
	c.history = append(append(c.history, c.last.output...), items...)
	c.step++
	complete := c.req.body(c.session, c.history, false, "")
	c.completeLen = len(complete)
	if !ws {
		return complete
	}
	return c.req.body(c.session, items, true, c.last.id)
}

func (c *codexConv) answered(r reply) { c.last = r }

// toolOutputItem is the output of the step's call of exec_command: a file
// listing of 1 to 2 KiB, different at each step.
func toolOutputItem(callID string, step int) json.RawMessage {
	target := 1024 + (step*389)%1024
	var b strings.Builder
	for i := 0; b.Len() < target; i++ {
		fmt.Fprintf(&b, "-rw-r--r--  1 dev dev %6d Nov 25 10:%02d %s_%02d.go\n", 700+(step*131+i*977)%40000, (step+i)%60, fillerWords[(step*7+i)%len(fillerWords)], i)
	}
	item, _ := json.Marshal(map[string]string{"type": "function_call_output", "call_id": callID, "output": b.String()}) // cannot fail: strings
	return item
}

// userMessageItem is the user's next instruction.
func userMessageItem(step int) json.RawMessage {
	text := fmt.Sprintf("Good. Now look at the %s handling in pkg/relay and fix the failing test (step %d); run the tests after.", fillerWords[step%len(fillerWords)], step)
	item, _ := json.Marshal(map[string]any{"type": "message", "role": "user", "content": []map[string]string{{"type": "input_text", "text": text}}}) // cannot fail: plain data
	return item
}

// codexRequest is the captured Codex request, its redacted parts restored.
type codexRequest struct {
	members []member          // the body's members in captured order
	input   []json.RawMessage // its input items
	header  map[string]string // the captured headers a client sets itself

	firstSize      int // the first request's size, as captured (its Content-Length)
	toolBytes      int // of the restored tool schemas
	developerBytes int // of the restored first developer message
}

type member struct {
	key   string
	value json.RawMessage
}

var (
	// truncatedString is how the capture shortened long strings.
	truncatedString = regexp.MustCompile(`(?s)^(.*)\.\.\.\[(\d+) chars total\]$`)
	fillerWords     = strings.Fields(`the proxy keeps one upstream connection per client and sends only new items when
		the account takes them otherwise complete requests go over HTTP file test package function error context request
		response stream event session account token budget limit memory latency tool output call model input item message
		developer user assistant run build check read write open close list find fix update config value path line sandbox
		workspace shell command patch apply review plan step agent skill instructions permissions mode collaboration`)
)

// loadCodexRequest reads testdata/codex-samples/request-turn1-default-model.json
// and restores what the capture left out: each string shortened to
// "...[N chars total]" gets filler text up to its N characters, and the tool
// schemas (omitted) get a description and parameters each, sized so the
// body is as long as the captured Content-Length.
func loadCodexRequest() (*codexRequest, error) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "codex-samples", "request-turn1-default-model.json"))
	if err != nil {
		return nil, fmt.Errorf("reading the Codex sample: %w", err)
	}
	var sample struct {
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	}
	if err := json.Unmarshal(raw, &sample); err != nil {
		return nil, fmt.Errorf("decoding the Codex sample: %w", err)
	}
	target, err := strconv.Atoi(sample.Headers["content-length"])
	if err != nil {
		return nil, fmt.Errorf("the Codex sample's content-length: %w", err)
	}
	keys, err := objectKeys(sample.Body)
	if err != nil {
		return nil, fmt.Errorf("the Codex sample's body: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(sample.Body))
	dec.UseNumber()
	var body map[string]any
	if err := dec.Decode(&body); err != nil {
		return nil, fmt.Errorf("decoding the Codex sample's body: %w", err)
	}
	fill := &filler{r: rand.New(rand.NewPCG(6, 2026))}
	for k, v := range body {
		body[k] = fill.restore(v)
	}
	input, _ := body["input"].([]any)
	tools := toolsOf(input)
	for _, t := range tools {
		t["description"] = ""
		if t["type"] == "function" {
			t["parameters"] = fill.parameters()
		}
	}

	req := &codexRequest{header: map[string]string{}, firstSize: target}
	build := func() error {
		req.members, req.input = nil, nil
		for _, k := range keys {
			v, err := marshalPlain(body[k])
			if err != nil {
				return fmt.Errorf("encoding %s: %w", k, err)
			}
			req.members = append(req.members, member{k, v})
		}
		for _, it := range input {
			v, err := marshalPlain(it)
			if err != nil {
				return fmt.Errorf("encoding an input item: %w", err)
			}
			req.input = append(req.input, v)
		}
		return nil
	}
	if err := build(); err != nil {
		return nil, err
	}
	session, _ := body["prompt_cache_key"].(string)
	// Grow the tool descriptions so the body has the captured size.
	if missing := target - len(req.body(session, req.input, false, "")); missing > 0 && len(tools) > 0 {
		for i, t := range tools {
			n := missing / len(tools)
			if i == len(tools)-1 {
				n += missing % len(tools)
			}
			t["description"] = fill.text(n)
		}
		if err := build(); err != nil {
			return nil, err
		}
	}
	for _, it := range input {
		if m, ok := it.(map[string]any); ok && m["type"] == "additional_tools" {
			v, _ := marshalPlain(m["tools"])
			req.toolBytes = len(v)
		}
		if m, ok := it.(map[string]any); ok && m["role"] == "developer" && m["type"] == "message" && req.developerBytes == 0 {
			v, _ := marshalPlain(m)
			req.developerBytes = len(v)
		}
	}
	for k, v := range sample.Headers {
		switch strings.ToLower(k) {
		case "host", "content-length", "authorization", "accept", "content-type", "connection":
			continue
		}
		req.header[k] = v
	}
	return req, nil
}

// headers are the captured Codex headers with the session's ids.
func (r *codexRequest) headers(session string) http.Header {
	h := http.Header{}
	for k, v := range r.header {
		switch strings.ToLower(k) {
		case "session-id", "thread-id", "x-client-request-id":
			v = session
		case "x-codex-window-id":
			v = session + ":0"
		}
		h.Set(k, v)
	}
	return h
}

// body is a request with this input: a WebSocket frame (type
// response.create, previous_response_id when prev is set) or a POST body.
func (r *codexRequest) body(session string, input []json.RawMessage, frame bool, prev string) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	if frame {
		b.WriteString(`"type":"response.create",`)
	}
	for i, m := range r.members {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Quote(m.key))
		b.WriteByte(':')
		switch m.key {
		case "input":
			b.WriteByte('[')
			for j, it := range input {
				if j > 0 {
					b.WriteByte(',')
				}
				b.Write(it)
			}
			b.WriteByte(']')
		case "prompt_cache_key":
			b.WriteString(strconv.Quote(session))
		default:
			b.Write(m.value)
		}
	}
	if prev != "" {
		b.WriteString(`,"previous_response_id":`)
		b.WriteString(strconv.Quote(prev))
	}
	b.WriteByte('}')
	return b.Bytes()
}

// objectKeys lists a JSON object's keys in order.
func objectKeys(obj []byte) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, fmt.Errorf("not a JSON object: %v", err)
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := t.(string)
		keys = append(keys, k)
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// marshalPlain encodes v compactly without HTML escapes, as Codex does.
func marshalPlain(v any) (json.RawMessage, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// toolsOf returns the tools of the additional_tools items, inside their
// namespaces.
func toolsOf(input []any) []map[string]any {
	var out []map[string]any
	for _, it := range input {
		m, ok := it.(map[string]any)
		if !ok || m["type"] != "additional_tools" {
			continue
		}
		nss, _ := m["tools"].([]any)
		for _, ns := range nss {
			nsm, _ := ns.(map[string]any)
			list, _ := nsm["tools"].([]any)
			for _, t := range list {
				if tm, ok := t.(map[string]any); ok {
					out = append(out, tm)
				}
			}
		}
	}
	return out
}

// filler makes deterministic text of words.
type filler struct{ r *rand.Rand }

// text is exactly n bytes of ASCII words (no character JSON escapes).
func (f *filler) text(n int) string {
	var b strings.Builder
	b.Grow(n + 16)
	for b.Len() < n {
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(fillerWords[f.r.IntN(len(fillerWords))])
	}
	return b.String()[:n]
}

// restore puts back what the capture shortened or left out in v.
func (f *filler) restore(v any) any {
	switch x := v.(type) {
	case string:
		m := truncatedString.FindStringSubmatch(x)
		if m == nil {
			return x
		}
		n, _ := strconv.Atoi(m[2])
		return m[1] + f.text(max(n-utf8.RuneCountInString(m[1]), 0))
	case []any:
		out := x[:0]
		for _, e := range x {
			if s, ok := e.(string); ok && s == "(tool schemas omitted)" {
				continue
			}
			out = append(out, f.restore(e))
		}
		return out
	case map[string]any:
		for k, e := range x {
			x[k] = f.restore(e)
		}
		return x
	}
	return v
}

// parameters is a function tool's JSON schema, of a usual size.
func (f *filler) parameters() map[string]any {
	props := map[string]any{}
	var required []any
	for i := range 4 {
		name := fmt.Sprintf("%s_%d", fillerWords[f.r.IntN(len(fillerWords))], i)
		props[name] = map[string]any{"type": "string", "description": f.text(120)}
		required = append(required, name)
	}
	return map[string]any{"type": "object", "properties": props, "required": required, "additionalProperties": false}
}

// BenchmarkWebSocketConnMemory holds n client WebSocket connections (200;
// LOADBENCH_WS_CONNS overrides) open at once, first straight to a fake
// ChatGPT upstream and then through the proxy, each phase twice: idle
// (opened, nothing sent) and after a 2-request tool exchange (the captured
// Codex request, answered with a function call, then its output as an
// increment; through the proxy each connection then holds its
// conversation and an upstream WebSocket). The clients run in a child
// process (this test binary again), so this process holds only the proxy
// and the fake; it reports the heap in use (after two GCs) and the
// goroutines per connection. The proxy's own cost is the proxy phase,
// less, after the exchange, the direct phase (the fake's side of the
// upstream connections and what it recorded):
//
//	ws-heap-per-conn-KiB, ws-goroutines-per-conn            after the exchange
//	ws-idle-heap-per-conn-KiB, ws-idle-goroutines-per-conn  idle
//	ws-state-bytes-per-conn     the 2nd exchange's request as a complete one: about
//	                            what the conversation held per connection amounts to
//	direct-heap-per-conn-KiB    the part subtracted
//
// After each phase the clients close their connections and it fails
// unless every goroutine the connections started ends (but the proxy's
// bounded idle pools), and, once the proxy and the fake stop, unless
// every goroutine they started ends. LOADBENCH_WS_HEAPPROFILE names a file
// for the heap profile of the proxy phase after the exchange.
func BenchmarkWebSocketConnMemory(b *testing.B) {
	n := defaultWSConns
	if v, err := strconv.Atoi(os.Getenv("LOADBENCH_WS_CONNS")); err == nil && v > 0 {
		n = v
	}
	sum, runs := map[string]float64{}, 0
	for b.Loop() {
		for k, v := range connMemory(b, n) {
			sum[k] += v
		}
		runs++
	}
	for k, v := range sum {
		b.ReportMetric(v/float64(runs), k)
	}
}

// TestWebSocketConnMemory is the same check on 20 connections, so `go
// test` keeps it working; -short skips it.
func TestWebSocketConnMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	t.Logf("%v", connMemory(t, 20))
}

// connPhase is what one phase measured, per connection.
type connPhase struct {
	heapKiB, goroutines float64
}

// connMemory runs the four phases on n connections and returns the metrics.
func connMemory(tb testing.TB, n int) map[string]float64 {
	tb.Helper()
	before := goroutines()
	e, err := startModeEnv(sessionModes[0], n+16)
	if err != nil {
		tb.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = e.stop()
		}
	}()
	var got [2][2]connPhase // [direct, proxy][idle, exchanged]
	stateBytes := 0
	for ti, direct := range []bool{true, false} {
		for pi, exchange := range []bool{false, true} {
			what := fmt.Sprintf("%s, %s", map[bool]string{true: "direct", false: "proxy"}[direct], map[bool]string{false: "idle", true: "after the exchange"}[exchange])
			url := e.proxyURL + "/v1/responses"
			if direct {
				url = directURL(e.mode, e.fake.URL())
			}
			g0 := goroutines()
			h0 := heapAfterGC()
			clients, err := startClients(tb, url, n, direct, exchange)
			if err != nil {
				tb.Fatalf("%s: %v\nproxy log tail:\n%s", what, err, e.logs.tail())
			}
			if !direct && exchange {
				stateBytes = clients.state
				if up := e.fake.OpenWebSockets(); up != n {
					tb.Errorf("%s: the upstream has %d WebSockets open, want one per client connection (%d)", what, up, n)
				}
			}
			g1 := len(goroutines())
			h1 := heapAfterGC()
			if p := os.Getenv("LOADBENCH_WS_HEAPPROFILE"); p != "" && !direct && exchange {
				writeHeapProfile(tb, p)
			}
			got[ti][pi] = connPhase{
				heapKiB:    (float64(h1) - float64(h0)) / float64(n) / 1024,
				goroutines: float64(g1-len(g0)) / float64(n),
			}
			if err := clients.close(); err != nil {
				tb.Fatalf("%s: %v", what, err)
			}
			// What the connections started must end, but for the proxy's
			// bounded pools (see BenchmarkOpenStreams): idle HTTP
			// connections and its store client's.
			caps := poolCaps{httpClient: 2 * 64, httpServer: 64, redis: 2 * n}
			if left, ok := settle(g0, caps, settleGuard); !ok {
				tb.Errorf("%s: goroutines left after the connections closed beyond the proxy's idle pools (%s):\n%s", what, caps, describe(left))
			}
		}
	}
	m := map[string]float64{
		"ws-heap-per-conn-KiB":        got[1][1].heapKiB - got[0][1].heapKiB,
		"ws-goroutines-per-conn":      got[1][1].goroutines - got[0][1].goroutines,
		"ws-idle-heap-per-conn-KiB":   got[1][0].heapKiB,
		"ws-idle-goroutines-per-conn": got[1][0].goroutines,
		"ws-state-bytes-per-conn":     float64(stateBytes),
		"direct-heap-per-conn-KiB":    got[0][1].heapKiB,
	}
	stopped = true
	if err := e.stop(); err != nil {
		tb.Errorf("stopping: %v", err)
	}
	if left, ok := settle(before, poolCaps{}, settleGuard); !ok {
		tb.Errorf("goroutines left after the proxy and the fake stopped:\n%s", describe(left))
	}
	return m
}

// The child process's settings and its one line of report.
const (
	clientEnvURL      = "LOADBENCH_WS_CLIENT_URL"
	clientEnvN        = "LOADBENCH_WS_CLIENT_N"
	clientEnvDirect   = "LOADBENCH_WS_CLIENT_DIRECT"
	clientEnvExchange = "LOADBENCH_WS_CLIENT_EXCHANGE"
	clientReady       = "loadbench-ws-clients ready state="
)

// clients is a child process holding client connections open.
type clients struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *os.File
	state  int // the size of an exchange's second request as a complete one
}

// startClients runs this test binary's TestWebSocketClients in a child
// process, which opens n connections to url and reports once they are all
// open (and have had their exchange, when exchange).
func startClients(tb testing.TB, url string, n int, direct, exchange bool) (*clients, error) {
	stderr, err := os.CreateTemp(tb.TempDir(), "clients-stderr")
	if err != nil {
		return nil, fmt.Errorf("making the clients' stderr: %w", err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestWebSocketClients$", "-test.bench=^$", "-test.count=1", "-test.timeout=0")
	cmd.Env = append(os.Environ(), clientEnvURL+"="+url, clientEnvN+"="+strconv.Itoa(n),
		clientEnvDirect+"="+strconv.FormatBool(direct), clientEnvExchange+"="+strconv.FormatBool(exchange))
	cmd.Stderr = stderr // a file: no copying goroutine among those counted
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, fmt.Errorf("the clients' stdin: %w", err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("the clients' stdout: %w", err)
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the clients: %w", err)
	}
	c := &clients{cmd: cmd, stdin: stdin, stderr: stderr}
	// The child's test output (a failure's message) comes before its
	// report, on stdout; the reader keeps it and ends at the report.
	ready := make(chan string, 1)
	var output strings.Builder
	go func() {
		defer close(ready)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if rest, ok := strings.CutPrefix(sc.Text(), clientReady); ok {
				ready <- rest
				return
			}
			if output.Len() < 8192 {
				output.WriteString(sc.Text() + "\n")
			}
		}
	}()
	fail := func(why string) (*clients, error) {
		_ = stdin.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		out := ""
		if _, open := <-ready; !open {
			out = output.String() // the reader has ended: safe to read
		}
		return nil, fmt.Errorf("the clients %s:\n%s%s", why, out, c.stderrTail())
	}
	select {
	case rest, ok := <-ready:
		if !ok {
			return fail("ended before all their connections were open")
		}
		if c.state, err = strconv.Atoi(rest); err != nil {
			return fail("reported " + rest)
		}
		return c, nil
	case <-time.After(openGuard):
		return fail(fmt.Sprintf("did not open their connections in %s", openGuard))
	}
}

// close has the clients close their connections and waits for them.
func (c *clients) close() error {
	_ = c.stdin.Close()
	if err := c.cmd.Wait(); err != nil {
		return fmt.Errorf("the clients ended with %v:\n%s", err, c.stderrTail())
	}
	return nil
}

func (c *clients) stderrTail() string {
	b, _ := os.ReadFile(c.stderr.Name())
	return string(b[max(len(b)-4096, 0):])
}

// TestWebSocketClients is BenchmarkWebSocketConnMemory's child process:
// run by it, it opens the connections, reports, and closes them once its
// stdin ends. Run on its own it skips.
func TestWebSocketClients(t *testing.T) {
	url := os.Getenv(clientEnvURL)
	if url == "" {
		t.Skip("the client process of BenchmarkWebSocketConnMemory")
	}
	n, err := strconv.Atoi(os.Getenv(clientEnvN))
	if err != nil {
		t.Fatalf("%s: %v", clientEnvN, err)
	}
	direct, exchange := os.Getenv(clientEnvDirect) == "true", os.Getenv(clientEnvExchange) == "true"
	req, err := loadCodexRequest()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	var (
		mu       sync.Mutex
		conns    []*websocket.Conn
		state    int
		firstErr error
		wg       sync.WaitGroup
	)
	defer func() { closeConns(conns) }()
	work := make(chan int)
	for range min(8, n) {
		wg.Go(func() {
			for i := range work {
				l, err := openLeg(ctx, sessionModes[0], nil, url, req, sessionID(i, 0xc0), direct)
				if err == nil && exchange {
					for range 2 {
						if _, err = l.step(ctx); err != nil {
							break
						}
					}
				}
				mu.Lock()
				if l != nil {
					conns = append(conns, l.ws)
					state = max(state, l.conv.completeLen)
				}
				if err != nil && firstErr == nil {
					firstErr = fmt.Errorf("connection %d: %w", i, err)
				}
				mu.Unlock()
			}
		})
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		t.Fatal(firstErr)
	}
	fmt.Printf("%s%d\n", clientReady, state)
	_, _ = io.Copy(io.Discard, os.Stdin) // until the parent is done measuring
}

// closeConns closes every connection with a normal closure, all at once.
func closeConns(conns []*websocket.Conn) {
	var wg sync.WaitGroup
	for _, c := range conns {
		wg.Go(func() {
			if c.Close(websocket.StatusNormalClosure, "") != nil {
				_ = c.CloseNow()
			}
		})
	}
	wg.Wait()
}

// heapAfterGC is the heap in use once two collections have run (the
// second frees what the first's finalizers let go).
func heapAfterGC() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

// wsProxyConfig is a proxy config with the given accounts (YAML list
// entries), the embedded store, and room for conns WebSocket connections
// when conns is positive.
func wsProxyConfig(conns int, accounts ...string) string {
	var b strings.Builder
	b.WriteString("listen: 127.0.0.1:0\n")
	if conns > 0 {
		fmt.Fprintf(&b, "limits:\n  websocket_connections: %d\n", conns)
	}
	b.WriteString("accounts:\n")
	for _, a := range accounts {
		b.WriteString(a)
	}
	return b.String()
}

// chatgptAccountYAML is an openai-responses (ChatGPT) account on a fake,
// its access token read from $BENCH_CHATGPT_TOKEN.
func chatgptAccountYAML(name, fakeURL string) string {
	return fmt.Sprintf(`  - name: %s
    type: openai-responses
    base_url: %s/backend-api/codex
    access_token: ${BENCH_CHATGPT_TOKEN}
    account_id: %s
`, name, fakeURL, chatgptAccountID)
}

// openaiAccountYAML is an openai (API key, HTTP only) account on a fake,
// its key read from $BENCH_UPSTREAM_KEY.
func openaiAccountYAML(name, fakeURL string) string {
	return fmt.Sprintf(`  - name: %s
    type: openai
    base_url: %s/v1
    api_key: ${BENCH_UPSTREAM_KEY}
`, name, fakeURL)
}

// logTail keeps the end of the proxy's log, for a failure's message.
type logTail struct {
	mu sync.Mutex
	b  []byte
}

const logTailSize = 16 << 10

func (l *logTail) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.b = append(l.b, p...)
	if len(l.b) > 4*logTailSize {
		l.b = append(l.b[:0], l.b[len(l.b)-logTailSize:]...)
	}
	return len(p), nil
}

func (l *logTail) tail() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.b[max(len(l.b)-logTailSize, 0):])
}
