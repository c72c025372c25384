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
			r.ended = true
			return
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
		r.ended = true
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

// grow appends escaped text to an item, false (and the answer failed) past
// the bound.
func (r *acctRebuilder) grow(dst *[]byte, t []byte) bool {
	if len(*dst)+len(t) > r.max {
		r.fail("upstream_event_too_large", "An output item of the upstream's answer grew past "+strconv.Itoa(r.max)+" bytes.")
		return false
	}
	*dst = append(*dst, t...)
	return true
}

func (r *acctRebuilder) reasoningDelta(t []byte) {
	if r.plan.Compaction() || r.ended {
		return // a summary turn answers with its summary only
	}
	if r.rsn == nil {
		r.closeMessage()
		r.reasoned = true
		r.rsn = r.announce('r', r.nextID(acctReasoningIDPrefix))
		r.evAt("response.reasoning_summary_part.added", r.rsn)
		r.out = append(r.out, `,"summary_index":0,"part":{"type":"summary_text","text":""}`...)
		r.end()
	}
	if !r.grow(&r.rsn.text, t) {
		return
	}
	r.evAt("response.reasoning_summary_text.delta", r.rsn)
	r.out = append(r.out, `,"summary_index":0,"delta":"`...)
	r.out = append(r.out, t...)
	r.out = append(r.out, '"')
	r.end()
}

func (r *acctRebuilder) textDelta(t []byte) {
	if r.ended {
		return
	}
	if r.plan.Compaction() {
		r.grow(&r.compText, t)
		return
	}
	if r.msg == nil {
		r.closeReasoning()
		r.msg = r.announce('m', r.nextID("msg_chat_"))
		r.evAt("response.content_part.added", r.msg)
		r.out = append(r.out, `,"content_index":0,"part":`...)
		r.out = acctTextPart(r.out, nil)
		r.end()
	}
	if !r.grow(&r.msg.text, t) {
		return
	}
	r.evAt("response.output_text.delta", r.msg)
	r.out = append(r.out, `,"content_index":0,"delta":"`...)
	r.out = append(r.out, t...)
	r.out = append(r.out, `","logprobs":[]`...)
	r.end()
}

// toolCallDelta handles one entry of a delta's tool_calls. Providers
// differ: later chunks of a call may omit id and name; calls interleave by
// index; a call may come whole in one chunk; index may be missing (then
// the id, else the last call, tells which call it continues). whole marks
// the entries of a JSON answer, each a call of its own.
func (r *acctRebuilder) toolCallDelta(tc []byte, whole bool) {
	if r.plan.Compaction() || r.ended {
		return
	}
	var idx, id, fn []byte
	_ = jsonscan.ObjectFields(tc, func(k, v []byte) bool {
		switch string(k) {
		case "index":
			idx = v
		case "id":
			id = v
		case "function":
			fn = v
		}
		return true
	})
	callID := acctStr(id)
	var name, args []byte
	_ = jsonscan.ObjectFields(fn, func(k, v []byte) bool {
		switch string(k) {
		case "name":
			name = v
		case "arguments":
			args = v
		}
		return true
	})

	var c *acctItem
	key := -1
	switch {
	case whole:
	case len(idx) > 0 && idx[0] >= '0' && idx[0] <= '9':
		key = int(acctInt(idx))
		c = r.callByKey(key)
		if c != nil && callID != "" && c.callID != "" && callID != c.callID {
			// Index reused for a new call (some servers number every call 0).
			c, key = nil, -1
		}
	case callID != "":
		for _, x := range r.calls {
			if x.callID == callID {
				c = x
			}
		}
	default:
		c = r.lastCall
	}
	if c == nil {
		if key < 0 {
			key = 1 << 20
			for r.callByKey(key) != nil {
				key++
			}
		}
		c = &acctItem{key: key, index: -1}
		r.calls = append(r.calls, c)
	}
	r.lastCall = c
	if c.callID == "" {
		c.callID = callID
	}
	if n := acctStr(name); n != "" && c.flat == "" {
		c.flat = n
	}
	var piece []byte
	if inner, ok := acctInner(args); ok {
		piece = inner
	} else if len(args) > 0 && args[0] == '{' {
		piece = acctEscape(nil, args) // arguments as an object (a few local servers)
	}
	if len(piece) > 0 && !r.grow(&c.text, piece) {
		return
	}
	switch {
	case c.index < 0 && c.flat != "":
		r.announceCall(c)
		if c.kind == 'f' && len(c.text) > 0 {
			r.argsDelta(c, c.text)
		}
	case c.index >= 0 && c.kind == 'f' && len(piece) > 0:
		r.argsDelta(c, piece)
	}
}

