package fakeupstream

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"
)

// Fault is the scripted behaviour of one request. The zero Fault is a normal
// success. Faults apply to authenticated requests on the API routes
// (/responses, /responses/compact, /models, and /chat/completions on a
// chat-only server; see the package doc for which fields apply where);
// requests refused before that (401, 404, 405, 426) do not use one up.
type Fault struct {
	// Status, when set, answers with this status and Body instead of a
	// response (e.g. 429, 500, 401). An empty Body gets a realistic
	// OpenAI-shaped one for the status.
	Status int
	Body   string
	// Header is added to the reply whatever its kind, overriding the
	// server's own headers of the same name.
	Header http.Header

	// FirstEventFailed makes /responses answer 200 with a stream that fails
	// before any output: its first and only event is response.failed
	// carrying FailCode (default "server_is_overloaded") and FailMessage, as
	// some upstreams report overload. FailAfterOpening and FailEvent change
	// the ordering and the event. On JSON replies (stream:false, compact,
	// models) it becomes an error status fitting the code: 503 for
	// overload, 429 for a quota or rate limit, 400 for a request fault, else
	// 500.
	FirstEventFailed bool
	FailCode         string
	FailMessage      string
	// FailAfterOpening sends response.created and response.in_progress
	// before the failure event, which is how real upstreams report
	// overload: a relay that holds back only the first event has already
	// passed the stream on when the failure comes.
	FailAfterOpening bool
	// FailEvent is the event that reports the failure: response.failed
	// (the default) or a top-level error event, flat or nested.
	FailEvent FailEvent
	// FailType is the error's type ("server_error", "usage_limit_reached"):
	// the nested error event and the JSON reply carry it. When it is set
	// and FailCode is not, the code is null, as in the ChatGPT backend's
	// usage-limit errors.
	FailType string
	// FailExtra adds members to the nested error object and the JSON
	// reply's error (e.g. plan_type and resets_at of a usage limit).
	FailExtra map[string]any

	// CutAfter > 0 streams that many events and then closes the connection
	// without response.completed (it is capped so response.completed is
	// never sent); CutAfter < 0 closes right after the headers. On JSON
	// replies any non-zero CutAfter sends the headers and half the body.
	// It counts events, whatever they are. Every successful turn opens
	// with response.created and response.in_progress, so CutAfter 1 or 2
	// always cuts inside the opening. Next comes the answer's
	// output_item.added, unless the turn mints a reasoning item first (the
	// request's include asks for reasoning.encrypted_content): then eight
	// events of that item come between (output_item.added,
	// reasoning_summary_part.added, three reasoning_summary_text.delta,
	// reasoning_summary_text.done, reasoning_summary_part.done,
	// output_item.done). To cut after so many words of the reply, use
	// CutBeforeTextDelta (CutAfterDeltas).
	CutAfter int
	// CutBeforeTextDelta > 0 streams every event before the
	// CutBeforeTextDelta-th response.output_text.delta (so one fewer
	// deltas, and whatever items came before the message, a reasoning item
	// included), then closes the connection as CutAfter does; with fewer
	// deltas than that it sends every event but response.completed. It
	// applies when CutAfter is 0, and on JSON replies it cuts as CutAfter
	// does.
	CutBeforeTextDelta int
	// CutBeforeArgumentDelta > 0 streams every chunk of a chat stream
	// before the CutBeforeArgumentDelta-th chunk that carries a piece of a
	// tool call's arguments, then closes the connection as CutAfter does:
	// a call cut mid-arguments, with no finish_reason and no [DONE]
	// (CutMidToolCall). It applies when CutAfter is 0, on the chat route
	// only; on JSON replies it cuts as CutAfter does.
	CutBeforeArgumentDelta int
	// ErrorChunkAfter > 0 sends that many chunks of a chat stream, then a
	// chunk {"error":{message,type,param,code}} carrying FailMessage,
	// FailType and FailCode, then data: [DONE], as vLLM and most
	// compatible servers report a failure mid-stream (ErrorChunk). Chat
	// route only.
	ErrorChunkAfter int
	// NoFinishReason makes a chat stream send its content and then data:
	// [DONE] with no chunk ever carrying a finish_reason, and no usage
	// chunk: an answer that ended without saying it was complete
	// (DoneWithoutFinishReason). Chat route only.
	NoFinishReason bool

	// UnterminatedLast sends the last event of an HTTP stream without the
	// blank line that ends it (its data line keeps its own line end), then
	// ends the body normally: a clean EOF in the middle of an event, which
	// a client reading by the SSE spec discards. The last event is the one
	// before where CutAfter or CutBeforeTextDelta would cut (they no
	// longer close the connection), else response.completed. Streams over
	// the WebSocket are messages, which have no terminator: it does not
	// apply there.
	UnterminatedLast bool

	// WSNotJSON, when set, is a text message that is not a JSON event (an
	// HTML page, say, from a gateway in front of the real upstream) sent
	// over the WebSocket after WSNotJSONAfter events of the answer; the
	// answer then goes on as the rest of the Fault says. HTTP streams do
	// not use it.
	WSNotJSON      string
	WSNotJSONAfter int

	// Trickle > 0 sends TrickleAfter events of an HTTP stream (counted as
	// HangAfter counts them), then starts one more event and sends one
	// byte of it every Trickle, never completing it, until the client goes
	// away or the Server is closed: bytes keep arriving, no event does.
	// It takes the place of a cut. Over the WebSocket, whose messages come
	// whole, it cuts after TrickleAfter events.
	Trickle      time.Duration
	TrickleAfter int

	// Hang makes the handler block until Hang is closed, the request's
	// context is done (the client went away) or the Server is closed. Once
	// Hang is closed the request goes on as the rest of the Fault says, so
	// a Hang doubles as a gate a test opens when it is ready.
	Hang <-chan struct{}
	// HangBeforeHeaders blocks before anything is sent; otherwise the status
	// line and headers are sent and flushed first, then HangAfter events.
	HangBeforeHeaders bool
	// HangAfter is how many stream events are sent and flushed before
	// blocking on Hang (0: right after the headers). It counts events as
	// CutAfter does: HangAfter 1 or 2 holds a turn inside its opening, and
	// HangAfter 3 after the first item's output_item.added, which is the
	// reasoning item's when the turn mints one.
	HangAfter int

	// EchoCredential makes a successful reply quote the credential the
	// request came with (its bearer token), as a broken or hostile upstream
	// might: in the X-Echo-Auth and OpenAI-Organization answer headers, and
	// at the end of the reply's text, so in an output_text delta of its own,
	// the message's done events, response.completed and a JSON reply. Over
	// a WebSocket the text carries it (a message has no headers).
	EchoCredential bool
}

