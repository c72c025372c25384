package fakeupstream

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// chatChunk is one chat.completion.chunk of a stream, or (with Object
// "chat.completion" and Message choices) the whole answer as JSON.
type chatChunk struct {
	ID                string       `json:"id"`
	Object            string       `json:"object"`
	Created           int64        `json:"created"`
	Model             string       `json:"model"`
	SystemFingerprint string       `json:"system_fingerprint"`
	Choices           []chatChoice `json:"choices"`
	Usage             *chatUsage   `json:"usage,omitempty"`
}

// chatChoice is the one choice of a chunk (Delta) or of a completion
// (Message).
type chatChoice struct {
	Index        int         `json:"index"`
	Delta        *chatDelta  `json:"delta,omitempty"`
	Logprobs     any         `json:"logprobs"`
	FinishReason *string     `json:"finish_reason"`
	message      *chatAnswer // a completion's message, written by MarshalJSON
}

// MarshalJSON writes the message of a completion's choice in its place.
func (c chatChoice) MarshalJSON() ([]byte, error) {
	type plain chatChoice // no MarshalJSON: no recursion
	if c.message == nil {
		return json.Marshal(plain(c))
	}
	return json.Marshal(struct {
		Index        int         `json:"index"`
		Message      *chatAnswer `json:"message"`
		Logprobs     any         `json:"logprobs"`
		FinishReason *string     `json:"finish_reason"`
	}{c.Index, c.message, c.Logprobs, c.FinishReason})
}

// chatDelta is what one chunk adds to the answer.
type chatDelta struct {
	Role             string         `json:"role,omitempty"`
	Content          *string        `json:"content,omitempty"`
	ReasoningContent *string        `json:"reasoning_content,omitempty"`
	ToolCalls        []chatCallJSON `json:"tool_calls,omitempty"`
}

// chatAnswer is the assistant message of a non-streamed completion: content
// is null when the answer is tool calls, as the providers send it.
type chatAnswer struct {
	Role             string         `json:"role"`
	Content          *string        `json:"content"`
	ReasoningContent *string        `json:"reasoning_content,omitempty"`
	ToolCalls        []chatCallJSON `json:"tool_calls,omitempty"`
}

// chatCallJSON is a tool call, whole or (with Index) a streamed piece of one.
type chatCallJSON struct {
	Index    *int         `json:"index,omitempty"`
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function chatFunction `json:"function"`
}

type chatFunction struct {
	Name      string `json:"name,omitempty"`
	Arguments string `json:"arguments"`
}

// chunkKind says what a chunk of the stream carries, for the faults that
// cut or end the stream at a kind of chunk.
type chunkKind int

const (
	chunkRole chunkKind = iota
	chunkReasoning
	chunkText
	chunkCallOpen
	chunkArguments
	chunkFinish
	chunkUsage
	chunkError
	chunkDone
)

// chatPiece is one SSE event of a chat stream: its data and what it carries.
type chatPiece struct {
	kind chunkKind
	data []byte
}

// argumentPiece is how many runes of a call's arguments one chunk carries:
// small, so a call always spans several chunks as it does upstream.
const argumentPiece = 6

// chunk is a chunk of this turn with one choice whose delta is d.
func (t *chatTurn) chunk(d chatDelta, finish *string) []byte {
	b, _ := json.Marshal(chatChunk{ // cannot fail: plain data
		ID: t.id, Object: "chat.completion.chunk", Created: t.created, Model: t.model,
		SystemFingerprint: "fp_fake",
		Choices:           []chatChoice{{Delta: &d, FinishReason: finish}},
	})
	return b
}

