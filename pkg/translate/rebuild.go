package translate

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
	"github.com/proxy-dev/proxy/pkg/sse"
)

// PassthroughEvent names the SSE event in which a rebuilt stream carries an
// upstream chunk as it came (RebuildOptions.Passthrough): its data is the
// chunk's data, e.g. {"id":...,"object":"chat.completion.chunk",...} or [DONE].
const PassthroughEvent = "proxy.chat"

// acctReasoningIDPrefix marks the reasoning items a rebuilt stream makes, so
// that ResponsesToChat knows them when Codex sends them back and replays
// their text (DeepSeek's thinking mode wants it within a tool turn).
const acctReasoningIDPrefix = "rs_chat_"

// acctRandRead makes the random part of a rebuilt answer's ids; tests
// make it fixed.
var acctRandRead = rand.Read

// RebuildOptions bound and shape a rebuilt answer.
type RebuildOptions struct {
	// MaxEvent bounds one upstream chunk and anything accumulated for one output item (a tool
	// call's arguments, a message's text); 0 means sse.DefaultMaxEvent. Past it the rebuilt stream
	// ends with response.failed (code "upstream_event_too_large"), never a crash.
	MaxEvent int
	// Passthrough emits each upstream chunk as it came in a PassthroughEvent before what it derives.
	Passthrough bool
	// Now stamps created_at; nil means time.Now.
	Now func() time.Time
}

// Usage is a chat answer's token counts in the Responses API's terms.
type Usage struct{ InputTokens, CachedTokens, OutputTokens, ReasoningTokens int64 }

// ChatUsage reads the usage of a chat.completion JSON answer (prompt_tokens, completion_tokens,
// prompt_tokens_details.cached_tokens, completion_tokens_details.reasoning_tokens).
func ChatUsage(body []byte) (u Usage, ok bool) {
	raw := jsonscan.Member(body, "usage")
	if len(raw) == 0 || raw[0] != '{' {
		return Usage{}, false
	}
	return acctUsage(raw), true
}

// acctUsage reads a chat usage object, with the providers' variants for
// cached tokens: DeepSeek's prompt_cache_hit_tokens, Kimi's top-level
// cached_tokens.
func acctUsage(raw []byte) Usage {
	var u Usage
	var hit, top int64
	_ = jsonscan.ObjectFields(raw, func(k, v []byte) bool {
		switch string(k) {
		case "prompt_tokens":
			u.InputTokens = acctInt(v)
		case "completion_tokens":
			u.OutputTokens = acctInt(v)
		case "prompt_tokens_details":
			u.CachedTokens = acctInt(jsonscan.Member(v, "cached_tokens"))
		case "completion_tokens_details":
			u.ReasoningTokens = acctInt(jsonscan.Member(v, "reasoning_tokens"))
		case "prompt_cache_hit_tokens":
			hit = acctInt(v)
		case "cached_tokens":
			top = acctInt(v)
		}
		return true
	})
	if u.CachedTokens == 0 {
		u.CachedTokens = max(hit, top)
	}
	return u
}

func acctInt(v []byte) int64 {
	n, err := strconv.ParseInt(string(v), 10, 64)
	if err != nil {
		f, ferr := strconv.ParseFloat(string(v), 64)
		if ferr != nil {
			return 0
		}
		return int64(f)
	}
	return n
}

// Rebuild reads a Chat Completions answer from body (an SSE stream of chat.completion.chunk, or one
// chat.completion JSON object when contentType is JSON) and returns a reader of the same answer as a
// Responses SSE stream. plan may be nil (a chat request passed through byte for byte: no names to map).
// Closing the returned reader closes body. Bounded memory: it holds one chunk and the items being built.
func Rebuild(body io.ReadCloser, contentType string, plan *Plan, o RebuildOptions) io.ReadCloser {
	r := &acctRebuilder{body: body, plan: plan, o: o, max: o.MaxEvent}
	if r.max <= 0 {
		r.max = sse.DefaultMaxEvent
	}
	r.json = acctIsJSON(contentType)
	if !r.json {
		r.rd = sse.NewReader(body)
		r.rd.SetMax(r.max)
	}
	return r
}

