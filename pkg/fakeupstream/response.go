package fakeupstream

import (
	"encoding/json"
	"net/http"
	"strings"
)

// response is the Responses API response object, with the fields the real one
// carries so strict clients (openai-go, Codex) decode it as they would the real
// thing. Usage is a pointer because it is null until the response completes.
type response struct {
	ID                 string         `json:"id"`
	Object             string         `json:"object"`
	CreatedAt          int64          `json:"created_at"`
	Status             string         `json:"status"`
	Background         bool           `json:"background"`
	Error              *responseError `json:"error"`
	IncompleteDetails  any            `json:"incomplete_details"`
	Instructions       any            `json:"instructions"`
	MaxOutputTokens    any            `json:"max_output_tokens"`
	Model              string         `json:"model"`
	Output             []outputItem   `json:"output"`
	ParallelToolCalls  bool           `json:"parallel_tool_calls"`
	PreviousResponseID any            `json:"previous_response_id"`
	Reasoning          map[string]any `json:"reasoning"`
	Store              bool           `json:"store"`
	Temperature        float64        `json:"temperature"`
	Text               map[string]any `json:"text"`
	ToolChoice         string         `json:"tool_choice"`
	Tools              []any          `json:"tools"`
	TopP               float64        `json:"top_p"`
	Truncation         string         `json:"truncation"`
	Usage              *usage         `json:"usage"`
	User               any            `json:"user"`
	Metadata           map[string]any `json:"metadata"`
}

// responseError is response.error of a failed response; Codex reads its code
// to decide whether to retry. An empty Code is written as null.
type responseError struct {
	Code    string
	Message string
}

// MarshalJSON writes code as null when it is empty, as the real API does
// for a refusal it gives no code.
func (e responseError) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Code    any    `json:"code"`
		Message string `json:"message"`
	}{nullable(e.Code), e.Message})
}

// outputItem is an item of response.output: an assistant message, the
// compaction item that answers a compaction_trigger (see compact.go), a
// function call (see toolcall.go), or the reasoning item that comes first
// when the request asks for reasoning.encrypted_content (see items.go).
type outputItem struct {
	ID      string        `json:"id"`
	Type    string        `json:"type"`
	Status  string        `json:"status"`
	Role    string        `json:"role"`
	Content []contentPart `json:"content"`
	// EncryptedContent is the compaction item's opaque history, or the
	// reasoning item's opaque reasoning ("" while it is in progress): a
	// blob only this account can read back (items.go).
	EncryptedContent string `json:"-"`
	// Summary is the reasoning item's summary parts.
	Summary []summaryPart `json:"-"`
	// CallID, Name and Arguments are the function call's.
	CallID    string `json:"-"`
	Name      string `json:"-"`
	Arguments string `json:"-"`
}

// MarshalJSON writes a compaction item, a reasoning item or a function call
// with only the fields the real one has, and a message with all of its own.
func (o outputItem) MarshalJSON() ([]byte, error) {
	switch o.Type {
	case "reasoning":
		summary := o.Summary
		if summary == nil {
			summary = []summaryPart{}
		}
		return json.Marshal(struct {
			ID               string        `json:"id"`
			Type             string        `json:"type"`
			Summary          []summaryPart `json:"summary"`
			EncryptedContent string        `json:"encrypted_content,omitempty"`
		}{o.ID, o.Type, summary, o.EncryptedContent})
	case "compaction":
		return json.Marshal(struct {
			ID               string `json:"id"`
			Type             string `json:"type"`
			EncryptedContent string `json:"encrypted_content"`
		}{o.ID, o.Type, o.EncryptedContent})
	case "function_call":
		return json.Marshal(struct {
			Type      string `json:"type"`
			ID        string `json:"id"`
			CallID    string `json:"call_id"`
			Name      string `json:"name"`
			Arguments string `json:"arguments"`
			Status    string `json:"status"`
		}{o.Type, o.ID, o.CallID, o.Name, o.Arguments, o.Status})
	}
	type plain outputItem // no MarshalJSON: no recursion
	return json.Marshal(plain(o))
}

// contentPart is one output_text part of a message.
type contentPart struct {
	Type        string `json:"type"`
	Annotations []any  `json:"annotations"`
	Logprobs    []any  `json:"logprobs"`
	Text        string `json:"text"`
}

// summaryPart is one summary_text part of a reasoning item.
type summaryPart struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

// reasoningSummary is what a minted reasoning item's summary says. It names
// no account, so a test that looks for an account's name in a body finds
// only the reply's.
const reasoningSummary = "Thinking it over."

// turn is everything one /responses request produces, computed up front so the
// stream and the JSON reply describe the same response.
type turn struct {
	respID string
	msgID  string
	model  string
	text   string
	usage  usage
	base   response
	// compaction, when set, is the encrypted_content of the one compaction
	// item this turn answers with instead of a message.
	compaction string
	// call, when set, is the function call this turn answers with instead
	// of a message (WithToolCall); msgID is then the item's id.
	call   *toolCall
	callID string
	// warmup marks a WebSocket generate:false turn: no output, zero usage.
	warmup bool
	// reasoningID and reasoningBlob, when set, are the reasoning item this
	// turn answers with first (output_index 0), before its message or
	// function call: minted when the request's include asks for
	// reasoning.encrypted_content.
	reasoningID   string
	reasoningBlob string
	// bareCompletion: response.completed carries no output, as the ChatGPT
	// backend's does (its items arrive only in output_item.done events).
	bareCompletion bool
}

