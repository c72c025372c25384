package relay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/proxy-dev/proxy/pkg/apierror"
	"github.com/proxy-dev/proxy/pkg/jsonscan"
	"github.com/proxy-dev/proxy/pkg/sse"
)

// conversation is what one client WebSocket connection has sent and been
// answered: the complete request of its last exchange (whose input ends
// it) and the output items of its response. Over a WebSocket a later
// request carries previous_response_id and only its new input items; with
// this the proxy can still send a complete request wherever the next hop
// cannot continue that response (an account over HTTP, another account, a
// new upstream connection). Its size is bounded by max_body_bytes, as a
// complete request is, and counted in the body budget while held.
type conversation struct {
	max    int64   // max_body_bytes: the largest complete request
	budget *Budget // the process's body budget; nil: none

	lastID   string   // the last response the client was answered in full
	lastIn   []byte   // its request's complete input, a JSON array
	lastOut  [][]byte // its output items, in order
	held     int64    // bytes reserved in budget for lastIn and lastOut
	tooLarge bool     // lastID's exchange outgrew max and was let go
	noMemory bool     // lastID's exchange found the body budget full and was let go

	// The exchange under way: recorded as its events reach the client,
	// kept once it completes.
	curIn   []byte
	curID   string
	curOut  [][]byte
	curLen  int64
	curHeld int64
}

// wsFrame is one response.create frame, read.
type wsFrame struct {
	prevID   string // previous_response_id, "" when none
	newInput []byte // the frame's own input array, as sent
	warmup   bool   // generate:false: prepare, produce nothing
	body     []byte // the complete request, as a POST would carry it
	// cleaned: the attempt under way sends body with account-bound items
	// changed for its account, so new input that may hold such items
	// goes complete, never as an increment of the client's bytes.
	cleaned bool
}

// Frame types a client sends.
const (
	frameCreate    = "response.create"
	frameProcessed = "response.processed" // an acknowledgement; no answer
)

// read turns a client frame into a complete request. A frame that
// continues the last response gets that exchange's input and output put
// before its own input; one that names any other response is refused,
// since the proxy cannot know what it held. kind is the frame's type.
func (cv *conversation) read(data []byte) (f wsFrame, kind string, _ *apierror.Error) {
	// One pass over the message: its own members apart, the request's kept
	// for the complete body.
	var typ, prev, input, generate []byte
	var rest []member
	err := jsonscan.ObjectFields(data, func(k, v []byte) bool {
		switch string(k) {
		case "type":
			typ = v
		case "previous_response_id":
			prev = v
		case "input":
			input = v
		case "generate":
			generate = v
		case "stream":
		default:
			rest = append(rest, member{k, v})
		}
		return true
	})
	if err != nil {
		return f, "", apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest,
			`the WebSocket message is not a valid JSON object; send {"type":"response.create", ...the Responses API request...}`).WithCode("invalid_json")
	}
	kind, _ = jsonscan.String(typ)
	switch kind {
	case frameProcessed:
		return f, kind, nil
	case frameCreate:
	default:
		return f, kind, apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest,
			fmt.Sprintf(`unsupported WebSocket message type %q; send {"type":"response.create", ...}`, kind)).WithCode("unsupported_message_type").WithParam("type")
	}
	f.newInput, f.warmup = input, string(generate) == "false"
	if len(prev) > 0 && string(prev) != "null" {
		f.prevID, _ = jsonscan.String(prev)
	}
	var history [][]byte
	if f.prevID != "" {
		switch {
		case f.prevID == cv.lastID && cv.tooLarge:
			return f, kind, cv.tooLargeError()
		case f.prevID == cv.lastID && cv.noMemory:
			// On a new connection Codex sends the complete input, which
			// the proxy can take as any request.
			return f, kind, reconnectError(fmt.Sprintf("the proxy could not keep this connection's conversation: the memory it holds for requests is full (limits.body_memory, %d bytes); continue on a new connection", cv.budget.Limit()))
		case f.prevID != cv.lastID:
			return f, kind, apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest,
				fmt.Sprintf("previous response %q is not known on this connection: the proxy continues only the last response answered on the same WebSocket; send the complete input without previous_response_id", f.prevID)).
				WithCode("previous_response_not_found").WithParam("previous_response_id")
		}
		history = append(append(history, cv.lastIn), cv.lastOut...)
	}
	cv.drop()
	body, in := completeRequest(rest, history, input)
	if int64(len(body)) > cv.max {
		cv.release()
		cv.tooLarge = true
		return f, kind, cv.tooLargeError()
	}
	if !cv.budget.take(int64(len(body))) {
		e := apierror.New(http.StatusServiceUnavailable, apierror.TypeServer,
			fmt.Sprintf("the proxy is holding as many request bodies as its memory budget allows (limits.body_memory, %d bytes); retry in a moment", cv.budget.Limit())).WithCode("proxy_busy")
		e.RetryAfter = time.Second
		return f, kind, e
	}
	f.body = body
	// The input is the tail of the body: keeping it keeps the body, which
	// is what the budget counts.
	cv.curIn, cv.curLen, cv.curHeld = in, int64(len(body)), int64(len(body))
	return f, kind, nil
}

// reconnectError makes Codex continue on a new connection, where it sends
// the complete input: the code is the one Codex retries that way.
func reconnectError(msg string) *apierror.Error {
	return apierror.New(http.StatusBadRequest, apierror.TypeInvalidRequest, msg).WithCode(codeReconnect)
}