// echo applies EchoCredential to a turn's text and, when reply is not nil,
// to the answer's headers.
func (f Fault) echo(text *string, req, reply http.Header) {
	if !f.EchoCredential {
		return
	}
	token, _ := bearer(req.Get("Authorization"))
	*text += " " + token
	if reply != nil {
		reply.Set("X-Echo-Auth", "Bearer "+token)
		reply.Set("Openai-Organization", token)
	}
}

// Script queues behaviour for the next requests, one Fault per request in
// order. Once the queue is empty, requests succeed.
func (s *Server) Script(f ...Fault) {
	s.mu.Lock()
	s.faults = append(s.faults, f...)
	s.mu.Unlock()
}

func (s *Server) nextFault() Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.faults) == 0 {
		return Fault{}
	}
	f := s.faults[0]
	s.faults = s.faults[1:]
	return f
}

// QuotaExceeded is the 429 a ChatGPT account answers once its plan's usage
// limit is reached: Codex does not retry it, so the proxy must fail over, and
// must not retry the account before resetsAt.
func QuotaExceeded(resetsAt time.Time) Fault {
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"type":      "usage_limit_reached",
		"message":   "The usage limit has been reached",
		"param":     nil,
		"code":      nil,
		"plan_type": "plus",
		"resets_at": resetsAt.Unix(),
	}})
	reset := strconv.FormatInt(resetsAt.Unix(), 10)
	h := http.Header{}
	h.Set("X-Codex-Primary-Used-Percent", "100")
	h.Set("X-Codex-Primary-Window-Minutes", "300")
	h.Set("X-Codex-Primary-Reset-At", reset)
	h.Set("X-Codex-Secondary-Used-Percent", "40")
	h.Set("X-Codex-Secondary-Window-Minutes", "10080")
	h.Set("X-Codex-Secondary-Reset-At", strconv.FormatInt(resetsAt.Add(72*time.Hour).Unix(), 10))
	h.Set("X-Codex-Active-Limit", "codex")
	h.Set("X-Codex-Plan-Type", "plus")
	return Fault{Status: http.StatusTooManyRequests, Body: string(body), Header: h}
}

// RateLimited is the short-lived 429 of a per-minute rate limit, which a client
// retries after Retry-After; it must not be mistaken for an exhausted quota.
func RateLimited(retryAfter time.Duration) Fault {
	secs := max(1, int(math.Ceil(retryAfter.Seconds())))
	body, _ := json.Marshal(map[string]any{"error": map[string]any{
		"message": fmt.Sprintf("Rate limit reached for requests. Please try again in %.3fs.", retryAfter.Seconds()),
		"type":    "requests",
		"param":   nil,
		"code":    "rate_limit_exceeded",
	}})
	h := http.Header{}
	h.Set("Retry-After", strconv.Itoa(secs))
	h.Set("Retry-After-Ms", strconv.FormatInt(retryAfter.Milliseconds(), 10))
	return Fault{Status: http.StatusTooManyRequests, Body: string(body), Header: h}
}