func (r *acctRebuilder) callByKey(key int) *acctItem {
	for _, c := range r.calls {
		if c.key == key {
			return c
		}
	}
	return nil
}

// announceCall emits output_item.added for a call whose name is known,
// named as Codex knows the tool.
func (r *acctRebuilder) announceCall(c *acctItem) {
	r.closeReasoning()
	r.closeMessage()
	t := r.plan.toolFor(c.flat)
	c.name, c.ns = t.Name, t.Namespace
	c.kind, c.id = 'f', r.nextID("fc_chat_")
	if t.Custom {
		c.kind, c.id = 'c', r.nextID("ctc_chat_")
	}
	if c.callID == "" {
		c.callID = r.nextID("call_chat_")
	}
	c.index = len(r.items)
	r.items = append(r.items, c)
	r.itemEvent("response.output_item.added", c)
}

// toolFor is Codex's tool for a flat name; a nil plan maps nothing.
func (p *Plan) toolFor(flat string) acctCodexTool {
	if p == nil {
		return acctCodexTool{Name: flat}
	}
	return p.names.back(flat)
}

func (r *acctRebuilder) argsDelta(c *acctItem, piece []byte) {
	r.evAt("response.function_call_arguments.delta", c)
	r.out = append(r.out, `,"delta":"`...)
	r.out = append(r.out, piece...)
	r.out = append(r.out, '"')
	r.end()
}

// announce adds a message or reasoning item and emits its output_item.added.
func (r *acctRebuilder) announce(kind byte, id string) *acctItem {
	return r.announceItem(&acctItem{kind: kind, id: id})
}

func (r *acctRebuilder) announceItem(it *acctItem) *acctItem {
	it.index = len(r.items)
	r.items = append(r.items, it)
	r.itemEvent("response.output_item.added", it)
	return it
}

func (r *acctRebuilder) itemDone(it *acctItem) {
	it.done = true
	r.itemEvent("response.output_item.done", it)
}

// itemEvent emits output_item.added or .done with the item as it stands.
func (r *acctRebuilder) itemEvent(typ string, it *acctItem) {
	r.ev(typ)
	r.out = append(r.out, `,"output_index":`...)
	r.out = strconv.AppendInt(r.out, int64(it.index), 10)
	r.out = append(r.out, `,"item":`...)
	r.out = r.item(r.out, it)
	r.end()
}

func (r *acctRebuilder) closeMessage() {
	m := r.msg
	if m == nil {
		return
	}
	r.msg = nil
	r.evAt("response.output_text.done", m)
	r.out = append(r.out, `,"content_index":0,"text":"`...)
	r.out = append(r.out, m.text...)
	r.out = append(r.out, `","logprobs":[]`...)
	r.end()
	r.evAt("response.content_part.done", m)
	r.out = append(r.out, `,"content_index":0,"part":`...)
	r.out = acctTextPart(r.out, m.text)
	r.end()
	r.itemDone(m)
}

func (r *acctRebuilder) closeReasoning() {
	s := r.rsn
	if s == nil {
		return
	}
	r.rsn = nil
	r.evAt("response.reasoning_summary_text.done", s)
	r.out = append(r.out, `,"summary_index":0,"text":"`...)
	r.out = append(r.out, s.text...)
	r.out = append(r.out, '"')
	r.end()
	r.evAt("response.reasoning_summary_part.done", s)
	r.out = append(r.out, `,"summary_index":0,"part":{"type":"summary_text","text":"`...)
	r.out = append(r.out, s.text...)
	r.out = append(r.out, `"}`...)
	r.end()
	r.itemDone(s)
}

// finishReason closes every item: only now are tool calls complete, so a
// stream cut before it never completes a call.
func (r *acctRebuilder) finishReason(f string) {
	r.finish = f
	r.closeReasoning()
	r.closeMessage()
	if r.plan.Compaction() {
		// The item comes whole, in output_item.added already, as the
		// real backend sends its compaction item.
		summary, _ := jsonscan.Unquote(append(append([]byte{'"'}, r.compText...), '"'))
		c := &acctItem{kind: 'k', id: r.nextID(acctCompactionIDPrefix), encryptedText: acctCompactionContent(summary)}
		r.compText = nil
		r.itemDone(r.announceItem(c))
		return
	}
	if r.thinks && !r.reasoned {
		// A thinking model that answered straight away (DeepSeek sends
		// reasoning_content ""). The empty reasoning item tells the next
		// translation that this provider thinks, which then gives every
		// assistant message a reasoning_content: DeepSeek V4 refuses a
		// thinking conversation where one lacks it.
		r.itemDone(r.announce('r', r.nextID(acctReasoningIDPrefix)))
	}
	for _, c := range r.calls {
		if c.index < 0 {
			continue // never named: nothing Codex could run
		}
		r.finishCall(c)
	}
}