func (s *Server) newTurn(body []byte, f requestFields, h http.Header) *turn {
	t := &turn{
		respID: s.nextID("resp"),
		msgID:  s.nextID("msg"),
		model:  f.model(),
		text:   s.reply,

		bareCompletion: s.bareCompletion,
	}
	output := t.text
	switch {
	case compactionTriggered(f.Input):
		t.msgID = s.nextID("cmp")
		t.compaction = s.mint(kindCompaction, t.msgID)
	case s.answersWithToolCall(f.Input):
		t.call = s.tool
		t.msgID = s.nextID("fc")
		t.callID = s.nextID("call")
		output = t.call.arguments
	}
	if t.compaction == "" && f.wantsReasoning() {
		t.reasoningID = s.nextID("rs")
		t.reasoningBlob = s.mint(kindReasoning, t.reasoningID)
	}
	t.usage = s.account(body, cacheKey(f, h), output, reasoningTokens)
	t.base = s.baseResponse(t.respID, f)
	return t
}

// newWarmupTurn is the turn of a WebSocket frame with generate:false, which
// only opens a response the next frame can continue: it costs nothing and
// leaves the prompt cache alone.
func (s *Server) newWarmupTurn(f requestFields) *turn {
	t := &turn{respID: s.nextID("resp"), model: f.model(), warmup: true}
	t.base = s.baseResponse(t.respID, f)
	return t
}

// baseResponse is the in-progress response object every event of a turn
// starts from.
func (s *Server) baseResponse(id string, f requestFields) response {
	return response{
		ID:          id,
		Object:      "response",
		CreatedAt:   s.now().Unix(),
		Status:      "in_progress",
		Model:       f.model(),
		Output:      []outputItem{},
		Reasoning:   map[string]any{"effort": nil, "summary": nil},
		Store:       f.Store != nil && *f.Store,
		Temperature: 1,
		Text:        map[string]any{"format": map[string]any{"type": "text"}},
		ToolChoice:  "auto",
		Tools:       []any{},
		TopP:        1,
		Truncation:  "disabled",
		Metadata:    map[string]any{},
	}
}

// inProgress is the response as response.created and response.in_progress
// show it: no output, no usage yet.
func (t *turn) inProgress() response { return t.base }

// answerIndex is the output_index of the turn's message, function call or
// compaction item: 1 behind a reasoning item, else 0.
func (t *turn) answerIndex() int {
	if t.reasoningID != "" {
		return 1
	}
	return 0
}

// reasoning is the turn's reasoning item: in progress (no summary, no
// content yet) or done.
func (t *turn) reasoning(done bool) outputItem {
	item := outputItem{ID: t.reasoningID, Type: "reasoning", Summary: []summaryPart{}}
	if done {
		item.Summary = []summaryPart{{Type: "summary_text", Text: reasoningSummary}}
		item.EncryptedContent = t.reasoningBlob
	}
	return item
}

// output is response.output of the finished turn: the reasoning item, if
// any, then the answer.
func (t *turn) output() []outputItem {
	if t.warmup {
		return []outputItem{}
	}
	if t.reasoningID != "" {
		return []outputItem{t.reasoning(true), t.outputDone()}
	}
	return []outputItem{t.outputDone()}
}

// outputDone is the turn's finished answer: its message, function call or
// compaction item.
func (t *turn) outputDone() outputItem {
	if t.compaction != "" {
		return outputItem{ID: t.msgID, Type: "compaction", EncryptedContent: t.compaction}
	}
	if t.call != nil {
		return t.functionCall("completed", t.call.arguments)
	}
	return t.message("completed", []contentPart{textPart(t.text)})
}

// message is the assistant message with the given status and text so far.
func (t *turn) message(status string, parts []contentPart) outputItem {
	return outputItem{ID: t.msgID, Type: "message", Status: status, Role: "assistant", Content: parts}
}

func textPart(text string) contentPart {
	return contentPart{Type: "output_text", Annotations: []any{}, Logprobs: []any{}, Text: text}
}

// completed is the full response of response.completed and of a non-stream
// reply.
func (t *turn) completed() response {
	r := t.base
	r.Status = "completed"
	r.Output = t.output()
	u := t.usage
	r.Usage = &u
	return r
}

// failed is the response of a response.failed event.
func (t *turn) failed(code, message string) response {
	r := t.base
	r.Status = "failed"
	r.Error = &responseError{Code: code, Message: message}
	return r
}

// deltas splits the reply into words, each keeping its trailing space, so the
// deltas concatenate back to exactly the reply.
func deltas(text string) []string {
	var out []string
	for _, w := range strings.SplitAfter(text, " ") {
		if w != "" {
			out = append(out, w)
		}
	}
	return out
}
