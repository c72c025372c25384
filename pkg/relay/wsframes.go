package relay

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/coder/websocket"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
	"github.com/proxy-dev/proxy/pkg/sse"
)

// frameWriter is the http.ResponseWriter one WebSocket request is answered
// through, so the relay's loop (hold, failover, forward) serves frames as
// it serves POSTs: each SSE event it writes goes to the client as one text
// message holding the event's JSON, and an error answer becomes the
// in-band error event Codex reads ({"type":"error","status":...,
// "error":{...},"headers":{...}}).
type frameWriter struct {
	ctx     context.Context // the connection's
	conn    *websocket.Conn
	observe func(data []byte) // sees every event on its way out

	header  http.Header
	status  int
	pending []byte // an SSE event not yet complete
	errBody []byte // a non-2xx answer's body, bounded by maxErrorBody
	err     error  // the first write that failed
	limits  bool   // the serving account's windows went out in-band
	// terminal: a message that ends the request went out. Codex waits for
	// one (up to its own idle timeout) whatever else arrives.
	terminal bool

	// The write deadline the relay sets (ResponseController): a client
	// that stops reading is dropped. The context only changes when the
	// deadline moves, every few seconds at most.
	deadline time.Time
	wctx     context.Context
	wcancel  context.CancelFunc
}

func newFrameWriter(ctx context.Context, conn *websocket.Conn, observe func([]byte)) *frameWriter {
	return &frameWriter{ctx: ctx, conn: conn, observe: observe, header: http.Header{}, wctx: ctx}
}

// Header is the answer's header; over a WebSocket only what error events
// carry of it reaches the client.
func (fw *frameWriter) Header() http.Header { return fw.header }

// WriteHeader records the answer's status.
func (fw *frameWriter) WriteHeader(status int) {
	if fw.status == 0 {
		fw.status = status
	}
}

// Write passes complete SSE events on as messages; an error answer's
// body is kept for the error event.
func (fw *frameWriter) Write(p []byte) (int, error) {
	if fw.status == 0 {
		fw.WriteHeader(http.StatusOK)
	}
	if fw.err != nil {
		return 0, fw.err
	}
	if fw.status/100 != 2 {
		if room := maxErrorBody - len(fw.errBody); room > 0 {
			fw.errBody = append(fw.errBody, p[:min(len(p), room)]...)
		}
		return len(p), nil
	}
	if !isEventStream(fw.header) {
		// A JSON answer (the client asked for stream:false): one message.
		fw.send(p)
		return len(p), fw.err
	}
	if !fw.limits {
		fw.limits = true
		if ev := rateLimitsEvent(fw.header); ev != nil {
			fw.send(ev)
		}
	}
	buf := p
	if len(fw.pending) > 0 {
		buf = append(fw.pending, p...)
		fw.pending = nil
	}
	for len(buf) > 0 {
		end := eventEnd(buf)
		if end < 0 {
			fw.pending = append([]byte(nil), buf...)
			break
		}
		if data := sse.Data(buf[:end]); len(data) > 0 {
			fw.observe(data)
			fw.send(data)
		}
		buf = buf[end:]
	}
	return len(p), fw.err
}

// eventEnd is the length of the first complete SSE event in b, its blank
// line included; -1 when b holds none.
func eventEnd(b []byte) int {
	for i := 0; i < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		switch {
		case i+1 < len(b) && b[i+1] == '\n':
			return i + 2
		case i+2 < len(b) && b[i+1] == '\r' && b[i+2] == '\n':
			return i + 3
		}
	}
	return -1
}

// send writes one text message within the write deadline.
func (fw *frameWriter) send(data []byte) {
	if fw.err != nil {
		return
	}
	fw.err = fw.conn.Write(fw.wctx, websocket.MessageText, data)
	switch sse.JSONType(data) {
	case "response.completed", "response.incomplete", "response.failed", "error":
		fw.terminal = true
	}
}

// SetWriteDeadline bounds the writes that follow (http.ResponseController
// finds it).
func (fw *frameWriter) SetWriteDeadline(t time.Time) error {
	if t.Equal(fw.deadline) {
		return nil
	}
	if fw.wcancel != nil {
		fw.wcancel()
	}
	fw.deadline = t
	if t.IsZero() {
		fw.wctx, fw.wcancel = fw.ctx, nil
		return nil
	}
	fw.wctx, fw.wcancel = context.WithDeadline(fw.ctx, t)
	return nil
}