func acctIsJSON(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// acctRebuilder is the reader Rebuild returns. Each Read that finds nothing
// pending reads one upstream chunk and emits what it derives, so events
// leave as soon as their chunk has come.
type acctRebuilder struct {
	body io.ReadCloser
	rd   *sse.Reader
	json bool
	plan *Plan
	o    RebuildOptions
	max  int

	out []byte // events not yet read
	off int
	seq int

	started bool
	sawData bool      // an event with data has come
	sawDone bool      // the upstream's [DONE] has come
	jsonSrc io.Reader // the rest of a JSON answer found under an event-stream type
	ended   bool      // the upstream is done with: Read returns err, then EOF
	err     error     // a read error of the upstream, returned once out is drained

	base     string // random part of the ids
	nIDs     int
	created  int64
	upModel  string // the model a chunk named, when the plan has none
	items    []*acctItem
	msg, rsn *acctItem   // the open message and reasoning items
	calls    []*acctItem // the tool calls of the answer, first seen first
	lastCall *acctItem

	// thinks is set by a reasoning_content member, even empty; reasoned
	// by a reasoning item made.
	thinks, reasoned bool

	finish    string // finish_reason, once seen
	usage     Usage
	haveUsage bool
	compText  []byte // a compaction's summary, escaped

	// A terminal decided while passing chunks through waits for the end
	// of the upstream, so the client's [DONE] passes first.
	failCode, failMessage string
	failed                bool
}

// acctItem is one output item of the rebuilt response. Its text (a
// message's, a reasoning summary's, a call's arguments) is kept escaped as
// it came, never decoded.
type acctItem struct {
	kind  byte // 'm' message, 'r' reasoning, 'f' function_call, 'c' custom_tool_call, 'k' compaction
	id    string
	index int // output_index; -1 for a call not yet announced
	text  []byte
	done  bool

	key           int // the chunk's tool call index
	callID, flat  string
	name, ns      string
	input         []byte // a custom call's input, a raw JSON string, once done
	encryptedText string // a compaction's
}

func (r *acctRebuilder) Read(p []byte) (int, error) {
	for r.off >= len(r.out) {
		r.out, r.off = r.out[:0], 0
		switch {
		case !r.started:
			r.start()
		case r.ended:
			if r.err != nil {
				err := r.err
				r.err = nil
				return 0, err
			}
			return 0, io.EOF
		case r.json:
			r.readJSON()
		default:
			r.step()
		}
	}
	n := copy(p, r.out[r.off:])
	r.off += n
	return n, nil
}

func (r *acctRebuilder) Close() error { return r.body.Close() }

// start emits response.created and response.in_progress, which need no
// upstream byte.
func (r *acctRebuilder) start() {
	r.started = true
	var b [8]byte
	_, _ = acctRandRead(b[:])
	r.base = hex.EncodeToString(b[:])
	now := time.Now
	if r.o.Now != nil {
		now = r.o.Now
	}
	r.created = now().Unix()
	for _, typ := range [...]string{"response.created", "response.in_progress"} {
		r.ev(typ)
		r.out = append(r.out, `,"response":`...)
		r.out = r.response(r.out, "in_progress", "")
		r.end()
	}
}

func (r *acctRebuilder) nextID(prefix string) string {
	r.nIDs++
	return prefix + r.base + "_" + strconv.Itoa(r.nIDs)
}

// step reads and handles one upstream event.
func (r *acctRebuilder) step() {
	ev, err := r.rd.Next()
	if err != nil {
		if errors.Is(err, sse.ErrEventTooLarge) {
			r.fail("upstream_event_too_large", "The upstream sent a chunk larger than "+strconv.Itoa(r.max)+" bytes.")
			r.upstreamEnd(io.EOF) // nothing more can be read: fail now, passing through or not
			return
		}
		// The body's own error: the reader of the rebuilt stream says
		// where it was reading.
		if cause := errors.Unwrap(err); cause != nil {
			err = cause
		}
		r.upstreamEnd(err)
		return
	}
	data := sse.Data(ev)
	if data == nil {
		if t := bytes.TrimSpace(ev); !r.sawData && len(t) > 0 && t[0] == '{' {
			// A JSON answer under an event-stream type (a server that
			// ignores stream:true and mislabels its answer): read the
			// rest as one object. The reader returns the body's bytes as
			// they came, so its events put together are the body.
			r.json = true
			r.jsonSrc = io.MultiReader(bytes.NewReader(bytes.Clone(ev)), &acctEventBytes{rd: r.rd})
		}
		return // else a comment (keep-alive) or a bare event line
	}
	r.sawData = true
	if r.o.Passthrough {
		r.passthrough(data)
	}
	data = bytes.TrimSpace(data)
	if string(data) == "[DONE]" {
		r.sawDone = true
		r.upstreamEnd(io.EOF)
		return
	}
	if len(data) == 0 || data[0] != '{' || r.failed {
		return
	}
	r.chunk(data, false)
}

// readJSON handles a one-object chat.completion answer: the same events as
// its stream would give, at once.
func (r *acctRebuilder) readJSON() {
	src := r.jsonSrc
	if src == nil {
		src = r.body
	}
	b, err := io.ReadAll(io.LimitReader(src, int64(r.max)+1))
	switch {
	case errors.Is(err, sse.ErrEventTooLarge) || len(b) > r.max:
		r.fail("upstream_event_too_large", "The upstream's answer is larger than "+strconv.Itoa(r.max)+" bytes.")
		r.upstreamEnd(io.EOF)
		return
	case err != nil:
		r.upstreamEnd(err)
		return
	}
	if r.o.Passthrough {
		r.passthrough(bytes.TrimSpace(b))
	}
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '{' {
		r.chunk(b, true)
		if r.finish == "" && !r.failed && r.answered() {
			r.finishReason("stop") // a whole answer is finished, whatever it says
		}
	}
	r.upstreamEnd(io.EOF)
}

// answered reports whether any output arrived.
func (r *acctRebuilder) answered() bool {
	return len(r.items) > 0 || len(r.calls) > 0 || len(r.compText) > 0
}

// passthrough emits the upstream chunk as it came.
func (r *acctRebuilder) passthrough(data []byte) {
	r.out = append(r.out, "event: "+PassthroughEvent+"\n"...)
	for line := range bytes.SplitSeq(data, []byte("\n")) {
		r.out = append(r.out, "data: "...)
		r.out = append(r.out, line...)
		r.out = append(r.out, '\n')
	}
	r.out = append(r.out, '\n')
}

// upstreamEnd handles the end of the upstream: [DONE], EOF or a read
// error. An answer that got its finish_reason completes (with zero usage if
// none came); any other emits no terminal event, so the relay sees a cut.
func (r *acctRebuilder) upstreamEnd(err error) {
	if r.ended {
		return
	}
	switch {
	case r.failed:
		r.emitFailed()
	case r.finish != "":
		if r.o.Passthrough && !r.sawDone && !r.json {
			// The provider finished but never said [DONE] (some never
			// do): the chat client passed through still needs it.
			r.passthrough([]byte("[DONE]"))
		}
		r.complete()
	case err != io.EOF:
		r.err = err
	}
	r.ended = true
}

// chunk handles one chat.completion.chunk (or, whole, one chat.completion).
func (r *acctRebuilder) chunk(data []byte, whole bool) {
	var choices, usage, errv, model, object []byte
	_ = jsonscan.ObjectFields(data, func(k, v []byte) bool {
		switch string(k) {
		case "object":
			object = v
		case "choices":
			choices = v
		case "usage":
			usage = v
		case "error":
			errv = v
		case "model":
			model = v
		}
		return true
	})
	if len(errv) > 0 && errv[0] == '{' {
		r.upstreamError(errv)
		return
	}
	if jsonscan.Equal(object, "error") { // vLLM's flat {"object":"error","message":...,"code":400}
		r.upstreamError(data)
		return
	}
	if r.upModel == "" {
		r.upModel = acctStr(model)
	}
	if len(choices) > 0 && choices[0] == '[' {
		_ = jsonscan.ArrayElems(choices, func(c []byte) bool {
			r.choice(c, whole)
			return true
		})
	}
	if len(usage) > 0 && usage[0] == '{' {
		r.usage, r.haveUsage = acctUsage(usage), true
	}
	if r.finish != "" && r.haveUsage && !r.o.Passthrough && !r.ended {
		r.complete()
		r.ended = true
	}
}

// upstreamError turns an {"error":{...}} chunk into response.failed.
func (r *acctRebuilder) upstreamError(errv []byte) {
	code := jsonscan.Member(errv, "code")
	c := acctStr(code)
	if c == "" && len(code) > 0 && code[0] != 'n' {
		c = string(code) // a number: 429, 500
	}
	if c == "" {
		c = acctStr(jsonscan.Member(errv, "type"))
	}
	if c == "" {
		c = "upstream_error"
	}
	msg := acctStr(jsonscan.Member(errv, "message"))
	if msg == "" {
		msg = "The upstream reported an error."
	}
	if acctContextFull(msg) {
		// Codex starts a compaction on this code alone; chat servers
		// (vLLM, llama.cpp, Ollama) say it in words under a 400.
		c = "context_length_exceeded"
	}
	r.fail(c, msg)
}

// acctContextFull reports an error message that says the prompt does not
// fit the model's context.
func acctContextFull(msg string) bool {
	m := strings.ToLower(msg)
	for _, s := range [...]string{"context length", "context_length", "context window", "maximum context", "exceeds the available context", "prompt is too long"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// fail ends the answer with response.failed, at once unless chunks pass
// through (then at the upstream's end).
func (r *acctRebuilder) fail(code, message string) {
	if r.failed || r.ended {
		return
	}
	r.failed, r.failCode, r.failMessage = true, code, message
	if !r.o.Passthrough {
		r.emitFailed()
		r.ended = true
	}
}

func (r *acctRebuilder) emitFailed() {
	r.ev("response.failed")
	r.out = append(r.out, `,"response":`...)
	r.out = r.response(r.out, "failed", "")
	r.end()
}

// choice handles one choice of a chunk; only choice 0 is Codex's answer.
func (r *acctRebuilder) choice(c []byte, whole bool) {
	var idx, delta, finish []byte
	_ = jsonscan.ObjectFields(c, func(k, v []byte) bool {
		switch string(k) {
		case "index":
			idx = v
		case "delta", "message":
			delta = v
		case "finish_reason":
			finish = v
		}
		return true
	})
	if len(idx) > 0 && string(idx) != "0" {
		return
	}
	if r.finish == "" && len(delta) > 0 && delta[0] == '{' {
		r.delta(delta, whole)
	}
	if f := acctStr(finish); f != "" && r.finish == "" && !r.ended {
		r.finishReason(f)
	}
}

// delta handles a choice's delta: reasoning, then text, then tool calls,
// the order a model produces them in.
func (r *acctRebuilder) delta(d []byte, whole bool) {
	var content, reasoningContent, reasoning, calls []byte
	_ = jsonscan.ObjectFields(d, func(k, v []byte) bool {
		switch string(k) {
		case "content":
			content = v
		case "reasoning_content":
			reasoningContent = v
		case "reasoning":
			reasoning = v
		case "tool_calls":
			calls = v
		}
		return true
	})
	// DeepSeek says reasoning_content; vLLM, Ollama and OpenRouter say
	// reasoning (some say both, alike).
	rc, isRC := acctInner(reasoningContent)
	rs, isRS := acctInner(reasoning)
	r.thinks = r.thinks || isRC || isRS
	if len(rc) > 0 {
		r.reasoningDelta(rc)
	} else if len(rs) > 0 {
		r.reasoningDelta(rs)
	}
	if t, ok := acctInner(content); ok && len(t) > 0 {
		r.textDelta(t)
	}
	if len(calls) > 0 && calls[0] == '[' {
		_ = jsonscan.ArrayElems(calls, func(tc []byte) bool {
			r.toolCallDelta(tc, whole)
			return !r.ended
		})
	}
}

// acctEventBytes reads the events of an sse.Reader back as bytes.
type acctEventBytes struct {
	rd  *sse.Reader
	cur []byte
}

func (e *acctEventBytes) Read(p []byte) (int, error) {
	if len(e.cur) == 0 {
		ev, err := e.rd.Next()
		if err != nil {
			return 0, err
		}
		e.cur = ev
	}
	n := copy(p, e.cur)
	e.cur = e.cur[n:]
	return n, nil
}
