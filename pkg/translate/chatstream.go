package translate

import (
	"encoding/json"
	"slices"
	"strconv"
	"strings"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
	"github.com/proxy-dev/proxy/pkg/sse"
)

// frontPassthrough is the SSE event name in which the account half passes a
// native account's chunk on as it came (PassthroughEvent, defined there).
const frontPassthrough = "proxy.chat"

// frontDone ends every chat stream, as the OpenAI API ends one.
const frontDone = "data: [DONE]\n\n"

// ChatStream turns the Responses events of one answer into the
// chat.completion.chunk events the client reads. Not safe for concurrent
// use; one per answer. It keeps the chunk header and one small record per
// tool call (index, item id), never the text: its memory does not grow with
// the answer.
type ChatStream struct {
	req  ChatRequest
	head []byte // {"id":...,"object":"chat.completion.chunk","created":...,"model":...
	tail string // what ends a delta chunk after its finish_reason

	calls []frontCall

	roleSent    bool // the first output chunk, which carries the role, has gone
	passthrough bool // a proxy.chat event has passed: chunks come as they came
	rawEnd      bool // a raw [DONE] or error chunk has passed
	done        bool // data: [DONE] has been returned
}

// frontCall is one tool call of the answer: its chat index is its place
// in the calls slice.
type frontCall struct {
	itemID      string
	outputIndex int
	argsSent    bool // arguments went out: a done event adds nothing
	custom      bool // a freeform tool's call: chat names its text input, not arguments
}

// NewChatStream starts the translation of one answer to req.
func NewChatStream(req ChatRequest) *ChatStream {
	s := &ChatStream{req: req, tail: "}]}"}
	if req.IncludeUsage {
		// The OpenAI API marks every chunk but the last with usage:null
		// when the client asked for usage; some clients key on it.
		s.tail = `}],"usage":null}`
	}
	return s
}

// Done reports whether "data: [DONE]" has been returned.
func (s *ChatStream) Done() bool { return s.done }

// Event takes one or more complete Responses SSE events, as the relay
// passes them on ("event: response.output_text.delta\ndata: {...}\n\n",
// possibly several concatenated in one call: the relay writes a held
// opening at once) and returns the chat SSE bytes to send now
// ("data: {...}\n\n"), nil when there is nothing to send. After the
// terminal event (response.completed / response.incomplete /
// response.failed / error) it has returned the last chunk(s)
// (finish_reason, then the usage chunk when IncludeUsage) and
// "data: [DONE]\n\n". The result is the caller's to keep.
func (s *ChatStream) Event(ev []byte) []byte {
	var out []byte
	for len(ev) > 0 && !s.done {
		var one []byte
		one, ev = frontNextEvent(ev)
		out = s.event(one, out)
	}
	return out
}

// frontNextEvent splits the first event off b: everything up to and
// including the blank line that ends it (LF, CRLF or CR line ends).
func frontNextEvent(b []byte) (event, rest []byte) {
	i := 0
	for i < len(b) {
		j := i
		for j < len(b) && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		if j == len(b) {
			break
		}
		next := j + 1
		if b[j] == '\r' && next < len(b) && b[next] == '\n' {
			next++
		}
		if j == i {
			return b[:next], b[next:]
		}
		i = next
	}
	return b, nil
}

func (s *ChatStream) event(ev, out []byte) []byte {
	typ := sse.Type(ev)
	if typ == frontPassthrough {
		return s.raw(sse.Data(ev), out)
	}
	failure := typ == "response.failed" || typ == "error"
	if s.passthrough {
		// The events derived from raw chunks say nothing new, except a
		// failure the relay adds when the native stream was cut.
		if failure && !s.rawEnd {
			return s.fail(ev, out)
		}
		return out
	}
	if failure {
		return s.fail(ev, out)
	}
	data := sse.Data(ev)
	switch typ {
	case "response.created", "response.in_progress":
		s.meta(data)
	case "response.output_text.delta":
		return s.delta(out, `"content":`, jsonscan.Member(data, "delta"))
	case "response.refusal.delta":
		return s.delta(out, `"refusal":`, jsonscan.Member(data, "delta"))
	case "response.reasoning_summary_text.delta", "response.reasoning_text.delta":
		// Most clients that show thinking read DeepSeek's reasoning_content.
		return s.delta(out, `"reasoning_content":`, jsonscan.Member(data, "delta"))
	case "response.reasoning_summary_part.added":
		if n := jsonscan.Member(data, "summary_index"); len(n) > 0 && string(n) != "0" {
			return s.delta(out, `"reasoning_content":`, []byte(`"\n\n"`))
		}
	case "response.output_item.added":
		return s.itemAdded(data, out)
	case "response.function_call_arguments.delta", "response.custom_tool_call_input.delta":
		return s.argsDelta(data, out)
	case "response.function_call_arguments.done":
		return s.argsDone(data, "arguments", out)
	case "response.custom_tool_call_input.done":
		return s.argsDone(data, "input", out)
	case "response.output_item.done":
		return s.itemDone(data, out)
	case "response.completed", "response.incomplete":
		return s.finish(ev, data, out)
	}
	return out
}

