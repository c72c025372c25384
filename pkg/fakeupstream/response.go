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
// to decide whether to retry.
type responseError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// outputItem is an item of response.output: an assistant message, or the
// compaction item that answers a compaction_trigger (see compact.go).
type outputItem struct {
	ID      string        `json:"id"`
	Type    string        `json:"type"`
	Status  string        `json:"status"`
	Role    string        `json:"role"`
	Content []contentPart `json:"content"`
	// EncryptedContent is the compaction item's opaque history.
	EncryptedContent string `json:"-"`
}

// MarshalJSON writes a compaction item with only the fields the real one
// has, and a message with all of its own.
func (o outputItem) MarshalJSON() ([]byte, error) {
	if o.Type == "compaction" {
		return json.Marshal(struct {
			ID               string `json:"id"`
			Type             string `json:"type"`
			EncryptedContent string `json:"encrypted_content"`
		}{o.ID, o.Type, o.EncryptedContent})
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
}

func (s *Server) newTurn(body []byte, f requestFields, h http.Header) *turn {
	t := &turn{
		respID: s.nextID("resp"),
		msgID:  s.nextID("msg"),
		model:  f.model(),
		text:   s.reply,
	}
	if compactionTriggered(f.Input) {
		t.compaction = s.compactionContent()
		t.msgID = s.nextID("cmp")
	}
	t.usage = s.account(body, f, h, t.text)
	t.base = response{
		ID:          t.respID,
		Object:      "response",
		CreatedAt:   s.now().Unix(),
		Status:      "in_progress",
		Model:       t.model,
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
	return t
}

// inProgress is the response as response.created and response.in_progress
// show it: no output, no usage yet.
func (t *turn) inProgress() response { return t.base }

// outputDone is the turn's one finished output item.
func (t *turn) outputDone() outputItem {
	if t.compaction != "" {
		return outputItem{ID: t.msgID, Type: "compaction", EncryptedContent: t.compaction}
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
	r.Output = []outputItem{t.outputDone()}
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
