package fakeupstream

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
)

// This file is the chat-only upstream: a server built WithChatOnly stands for
// an account whose provider speaks Chat Completions and nothing else
// (DeepSeek, Kimi, GLM, Qwen, vLLM, Ollama). Its rules are in chatrules.go,
// its answers in chatstream.go, its faults in chatfaults.go.

// chatConfig is how the chat route behaves.
type chatConfig struct {
	only     bool // WithChatOnly
	thinking bool // WithThinking
	parallel int  // WithParallelToolCalls: calls per tool turn, 0 meaning 1
}

// WithChatOnly makes the server a chat-only provider: it serves POST
// {any base}/chat/completions and GET {base}/models (the OpenAI list), and
// answers every other path, /responses and /responses/compact included,
// and any WebSocket upgrade (not counted by RefusedUpgrades, which counts
// 426s), with the 404 {"detail":"Not Found"} of vLLM's (FastAPI's) router. A request's faults, credentials (WithAPIKey) and
// prompt cache work as on /responses; WithReply and WithToolCall shape the
// answer.
func WithChatOnly() Option {
	return func(s *Server) { s.chat.only = true }
}

// WithThinking makes the chat route play DeepSeek's thinking mode: every
// answer streams reasoning_content before its content or tool calls and
// reports completion_tokens_details.reasoning_tokens, and a request whose
// assistant message with tool_calls after the last user message does not
// carry its reasoning_content back is refused 400, as DeepSeek refuses it.
func WithThinking() Option {
	return func(s *Server) { s.chat.thinking = true }
}

// WithParallelToolCalls makes a chat tool turn (WithToolCall) answer with n
// calls of the tool, each with its own id, streamed interleaved: every
// call's opening chunk, then their argument pieces in turn, as some
// providers stream parallel calls.
func WithParallelToolCalls(n int) Option {
	return func(s *Server) { s.chat.parallel = max(n, 1) }
}

// writeChatNotFound is a chat-only provider's answer to a path it does not
// serve.
func writeChatNotFound(w http.ResponseWriter) {
	writeJSONBytes(w, http.StatusNotFound, []byte(`{"detail":"Not Found"}`))
}

// chatTurn is everything one chat request produces, computed up front so the
// stream and the JSON reply describe the same answer.
type chatTurn struct {
	id        string // chatcmpl-...
	created   int64
	model     string
	text      string     // the content, "" when the turn answers with calls
	reasoning string     // reasoning_content, "" without WithThinking
	calls     []chatCall // the tool calls, nil for a text answer
	usage     chatUsage
	req       chatRequest
}

// chatCall is one tool call of a chat answer.
type chatCall struct {
	id, name, arguments string
}

// chatUsage is the usage object of a chat answer.
type chatUsage struct {
	PromptTokens            int                  `json:"prompt_tokens"`
	CompletionTokens        int                  `json:"completion_tokens"`
	TotalTokens             int                  `json:"total_tokens"`
	PromptTokensDetails     inputTokensDetails   `json:"prompt_tokens_details"`
	CompletionTokensDetails *outputTokensDetails `json:"completion_tokens_details,omitempty"`
}

// serveChat answers POST .../chat/completions on a chat-only server.
func (s *Server) serveChat(w http.ResponseWriter, r *http.Request, body []byte, f Fault) {
	req, berr := parseChat(body, s.chat.thinking)
	if berr != nil {
		writeError(w, berr.status, berr.apiError)
		return
	}
	t := s.newChatTurn(body, req, r.Header)
	h := w.Header()
	f.echo(&t.text, r.Header, h)
	h.Set("X-Request-Id", s.nextID("req"))
	if !req.stream {
		s.deliverAnswer(w, r, t.completion(), f.FirstEventFailed || f.ErrorChunkAfter > 0, f)
		return
	}
	s.streamChat(w, r, t, f) // chatstream.go
}

// newChatTurn decides the answer to req and accounts for it.
func (s *Server) newChatTurn(body []byte, req chatRequest, h http.Header) *chatTurn {
	t := &chatTurn{
		id:      strings.Replace(s.nextID("chatcmpl"), "_", "-", 1),
		created: s.now().Unix(),
		model:   req.model,
		text:    s.reply,
		req:     req,
	}
	if t.model == "" {
		t.model = requestFields{}.model()
	}
	if s.chat.thinking {
		t.reasoning = reasoningSummary
	}
	output := t.text
	if s.tool != nil && (len(req.messages) == 0 || req.messages[len(req.messages)-1].role != "tool") {
		t.text = ""
		output = ""
		for range max(s.chat.parallel, 1) {
			t.calls = append(t.calls, chatCall{id: s.nextID("call"), name: s.tool.name, arguments: s.tool.arguments})
			output += s.tool.arguments + " "
		}
	}
	key := cacheKey(requestFields{PromptCacheKey: req.cacheKey}, h)
	if key == "" && req.prefix != nil {
		sum := sha256.Sum256(req.prefix)
		key = "prefix:" + hex.EncodeToString(sum[:])
	}
	// Only a thinking model reasons; completion_tokens counts its reasoning,
	// as the providers bill it.
	reasoning := 0
	if s.chat.thinking {
		reasoning = reasoningTokens
	}
	u := s.account(body, key, output, reasoning)
	t.usage = chatUsage{
		PromptTokens:        u.InputTokens,
		CompletionTokens:    u.OutputTokens,
		TotalTokens:         u.TotalTokens,
		PromptTokensDetails: u.InputTokensDetails,
	}
	if s.chat.thinking {
		t.usage.CompletionTokensDetails = &u.OutputTokensDetails
	}
	return t
}

// finishReason is how the answer ends: "tool_calls" or "stop".
func (t *chatTurn) finishReason() string {
	if len(t.calls) > 0 {
		return "tool_calls"
	}
	return "stop"
}