// hang blocks until the gate opens (true) or the request or server ends
// (false).
func (f Fault) hang(ctx context.Context, closing <-chan struct{}, hanging func()) bool {
	if f.Hang == nil {
		return true
	}
	if hanging != nil {
		hanging()
	}
	select {
	case <-f.Hang:
		return true
	case <-ctx.Done():
		return false
	case <-closing:
		return false
	}
}

func (f Fault) waitBeforeHeaders(ctx context.Context, closing <-chan struct{}, hanging func()) bool {
	if !f.HangBeforeHeaders {
		return true
	}
	return f.hang(ctx, closing, hanging)
}

// cuts reports whether the fault truncates the reply.
func (f Fault) cuts() bool {
	return f.CutAfter != 0 || f.CutBeforeTextDelta > 0 || f.CutBeforeArgumentDelta > 0
}

// applyHeader copies the fault's headers over the reply's.
func (f Fault) applyHeader(h http.Header) {
	for k, vs := range f.Header {
		h[k] = append([]string(nil), vs...)
	}
}

// statusReply turns a Status fault into the JSON reply to send.
func (f Fault) statusReply() (int, []byte) {
	if f.Body != "" {
		return f.Status, []byte(f.Body)
	}
	return f.Status, errorBody(defaultStatusError(f.Status))
}

// FailEvent is the stream event a FirstEventFailed fault reports its
// failure with.
type FailEvent int

const (
	// FailResponseFailed is response.failed with response.error{code,
	// message}: the event Codex retries on.
	FailResponseFailed FailEvent = iota
	// FailErrorEvent is a flat top-level error event,
	// {"type":"error","code":...,"message":...,"param":null}, the Responses
	// API's streaming error.
	FailErrorEvent
	// FailNestedErrorEvent is a top-level error event with an error object,
	// {"type":"error","error":{"type","code","message","param",...}}, as
	// the ChatGPT backend and other relays send it.
	FailNestedErrorEvent
)

// failedReply is how FirstEventFailed shows on a JSON endpoint.
func (f Fault) failedReply() (int, []byte) {
	code := f.failCode()
	kind := code
	if kind == "" {
		kind = f.FailType
	}
	status := http.StatusInternalServerError
	switch kind {
	case "server_is_overloaded", "overloaded":
		status = http.StatusServiceUnavailable
	case "usage_limit_reached", "usage_not_included", "insufficient_quota", "rate_limit_exceeded":
		status = http.StatusTooManyRequests
	case "context_length_exceeded", "invalid_prompt", "invalid_request_error":
		status = http.StatusBadRequest
	}
	return status, f.errorJSON()
}

// errorJSON is the failure as an OpenAI-shaped error body, which is also the
// error chunk of a chat stream.
func (f Fault) errorJSON() []byte {
	if len(f.FailExtra) == 0 {
		return errorBody(apiError{Message: f.failMessage(), Type: f.failType(), Code: f.failCode()})
	}
	b, _ := json.Marshal(map[string]any{"error": f.errorObject()}) // cannot fail: plain data
	return b
}

// failCode is the error code the failure reports, "" for null.
func (f Fault) failCode() string {
	if f.FailCode == "" && f.FailType == "" {
		return "server_is_overloaded"
	}
	return f.FailCode
}

// failType is the error's type: FailType, else "server_error".
func (f Fault) failType() string {
	if f.FailType == "" {
		return "server_error"
	}
	return f.FailType
}

// errorObject is the error object of a nested error event or a JSON reply.
func (f Fault) errorObject() map[string]any {
	m := make(map[string]any, 4+len(f.FailExtra))
	for k, v := range f.FailExtra {
		m[k] = v
	}
	m["type"] = f.failType()
	m["code"] = nullable(f.failCode())
	m["message"] = f.failMessage()
	m["param"] = nil
	return m
}

func (f Fault) failMessage() string {
	if f.FailMessage == "" {
		return "Our servers are currently overloaded. Please try again later."
	}
	return f.FailMessage
}

// cut drops the connection mid-response, as an upstream that dies does:
// everything written so far reaches the client, then the stream ends without
// its terminator. Where the connection cannot be taken over (HTTP/2, in-process
// recorders) the response just ends early, which a client sees the same way:
// no response.completed.
func cut(w http.ResponseWriter) {
	rc := http.NewResponseController(w)
	_ = rc.Flush()
	conn, _, err := rc.Hijack()
	if err != nil {
		return
	}
	_ = conn.Close()
}