// pieces is the full stream of a successful turn: the role chunk, the
// reasoning (WithThinking) and then the text word by word, or the tool
// calls split across chunks, the finish chunk, the usage chunk when the
// request asked for it, and [DONE].
func (t *chatTurn) pieces() []chatPiece {
	empty := ""
	out := []chatPiece{{chunkRole, t.chunk(chatDelta{Role: "assistant", Content: &empty}, nil)}}
	for _, d := range deltas(t.reasoning) {
		out = append(out, chatPiece{chunkReasoning, t.chunk(chatDelta{ReasoningContent: &d}, nil)})
	}
	for _, d := range deltas(t.text) {
		out = append(out, chatPiece{chunkText, t.chunk(chatDelta{Content: &d}, nil)})
	}
	out = append(out, t.callPieces()...)
	finish := t.finishReason()
	out = append(out, chatPiece{chunkFinish, t.chunk(chatDelta{}, &finish)})
	if t.req.includeUsage {
		u := t.usage
		b, _ := json.Marshal(chatChunk{ // cannot fail: plain data
			ID: t.id, Object: "chat.completion.chunk", Created: t.created, Model: t.model,
			SystemFingerprint: "fp_fake", Choices: []chatChoice{}, Usage: &u,
		})
		out = append(out, chatPiece{chunkUsage, b})
	}
	return append(out, chatPiece{chunkDone, []byte("[DONE]")})
}

// callPieces stream the turn's calls: each call opens with its index, id,
// type, name and "" arguments, then its arguments come in small pieces that
// carry only the index. With several calls they interleave: every opening,
// then a piece of each call in turn.
func (t *chatTurn) callPieces() []chatPiece {
	var out []chatPiece
	split := make([][]string, len(t.calls))
	rounds := 0
	for i, c := range t.calls {
		idx := i
		out = append(out, chatPiece{chunkCallOpen, t.chunk(chatDelta{ToolCalls: []chatCallJSON{{
			Index: &idx, ID: c.id, Type: "function", Function: chatFunction{Name: c.name},
		}}}, nil)})
		split[i] = runePieces(c.arguments, argumentPiece)
		rounds = max(rounds, len(split[i]))
	}
	for r := range rounds {
		for i := range t.calls {
			if r >= len(split[i]) {
				continue
			}
			idx := i
			out = append(out, chatPiece{chunkArguments, t.chunk(chatDelta{ToolCalls: []chatCallJSON{{
				Index: &idx, Function: chatFunction{Arguments: split[i][r]},
			}}}, nil)})
		}
	}
	return out
}

// runePieces splits s into pieces of at most n runes, never inside a rune.
func runePieces(s string, n int) []string {
	var out []string
	r := []rune(s)
	for len(r) > 0 {
		k := min(n, len(r))
		out = append(out, string(r[:k]))
		r = r[k:]
	}
	return out
}

// completion is the answer as one chat.completion JSON object.
func (t *chatTurn) completion() chatChunk {
	msg := &chatAnswer{Role: "assistant"}
	if len(t.calls) == 0 {
		msg.Content = &t.text
	}
	if t.reasoning != "" {
		msg.ReasoningContent = &t.reasoning
	}
	for _, c := range t.calls {
		msg.ToolCalls = append(msg.ToolCalls, chatCallJSON{ID: c.id, Type: "function", Function: chatFunction{Name: c.name, Arguments: c.arguments}})
	}
	finish := t.finishReason()
	u := t.usage
	return chatChunk{
		ID: t.id, Object: "chat.completion", Created: t.created, Model: t.model,
		SystemFingerprint: "fp_fake",
		Choices:           []chatChoice{{message: msg, FinishReason: &finish}},
		Usage:             &u,
	}
}

// streamChat writes the chunks of one turn, flushing after each, and applies
// the stream faults (chatfaults.go says which apply).
func (s *Server) streamChat(w http.ResponseWriter, r *http.Request, t *chatTurn, f Fault) {
	pieces, limit := t.plan(f)
	rc, ok := openStream(w, f)
	if !ok {
		return
	}
	last := min(limit, len(pieces)) - 1
	sent := s.emitN(r.Context(), limit, f, func(i int) error {
		end := "\n\n"
		if f.UnterminatedLast && i == last {
			end = "\n"
		}
		if _, err := fmt.Fprintf(w, "data: %s%s", pieces[i].data, end); err != nil {
			return err // the client went away
		}
		return rc.Flush()
	})
	switch {
	case sent && f.Trickle > 0:
		s.trickle(r.Context(), w, rc, f.Trickle, `data: {"id":"`+t.id+`","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"`)
	case sent && limit < len(pieces) && !f.UnterminatedLast:
		cut(w)
	}
}