// raw passes a native account's chunk on as it came.
func (s *ChatStream) raw(data, out []byte) []byte {
	s.passthrough = true
	out = append(out, "data: "...)
	out = append(out, data...)
	out = append(out, "\n\n"...)
	switch {
	case string(data) == "[DONE]":
		s.rawEnd, s.done = true, true
	case jsonscan.Member(data, "error") != nil:
		s.rawEnd = true
	}
	return out
}

// meta takes the chunk header from the response object of an event: the
// id (chatcmpl- and the response id's suffix), created_at and model.
func (s *ChatStream) meta(data []byte) {
	if s.head != nil {
		return
	}
	resp := jsonscan.Member(data, "response")
	if resp == nil {
		return
	}
	var id, created, model []byte
	_ = frontTake(resp, frontResponseKeys[:3], &id, &created, &model)
	s.head = frontHead(frontStr(id), created, frontStr(model), s.req.Model, "chat.completion.chunk")
}

// The members of an output item and of a response object the answer half reads.
var (
	frontItemKeys     = []string{"type", "id", "call_id", "name", "arguments", "input"}
	frontResponseKeys = []string{"id", "created_at", "model", "status", "incomplete_details", "output"}
)

// frontStr is the value of a raw JSON string, "" for anything else.
func frontStr(raw []byte) string {
	if len(raw) == 0 || raw[0] != '"' {
		return ""
	}
	s, _ := jsonscan.String(raw)
	return s
}

// frontHead writes the members every chunk (or completion) starts with.
func frontHead(respID string, created []byte, model, fallbackModel, object string) []byte {
	if model == "" {
		model = fallbackModel
	}
	if _, err := strconv.ParseInt(string(created), 10, 64); err != nil {
		created = []byte("0")
	}
	id := "chatcmpl-" + strings.TrimPrefix(respID, "resp_")
	if respID == "" {
		id = "chatcmpl-proxy"
	}
	h := make([]byte, 0, 96+len(id)+len(model))
	h = append(h, `{"id":`...)
	h = frontQuote(h, id)
	h = append(h, `,"object":"`+object+`","created":`...)
	h = append(h, created...)
	h = append(h, `,"model":`...)
	h = frontQuote(h, model)
	return h
}

// frontQuote appends s as a JSON string.
func frontQuote(b []byte, s string) []byte {
	q, _ := json.Marshal(s) // a string always marshals
	return append(b, q...)
}

// chunk appends one chat.completion.chunk whose choice has delta and
// finish (a raw JSON value: null or a quoted reason).
func (s *ChatStream) chunk(out []byte, delta []byte, finish string) []byte {
	if s.head == nil {
		s.head = frontHead("", nil, "", s.req.Model, "chat.completion.chunk")
	}
	out = slices.Grow(out, len(s.head)+len(delta)+len(finish)+len(s.tail)+80)
	out = append(out, "data: "...)
	out = append(out, s.head...)
	out = append(out, `,"choices":[{"index":0,"delta":`...)
	out = append(out, delta...)
	out = append(out, `,"logprobs":null,"finish_reason":`...)
	out = append(out, finish...)
	out = append(out, s.tail...)
	return append(out, "\n\n"...)
}

