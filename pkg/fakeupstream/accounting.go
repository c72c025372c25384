package fakeupstream

import (
	"net/http"
	"strings"
)

// reasoningTokens is what every response reports as reasoning: a small constant
// is enough for tests to check the field reaches the client. Like the real
// APIs, output_tokens (completion_tokens) counts it: reasoning is output the
// client does not see, billed as output.
const reasoningTokens = 4

// promptCache simulates the upstream's prompt cache: it remembers, per
// conversation, how many input tokens the previous request of that
// conversation had. A conversation kept on one account gets cache hits on its
// next turn; one moved to another account starts cold, which is exactly what
// stickiness is meant to avoid.
type promptCache map[string]int

// usage is the usage object of a response, in the Responses API's shape.
type usage struct {
	InputTokens         int                 `json:"input_tokens"`
	InputTokensDetails  inputTokensDetails  `json:"input_tokens_details"`
	OutputTokens        int                 `json:"output_tokens"`
	OutputTokensDetails outputTokensDetails `json:"output_tokens_details"`
	TotalTokens         int                 `json:"total_tokens"`
}

// inputTokensDetails holds cached_tokens, the part of the input served from
// the prompt cache.
type inputTokensDetails struct {
	CachedTokens int `json:"cached_tokens"`
}

// outputTokensDetails holds reasoning_tokens, which Codex shows and the proxy
// records.
type outputTokensDetails struct {
	ReasoningTokens int `json:"reasoning_tokens"`
}

// cacheKey is the conversation a request belongs to: prompt_cache_key, as the
// real upstream keys its cache, else the session header Codex sends.
func cacheKey(f requestFields, h http.Header) string {
	if f.PromptCacheKey != "" {
		return "pck:" + f.PromptCacheKey
	}
	for _, name := range []string{"Session-Id", "Session_id"} {
		if v := h.Get(name); v != "" {
			return "sid:" + v
		}
	}
	// Go canonicalises "session_id" to "Session_id" only when parsing the
	// wire; headers built in-process may keep other spellings.
	for name, vs := range h {
		if strings.EqualFold(name, "session_id") && len(vs) > 0 && vs[0] != "" {
			return "sid:" + vs[0]
		}
	}
	return ""
}

// account computes the usage of one request of the conversation key ("" for
// none) and updates the prompt cache. input_tokens is about a token per four
// bytes of body, so bigger histories cost more, as they do upstream.
// output_tokens is the reply's words plus reasoning, the reasoning tokens the
// answer spent, so that output is never less than reasoning.
func (s *Server) account(body []byte, key string, reply string, reasoning int) usage {
	input := max(1, len(body)/4)
	output := max(1, len(strings.Fields(reply))) + reasoning
	cached := 0
	if key != "" {
		s.mu.Lock()
		cached = min(s.cache[key], input)
		s.cache[key] = input
		s.mu.Unlock()
	}
	return usage{
		InputTokens:         input,
		InputTokensDetails:  inputTokensDetails{CachedTokens: cached},
		OutputTokens:        output,
		OutputTokensDetails: outputTokensDetails{ReasoningTokens: reasoning},
		TotalTokens:         input + output,
	}
}
