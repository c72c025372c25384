package loadbench

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// upstream is a minimal Responses API server that streams like the real
// one: it reads the whole request body, then sends the event sequence of a
// streamed text answer (created, in_progress, output item and content part
// added, text deltas, done events, completed with usage), flushing each
// event. It is purpose-built rather than pkg/fakeupstream, which decodes
// the whole body and keeps per-conversation accounting: its cost would add
// noise and CPU contention to all three runs in a 2-core process and mask
// the proxy's.
type upstream struct {
	srv  *http.Server
	ln   net.Listener
	done chan struct{}

	// deltas is the number of output_text.delta events (or content
	// chunks, on /v1/chat/completions), read at each request's start; gap
	// the pause before each (0: back to back).
	deltas atomic.Int64
	gap    time.Duration
	// textStamps puts each delta's send stamp in its text ("[sent_ns=N]")
	// rather than in a member of its own, so it survives a translation.
	textStamps bool
	// gate, when not nil, holds every stream open after its first output
	// event (output_item.added) until it is released. Not earlier: the
	// proxy holds a stream's opening events (created, in_progress) back
	// until output arrives, so it can still fail over, and a client would
	// see nothing of a stream gated before it.
	gate *gate

	served  atomic.Int64 // streams sent to the end
	bodyMin atomic.Int64 // smallest request body seen
}

// epoch is the base of the send stamps in delta events, so a client in the
// same process can tell how long each event took to reach it.
var epoch = time.Now()

func sinceEpoch() int64 { return int64(time.Since(epoch)) }

func startUpstream(deltas int, gap time.Duration, gate *gate) (*upstream, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	u := &upstream{ln: ln, done: make(chan struct{}), gap: gap, gate: gate}
	u.deltas.Store(int64(deltas))
	u.bodyMin.Store(1 << 62)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/responses", u.serveResponses)
	mux.HandleFunc("POST /v1/chat/completions", u.serveChat)
	u.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(u.done)
		_ = u.srv.Serve(ln)
	}()
	return u, nil
}

func (u *upstream) URL() string { return "http://" + u.ln.Addr().String() }