// delta appends a chunk whose delta is {key value}, with the role on the
// first output chunk. A missing or non-string value sends nothing. It is
// the chunk of nearly every event: written in one allocation at most.
func (s *ChatStream) delta(out []byte, key string, value []byte) []byte {
	if len(value) == 0 || value[0] != '"' || string(value) == `""` {
		return out
	}
	if s.head == nil {
		s.head = frontHead("", nil, "", s.req.Model, "chat.completion.chunk")
	}
	open := "{"
	if !s.roleSent {
		s.roleSent = true
		open = `{"role":"assistant",`
	}
	out = slices.Grow(out, len(s.head)+len(key)+len(value)+len(s.tail)+112)
	out = append(out, "data: "...)
	out = append(out, s.head...)
	out = append(out, `,"choices":[{"index":0,"delta":`...)
	out = append(out, open...)
	out = append(out, key...)
	out = append(out, value...)
	out = append(out, `},"logprobs":null,"finish_reason":null`...)
	out = append(out, s.tail...)
	return append(out, "\n\n"...)
}

// open starts a delta object, with the role when it is the first.
func (s *ChatStream) open(d []byte) []byte {
	if s.roleSent {
		return append(d, '{')
	}
	s.roleSent = true
	return append(d, `{"role":"assistant",`...)
}

// frontItem is what the stream reads of an output item.
type frontItem struct {
	typ, id, callID, name, args []byte
}

func frontReadItem(item []byte) frontItem {
	var it frontItem
	var input []byte
	_ = frontTake(item, frontItemKeys, &it.typ, &it.id, &it.callID, &it.name, &it.args, &input)
	if jsonscan.Equal(it.typ, "custom_tool_call") {
		it.args = input // a freeform tool's call carries input, not arguments
	}
	return it
}

func (it frontItem) isCall() bool {
	return jsonscan.Equal(it.typ, "function_call") || jsonscan.Equal(it.typ, "custom_tool_call")
}

// itemAdded announces a tool call: its index, id, type and name, with
// empty arguments, as the OpenAI API's first delta of a call does.
func (s *ChatStream) itemAdded(data, out []byte) []byte {
	it := frontReadItem(jsonscan.Member(data, "item"))
	if !it.isCall() {
		return out
	}
	s.addCall(it, frontIndex(data))
	return s.announce(out, len(s.calls)-1, it, []byte(`""`))
}

func (s *ChatStream) addCall(it frontItem, outputIndex int) {
	id, _ := jsonscan.String(it.id)
	s.calls = append(s.calls, frontCall{itemID: id, outputIndex: outputIndex, custom: jsonscan.Equal(it.typ, "custom_tool_call")})
}

// announce appends the first delta of call i with args as its arguments:
// index, id, type and name, as the OpenAI API's first delta of a call.
func (s *ChatStream) announce(out []byte, i int, it frontItem, args []byte) []byte {
	d := make([]byte, 0, 112+len(it.callID)+len(it.name)+len(args))
	d = s.open(d)
	d = append(d, `"tool_calls":[`...)
	d = frontCallJSON(d, it, i, args)
	d = append(d, `]}`...)
	return s.chunk(out, d, "null")
}

// args appends a later delta of call i: only arguments.
func (s *ChatStream) args(out []byte, i int, args []byte) []byte {
	d := make([]byte, 0, 64+len(args))
	d = s.open(d)
	d = append(d, `"tool_calls":[{"index":`...)
	d = strconv.AppendInt(d, int64(i), 10)
	if s.calls[i].custom {
		d = append(d, `,"custom":{"input":`...)
	} else {
		d = append(d, `,"function":{"arguments":`...)
	}
	d = append(d, args...)
	d = append(d, `}}]}`...)
	return s.chunk(out, d, "null")
}

// frontIndex is an event's output_index, -1 when it has none.
func frontIndex(data []byte) int {
	n, err := strconv.Atoi(string(jsonscan.Member(data, "output_index")))
	if err != nil {
		return -1
	}
	return n
}

// call finds the tool call an event is about, by item_id, else by
// output_index; -1 when the stream announced none such.
func (s *ChatStream) call(data []byte, itemID []byte) int {
	if itemID == nil {
		itemID = jsonscan.Member(data, "item_id")
	}
	if len(itemID) > 2 {
		id, _ := jsonscan.Unquote(itemID)
		for i := range s.calls {
			if s.calls[i].itemID == string(id) {
				return i
			}
		}
	}
	if idx := frontIndex(data); idx >= 0 {
		for i := range s.calls {
			if s.calls[i].outputIndex == idx {
				return i
			}
		}
	}
	return -1
}

func (s *ChatStream) argsDelta(data, out []byte) []byte {
	i := s.call(data, nil)
	delta := jsonscan.Member(data, "delta")
	if i < 0 || len(delta) == 0 || delta[0] != '"' || string(delta) == `""` {
		return out
	}
	s.calls[i].argsSent = true
	return s.args(out, i, delta)
}