func (r *acctRebuilder) finishCall(c *acctItem) {
	if c.kind == 'c' {
		c.input = acctCustomInput(c.text)
		r.evAt("response.custom_tool_call_input.delta", c)
		r.out = append(r.out, `,"delta":`...)
		r.out = append(r.out, c.input...)
		r.end()
		r.evAt("response.custom_tool_call_input.done", c)
		r.out = append(r.out, `,"input":`...)
		r.out = append(r.out, c.input...)
		r.end()
		r.itemDone(c)
		return
	}
	if len(c.text) == 0 {
		c.text = append(c.text, "{}"...) // no arguments: Codex parses the empty object
	}
	r.evAt("response.function_call_arguments.done", c)
	r.out = append(r.out, `,"name":`...)
	r.out = acctString(r.out, c.name)
	r.out = append(r.out, `,"arguments":"`...)
	r.out = append(r.out, c.text...)
	r.out = append(r.out, '"')
	r.end()
	r.itemDone(c)
}

// acctCustomInput is the input of a custom tool's call from the arguments
// the provider sent (escaped): the "input" string of {"input": ...}, the
// one string member of another object, else the arguments as text (a
// model that wrote the patch bare).
func acctCustomInput(escaped []byte) []byte {
	raw := append(append([]byte{'"'}, escaped...), '"')
	args, err := jsonscan.Unquote(raw)
	if err != nil {
		return []byte(`""`)
	}
	if v := jsonscan.Member(args, "input"); len(v) > 0 && v[0] == '"' {
		return v
	}
	var only []byte
	n := 0
	if jsonscan.ObjectFields(args, func(_, v []byte) bool {
		n++
		only = v
		return n < 2
	}) == nil && n == 1 && len(only) > 0 && only[0] == '"' {
		return only
	}
	return raw
}

// complete emits the terminal event of a finished answer.
func (r *acctRebuilder) complete() {
	typ, status, reason := "response.completed", "completed", ""
	switch r.finish {
	case "length":
		if !r.plan.Compaction() { // a cut summary still beats none
			typ, status, reason = "response.incomplete", "incomplete", "max_output_tokens"
		}
	case "content_filter":
		typ, status, reason = "response.incomplete", "incomplete", "content_filter"
	}
	r.ev(typ)
	r.out = append(r.out, `,"response":`...)
	r.out = r.response(r.out, status, reason)
	r.end()
}

// ev starts an event: its event line and data up to sequence_number.
func (r *acctRebuilder) ev(typ string) {
	r.out = append(r.out, "event: "...)
	r.out = append(r.out, typ...)
	r.out = append(r.out, "\ndata: {\"type\":\""...)
	r.out = append(r.out, typ...)
	r.out = append(r.out, `","sequence_number":`...)
	r.out = strconv.AppendInt(r.out, int64(r.seq), 10)
	r.seq++
}

// evAt starts an event about an item: up to its output_index.
func (r *acctRebuilder) evAt(typ string, it *acctItem) {
	r.ev(typ)
	r.out = append(r.out, `,"item_id":`...)
	r.out = acctString(r.out, it.id)
	r.out = append(r.out, `,"output_index":`...)
	r.out = strconv.AppendInt(r.out, int64(it.index), 10)
}

func (r *acctRebuilder) end() { r.out = append(r.out, "}\n\n"...) }

func acctTextPart(dst, escaped []byte) []byte {
	dst = append(dst, `{"type":"output_text","annotations":[],"logprobs":[],"text":"`...)
	dst = append(dst, escaped...)
	return append(dst, `"}`...)
}