// FlushError reports a write the client did not take; each message is
// sent whole as it is written, so there is nothing to flush.
func (fw *frameWriter) FlushError() error { return fw.err }

// end completes the answer: an error answer goes out as one error event,
// and an answer that sent no terminal message gets the proxy's own
// response.failed, so every request ends with one. What is pending of an
// incomplete SSE event is dropped: passed on, it would be a message no
// client can parse. It returns the first write error, if any.
func (fw *frameWriter) end() error {
	if fw.wcancel != nil {
		fw.wcancel()
		fw.wcancel, fw.wctx = nil, fw.ctx
	}
	fw.pending = nil
	switch {
	case fw.status != 0 && fw.status/100 != 2:
		fw.send(errorEvent(fw.status, fw.header, fw.errBody))
	case !fw.terminal && fw.ctx.Err() == nil:
		fw.send(sse.Data(failedEvent("upstream_stream_interrupted", "the upstream's answer ended without a terminal event; retry the request")))
	}
	return fw.err
}

// rateLimitsEvent is the serving account's rate-limit windows (its
// x-codex-* answer headers) as the codex.rate_limits event Codex reads
// over a WebSocket, where it has no answer headers; nil when the account
// sent none.
func rateLimitsEvent(h http.Header) []byte {
	window := func(prefix string) map[string]any {
		used, err := strconv.ParseFloat(h.Get(prefix+"-Used-Percent"), 64)
		if err != nil {
			return nil
		}
		w := map[string]any{"used_percent": used}
		if m, err := strconv.ParseInt(h.Get(prefix+"-Window-Minutes"), 10, 64); err == nil {
			w["window_minutes"] = m
		}
		if r, err := strconv.ParseInt(h.Get(prefix+"-Reset-At"), 10, 64); err == nil {
			w["reset_at"] = r
		}
		return w
	}
	primary, secondary := window("X-Codex-Primary"), window("X-Codex-Secondary")
	if primary == nil && secondary == nil {
		return nil
	}
	limits := map[string]any{}
	if primary != nil {
		limits["primary"] = primary
	}
	if secondary != nil {
		limits["secondary"] = secondary
	}
	ev := map[string]any{"type": "codex.rate_limits", "rate_limits": limits}
	if plan := h.Get("X-Codex-Plan-Type"); plan != "" {
		ev["plan_type"] = plan
	}
	out, _ := json.Marshal(ev)
	return out
}

// errorHeaders are the answer headers an error event carries: those that
// tell the client when to come back.
var errorHeaders = []string{"Retry-After", "X-Codex-Primary-Used-Percent", "X-Codex-Secondary-Used-Percent",
	"X-Codex-Primary-Reset-At", "X-Codex-Secondary-Reset-At", "X-Codex-Primary-Window-Minutes", "X-Codex-Secondary-Window-Minutes"}

// errorEvent is an HTTP error answer as the in-band event Codex reads:
// the body's error object, its status, and the headers that matter.
func errorEvent(status int, h http.Header, body []byte) []byte {
	errObj := jsonscan.Member(body, "error")
	if len(errObj) == 0 || errObj[0] != '{' {
		msg := strings.TrimSpace(string(bytes.ToValidUTF8(body, nil)))
		if len(msg) > 512 {
			msg = msg[:512]
		}
		if msg == "" {
			msg = http.StatusText(status)
		}
		errObj, _ = json.Marshal(map[string]any{"type": "upstream_error", "code": nil, "message": "upstream answered " + http.StatusText(status) + ": " + msg})
	}
	headers := map[string]string{}
	for _, k := range errorHeaders {
		if v := h.Get(k); v != "" {
			headers[strings.ToLower(k)] = v
		}
	}
	hdr, _ := json.Marshal(headers)
	out := make([]byte, 0, len(errObj)+len(hdr)+48)
	out = append(out, `{"type":"error","status":`...)
	out = strconv.AppendInt(out, int64(status), 10)
	out = append(out, `,"error":`...)
	out = append(out, errObj...)
	out = append(out, `,"headers":`...)
	out = append(out, hdr...)
	return append(out, '}')
}