// argsDone sends a call's whole arguments when no delta carried them
// (an upstream that sends them only at the end).
func (s *ChatStream) argsDone(data []byte, field string, out []byte) []byte {
	i := s.call(data, nil)
	if i < 0 || s.calls[i].argsSent {
		return out
	}
	s.calls[i].argsSent = true
	args := jsonscan.Member(data, field)
	if len(args) == 0 || args[0] != '"' || string(args) == `""` {
		return out
	}
	return s.args(out, i, args)
}

// itemDone completes a tool call the deltas did not: one never announced
// (an upstream that skipped output_item.added) goes out whole.
func (s *ChatStream) itemDone(data, out []byte) []byte {
	it := frontReadItem(jsonscan.Member(data, "item"))
	if !it.isCall() {
		return out
	}
	args := it.args
	if len(args) == 0 || args[0] != '"' {
		args = []byte(`""`)
	}
	i := s.call(data, it.id)
	if i < 0 {
		s.addCall(it, frontIndex(data))
		s.calls[len(s.calls)-1].argsSent = true
		return s.announce(out, len(s.calls)-1, it, args)
	}
	if s.calls[i].argsSent || string(args) == `""` {
		return out
	}
	s.calls[i].argsSent = true
	return s.args(out, i, args)
}

// finish ends a completed or incomplete answer: the finish_reason chunk,
// the usage chunk when the client asked for it, and [DONE].
func (s *ChatStream) finish(ev, data, out []byte) []byte {
	s.meta(data)
	reason := `"stop"`
	switch {
	case sse.Type(ev) == "response.incomplete":
		reason = frontIncomplete(jsonscan.Member(jsonscan.Member(jsonscan.Member(data, "response"), "incomplete_details"), "reason"))
	case len(s.calls) > 0:
		reason = `"tool_calls"`
	}
	d := []byte(`{}`)
	if !s.roleSent {
		s.roleSent = true
		d = []byte(`{"role":"assistant","content":""}`)
	}
	out = s.chunk(out, d, reason)
	if s.req.IncludeUsage {
		res, _ := sse.Completion(ev)
		out = append(out, "data: "...)
		out = append(out, s.head...)
		out = append(out, `,"choices":[],"usage":`...)
		out = frontUsage(out, res.Usage)
		out = append(out, "}\n\n"...)
	}
	s.done = true
	return append(out, frontDone...)
}

// frontIncomplete maps an incomplete response's reason to a finish_reason.
func frontIncomplete(reason []byte) string {
	if jsonscan.Equal(reason, "content_filter") {
		return `"content_filter"`
	}
	// max_output_tokens, and any reason the API adds later: the answer
	// was cut, which is what length tells a client.
	return `"length"`
}

// frontUsage appends a chat usage object.
func frontUsage(out []byte, u sse.Usage) []byte {
	total := u.TotalTokens
	if total == 0 {
		total = u.InputTokens + u.OutputTokens
	}
	out = append(out, `{"prompt_tokens":`...)
	out = strconv.AppendInt(out, u.InputTokens, 10)
	out = append(out, `,"completion_tokens":`...)
	out = strconv.AppendInt(out, u.OutputTokens, 10)
	out = append(out, `,"total_tokens":`...)
	out = strconv.AppendInt(out, total, 10)
	out = append(out, `,"prompt_tokens_details":{"cached_tokens":`...)
	out = strconv.AppendInt(out, u.CachedTokens, 10)
	out = append(out, `},"completion_tokens_details":{"reasoning_tokens":`...)
	out = strconv.AppendInt(out, u.ReasoningTokens, 10)
	return append(out, `}}`...)
}

// fail ends the stream with an error chunk, which the official SDKs raise
// as an error, and [DONE].
func (s *ChatStream) fail(ev, out []byte) []byte {
	code, message, typ, _ := sse.Failure(ev)
	if message == "" {
		message = "the upstream failed the response"
	}
	if typ == "" {
		typ = "server_error"
	}
	out = append(out, `data: {"error":{"message":`...)
	out = frontQuote(out, message)
	out = append(out, `,"type":`...)
	out = frontQuote(out, typ)
	out = append(out, `,"param":null,"code":`...)
	if code == "" {
		out = append(out, "null"...)
	} else {
		out = frontQuote(out, code)
	}
	out = append(out, "}}\n\n"...)
	s.done = true
	return append(out, frontDone...)
}