// item appends an item as the real API shows it, in progress or done.
func (r *acctRebuilder) item(dst []byte, it *acctItem) []byte {
	status := `"in_progress"`
	if it.done {
		status = `"completed"`
	}
	switch it.kind {
	case 'm':
		dst = append(dst, `{"id":`...)
		dst = acctString(dst, it.id)
		dst = append(dst, `,"type":"message","status":`...)
		dst = append(dst, status...)
		dst = append(dst, `,"role":"assistant","content":[`...)
		if it.done {
			dst = acctTextPart(dst, it.text)
		}
		return append(dst, "]}"...)
	case 'r':
		dst = append(dst, `{"id":`...)
		dst = acctString(dst, it.id)
		dst = append(dst, `,"type":"reasoning","summary":[`...)
		if it.done && len(it.text) > 0 {
			dst = append(dst, `{"type":"summary_text","text":"`...)
			dst = append(dst, it.text...)
			dst = append(dst, `"}`...)
		}
		return append(dst, "]}"...)
	case 'k':
		dst = append(dst, `{"id":`...)
		dst = acctString(dst, it.id)
		dst = append(dst, `,"type":"compaction","encrypted_content":`...)
		dst = acctString(dst, it.encryptedText)
		return append(dst, '}')
	}
	typ, field := "function_call", "arguments"
	if it.kind == 'c' {
		typ, field = "custom_tool_call", "input"
	}
	dst = append(dst, `{"type":"`...)
	dst = append(dst, typ...)
	dst = append(dst, `","id":`...)
	dst = acctString(dst, it.id)
	dst = append(dst, `,"call_id":`...)
	dst = acctString(dst, it.callID)
	dst = append(dst, `,"name":`...)
	dst = acctString(dst, it.name)
	if it.ns != "" {
		dst = append(dst, `,"namespace":`...)
		dst = acctString(dst, it.ns)
	}
	dst = append(dst, `,"`...)
	dst = append(dst, field...)
	dst = append(dst, `":`...)
	switch {
	case !it.done:
		dst = append(dst, `""`...)
	case it.kind == 'c':
		dst = append(dst, it.input...)
	default:
		dst = append(dst, '"')
		dst = append(dst, it.text...)
		dst = append(dst, '"')
	}
	dst = append(dst, `,"status":`...)
	dst = append(dst, status...)
	return append(dst, '}')
}

// response appends the response object in the given state: its output is
// the items done so far.
func (r *acctRebuilder) response(dst []byte, status, incomplete string) []byte {
	model := r.plan.Model()
	if model == "" {
		model = r.upModel
	}
	dst = append(dst, `{"id":"resp_chat_`...)
	dst = append(dst, r.base...)
	dst = append(dst, `","object":"response","created_at":`...)
	dst = strconv.AppendInt(dst, r.created, 10)
	dst = append(dst, `,"status":"`...)
	dst = append(dst, status...)
	dst = append(dst, `","background":false,"error":`...)
	if status == "failed" {
		dst = append(dst, `{"code":`...)
		dst = acctString(dst, r.failCode)
		dst = append(dst, `,"message":`...)
		dst = acctString(dst, r.failMessage)
		dst = append(dst, '}')
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"incomplete_details":`...)
	if incomplete != "" {
		dst = append(dst, `{"reason":"`...)
		dst = append(dst, incomplete...)
		dst = append(dst, `"}`...)
	} else {
		dst = append(dst, "null"...)
	}
	dst = append(dst, `,"instructions":null,"max_output_tokens":null,"model":`...)
	dst = acctString(dst, model)
	dst = append(dst, `,"output":[`...)
	n := 0
	for _, it := range r.items {
		if !it.done {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = r.item(dst, it)
	}
	dst = append(dst, `],"parallel_tool_calls":true,"previous_response_id":null,"reasoning":{"effort":null,"summary":null},"store":false,"temperature":1,"text":{"format":{"type":"text"}},"tool_choice":"auto","tools":[],"top_p":1,"truncation":"disabled","usage":`...)
	if status == "in_progress" || status == "failed" {
		dst = append(dst, "null"...)
	} else {
		u := r.usage
		dst = append(dst, `{"input_tokens":`...)
		dst = strconv.AppendInt(dst, u.InputTokens, 10)
		dst = append(dst, `,"input_tokens_details":{"cached_tokens":`...)
		dst = strconv.AppendInt(dst, u.CachedTokens, 10)
		dst = append(dst, `},"output_tokens":`...)
		dst = strconv.AppendInt(dst, u.OutputTokens, 10)
		dst = append(dst, `,"output_tokens_details":{"reasoning_tokens":`...)
		dst = strconv.AppendInt(dst, u.ReasoningTokens, 10)
		dst = append(dst, `},"total_tokens":`...)
		dst = strconv.AppendInt(dst, u.InputTokens+u.OutputTokens, 10)
		dst = append(dst, '}')
	}
	return append(dst, `,"user":null,"metadata":{}}`...)
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