// codeReconnect is the error code upon which Codex opens a new connection.
const codeReconnect = "websocket_connection_limit_reached"

func (cv *conversation) tooLargeError() *apierror.Error {
	return apierror.New(http.StatusRequestEntityTooLarge, apierror.TypeInvalidRequest,
		fmt.Sprintf("this conversation is larger than the proxy's limit of %d bytes for a complete request (max_body_bytes); raise max_body_bytes in the proxy config, or compact the conversation", cv.max)).WithCode("request_too_large")
}

// observe records an event on its way to the client: the response's id,
// each finished output item, and, once it completes, the whole exchange
// as the conversation's new last one.
func (cv *conversation) observe(data []byte) {
	if cv.curIn == nil {
		return // a warmup's or an answer the proxy made
	}
	switch sse.JSONType(data) {
	case "response.created", "response.in_progress":
		if cv.curID == "" {
			cv.curID = responseID(data)
		}
	case "response.output_item.done":
		item := jsonscan.Member(data, "item")
		cv.curLen += int64(len(item))
		if item != nil && cv.curLen <= cv.max {
			cv.curOut = append(cv.curOut, bytes.Clone(item))
		}
	case "response.completed":
		if id := responseID(data); id != "" {
			cv.curID = id
		}
		cv.commit()
	}
}

// commit makes the exchange under way the conversation's last one.
func (cv *conversation) commit() {
	in, out, id, n, reserved := cv.curIn, cv.curOut, cv.curID, cv.curLen, cv.curHeld
	cv.curIn, cv.curOut, cv.curID, cv.curLen, cv.curHeld = nil, nil, "", 0, 0
	cv.release()
	cv.lastID, cv.tooLarge, cv.noMemory = id, false, false
	switch {
	case n > cv.max:
		// Too large to continue from: a frame that continues this
		// response is refused as a POST of it would be.
		cv.budget.give(reserved)
		cv.tooLarge = true
		return
	case !cv.budget.take(n - reserved):
		// No memory for it now: a frame that continues this response
		// is told to reconnect, and comes back complete.
		cv.budget.give(reserved)
		cv.noMemory = true
		return
	}
	cv.lastIn, cv.lastOut, cv.held = in, out, n
}

// drop lets an exchange that never completed go.
func (cv *conversation) drop() {
	cv.budget.give(cv.curHeld)
	cv.curIn, cv.curOut, cv.curID, cv.curLen, cv.curHeld = nil, nil, "", 0, 0
}

// release lets the held state go; the last response's id stays known.
func (cv *conversation) release() {
	cv.budget.give(cv.held)
	cv.lastIn, cv.lastOut, cv.held = nil, nil, 0
}

// close lets everything go, when the connection ends.
func (cv *conversation) close() {
	cv.drop()
	cv.release()
}

// warmed records a warmup the proxy answered itself: its input is the
// start of the conversation, and it produced nothing.
func (cv *conversation) warmed(id string) {
	cv.curID = id
	cv.commit()
}

// member is one top-level member of a JSON object: its name (unescaped)
// and raw value.
type member struct{ name, value []byte }

// completeRequest is the frame as a POST body: the request's members (all
// but the frame's own: type, previous_response_id, generate), stream:true
// (a WebSocket answer is always a stream of events, asked for or not),
// then input: the history's items followed by the frame's. in is the
// input's span within body. One allocation.
func completeRequest(rest []member, history [][]byte, input []byte) (body, in []byte) {
	n := len(input) + 32
	for _, m := range rest {
		n += len(m.name) + len(m.value) + 4
	}
	for _, h := range history {
		n += len(h) + 1
	}
	out := make([]byte, 0, n)
	out = append(out, '{')
	for _, m := range rest {
		out = appendJSONString(out, m.name)
		out = append(out, ':')
		out = append(out, m.value...)
		out = append(out, ',')
	}
	out = append(out, `"stream":true,"input":`...)
	start := len(out)
	out = append(out, '[')
	items := 0
	add := func(v []byte) {
		v = bytes.TrimSpace(v)
		if len(v) > 0 && v[0] == '[' {
			v = bytes.TrimSpace(v[1 : len(v)-1])
		}
		if len(v) == 0 {
			return
		}
		if items > 0 {
			out = append(out, ',')
		}
		out = append(out, v...)
		items++
	}
	for _, h := range history {
		add(h)
	}
	if s, err := jsonscan.String(input); err == nil {
		// A bare string input is one user message.
		msg := appendJSONString([]byte(`{"type":"message","role":"user","content":[{"type":"input_text","text":`), []byte(s))
		add(append(msg, "}]}"...))
	} else {
		add(input)
	}
	out = append(out, ']')
	end := len(out)
	out = append(out, '}')
	return out, out[start:end:end]
}

// appendJSONString appends s as a JSON string.
func appendJSONString(out, s []byte) []byte {
	plain := true
	for _, c := range s {
		if c < 0x20 || c == '"' || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		out = append(out, '"')
		out = append(out, s...)
		return append(out, '"')
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(string(s))
	return append(out, bytes.TrimSuffix(b.Bytes(), []byte("\n"))...)
}

// responseID is response.id of a response event.
func responseID(data []byte) string {
	id, _ := jsonscan.String(jsonscan.Member(jsonscan.Member(data, "response"), "id"))
	return id
}