func (u *upstream) Close() error {
	err := u.srv.Close()
	<-u.done
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

const (
	respID = "resp_0123456789abcdef0123456789abcdef"
	itemID = "msg_0123456789abcdef0123456789abcdef"
	model  = "gpt-5-codex"
)

// Event payloads shaped like the real ones (fields trimmed to what matters
// for size and parsing).
var (
	respObj = `{"id":"` + respID + `","object":"response","created_at":1741993200,"status":"%s","model":"` + model + `","output":%s,"usage":%s}`
	usageJS = `{"input_tokens":16500,"input_tokens_details":{"cached_tokens":16384},"output_tokens":120,"output_tokens_details":{"reasoning_tokens":64},"total_tokens":16620}`
	outText = "Hello from the load benchmark upstream. "
)

func sseEvent(w io.Writer, typ, data string) {
	fmt.Fprintf(w, "event: %s\ndata: %s\n\n", typ, data)
}

// accept reads the whole request body and checks the key, answering the
// failure itself, then opens the event stream: it returns the number of
// deltas to send and whether to go on.
func (u *upstream) accept(w http.ResponseWriter, r *http.Request) (int, bool) {
	n, err := io.Copy(io.Discard, r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return 0, false
	}
	for {
		m := u.bodyMin.Load()
		if n >= m || u.bodyMin.CompareAndSwap(m, n) {
			break
		}
	}
	if r.Header.Get("Authorization") != "Bearer "+upstreamKey {
		http.Error(w, `{"error":{"message":"bad key","type":"invalid_request_error","code":"invalid_api_key"}}`, http.StatusUnauthorized)
		return 0, false
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Request-Id", "req_loadbench")
	w.WriteHeader(http.StatusOK)
	return int(u.deltas.Load()), true
}

// deltaText is one delta's text, stamped when textStamps is set.
func (u *upstream) deltaText() string {
	if u.textStamps {
		return outText + "[sent_ns=" + strconv.FormatInt(sinceEpoch(), 10) + "]"
	}
	return outText
}

func (u *upstream) serveResponses(w http.ResponseWriter, r *http.Request) {
	deltas, ok := u.accept(w, r)
	if !ok {
		return
	}
	fl := w.(http.Flusher)

	var buf bytes.Buffer
	seq := 0
	send := func(typ, data string) bool {
		buf.Reset()
		sseEvent(&buf, typ, data)
		if _, err := w.Write(buf.Bytes()); err != nil {
			return false
		}
		fl.Flush()
		seq++
		return true
	}
	ok = send("response.created", `{"type":"response.created","sequence_number":0,"response":`+fmt.Sprintf(respObj, "in_progress", "[]", "null")+`}`) &&
		send("response.in_progress", `{"type":"response.in_progress","sequence_number":1,"response":`+fmt.Sprintf(respObj, "in_progress", "[]", "null")+`}`) &&
		send("response.output_item.added", `{"type":"response.output_item.added","sequence_number":2,"output_index":0,"item":{"id":"`+itemID+`","type":"message","status":"in_progress","content":[],"role":"assistant"}}`)
	if !ok {
		return
	}
	if u.gate != nil {
		select {
		case <-u.gate.C():
		case <-r.Context().Done():
			return
		}
	}
	ok = send("response.content_part.added", `{"type":"response.content_part.added","sequence_number":3,"item_id":"`+itemID+`","output_index":0,"content_index":0,"part":{"type":"output_text","annotations":[],"text":""}}`)
	var all strings.Builder
	for i := 0; ok && i < deltas; i++ {
		if u.gap > 0 {
			time.Sleep(u.gap)
		}
		d := u.deltaText()
		all.WriteString(d)
		ok = send("response.output_text.delta", `{"type":"response.output_text.delta","sequence_number":`+strconv.Itoa(seq)+
			`,"item_id":"`+itemID+`","output_index":0,"content_index":0,"delta":"`+d+`","obfuscation":"x","sent_ns":`+strconv.FormatInt(sinceEpoch(), 10)+`}`)
	}
	if !ok {
		return
	}
	text := all.String()
	output := `[{"id":"` + itemID + `","type":"message","status":"completed","content":[{"type":"output_text","annotations":[],"text":"` + text + `"}],"role":"assistant"}]`
	ok = send("response.output_text.done", `{"type":"response.output_text.done","sequence_number":`+strconv.Itoa(seq)+`,"item_id":"`+itemID+`","output_index":0,"content_index":0,"text":"`+text+`"}`) &&
		send("response.content_part.done", `{"type":"response.content_part.done","sequence_number":`+strconv.Itoa(seq)+`,"item_id":"`+itemID+`","output_index":0,"content_index":0,"part":{"type":"output_text","annotations":[],"text":"`+text+`"}}`) &&
		send("response.output_item.done", `{"type":"response.output_item.done","sequence_number":`+strconv.Itoa(seq)+`,"output_index":0,"item":`+output[1:len(output)-1]+`}`) &&
		send("response.completed", `{"type":"response.completed","sequence_number":`+strconv.Itoa(seq)+`,"response":`+fmt.Sprintf(respObj, "completed", output, usageJS)+`}`)
	if ok {
		u.served.Add(1)
	}
}

// gate holds streams until released; rearm makes it hold the next ones.
type gate struct {
	mu sync.Mutex
	ch chan struct{}
}

func newGate() *gate { return &gate{ch: make(chan struct{})} }

func (g *gate) C() <-chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.ch
}

func (g *gate) release() {
	g.mu.Lock()
	defer g.mu.Unlock()
	select {
	case <-g.ch:
	default:
		close(g.ch)
	}
}

func (g *gate) rearm() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ch = make(chan struct{})
}
