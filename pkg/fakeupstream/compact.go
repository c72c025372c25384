package fakeupstream

import (
	"encoding/json"
	"net/http"
	"strings"
)

// serveCompact answers POST /responses/compact the way the real endpoint does:
// a JSON object whose output replaces the history. It keeps the user messages
// and adds a summary message and an opaque compaction item, which Codex sends
// back on the next turn and which only this account can read (items.go); its
// own input is checked as /responses input is (refuse.go).
func (s *Server) serveCompact(w http.ResponseWriter, r *http.Request, body []byte, f Fault) {
	req, berr := parseRequest(body)
	if berr != nil {
		writeError(w, berr.status, berr.apiError)
		return
	}
	if ref := s.checkItems(req); ref != nil {
		s.refuse(w, ref, req, false) // a JSON endpoint: RefuseInStream answers 400 here
		return
	}
	if f.FirstEventFailed {
		status, b := f.failedReply()
		s.deliverJSON(w, r, status, b, f)
		return
	}
	output := keptUserMessages(req.Input)
	output = append(output,
		map[string]any{
			"type": "message",
			"role": "user",
			"content": []any{map[string]any{
				"type": "input_text",
				"text": "Summary of the conversation so far, compacted by " + s.name + ".",
			}},
		},
		s.newCompactionItem(),
	)
	input := max(1, len(body)/4)
	reply := map[string]any{
		"id":         s.nextID("resp"),
		"object":     "response.compaction",
		"created_at": s.now().Unix(),
		"output":     output,
		"usage": usage{
			InputTokens:         input,
			OutputTokens:        1 + reasoningTokens, // the reasoning counts as output
			OutputTokensDetails: outputTokensDetails{ReasoningTokens: reasoningTokens},
			TotalTokens:         input + 1 + reasoningTokens,
		},
	}
	b, err := json.Marshal(reply)
	if err != nil {
		writeError(w, http.StatusInternalServerError, apiError{Message: "fakeupstream: " + err.Error(), Type: "server_error"})
		return
	}
	s.writeRateLimitHeaders(w.Header())
	w.Header().Set("X-Request-Id", s.nextID("req"))
	s.deliverJSON(w, r, http.StatusOK, b, f)
}

// keptUserMessages returns the user messages of a compact request's input, as
// the real endpoint keeps them verbatim. Anything it cannot read is dropped.
func keptUserMessages(input json.RawMessage) []any {
	var items []json.RawMessage
	if json.Unmarshal(input, &items) != nil {
		return []any{}
	}
	kept := []any{}
	for _, raw := range items {
		var head struct {
			Type string `json:"type"`
			Role string `json:"role"`
		}
		if json.Unmarshal(raw, &head) != nil {
			continue
		}
		if (head.Type == "message" || head.Type == "") && strings.EqualFold(head.Role, "user") {
			kept = append(kept, raw)
		}
	}
	return kept
}

// newCompactionItem is a new compaction item, {"id","type","encrypted_content"},
// its content a blob only this account's organisation can read (items.go);
// MintedBy tells a test which account compacted a conversation.
func (s *Server) newCompactionItem() outputItem {
	id := s.nextID("cmp")
	return outputItem{ID: id, Type: "compaction", EncryptedContent: s.mint(kindCompaction, id)}
}

// compactionTriggered reports whether a /responses input ends with a
// {"type":"compaction_trigger"} item: Codex's server-side compaction
// ("remote compaction v2", used when the provider is named "OpenAI"), which
// the real backend answers with exactly one compaction output item.
func compactionTriggered(input json.RawMessage) bool {
	var items []json.RawMessage
	if json.Unmarshal(input, &items) != nil || len(items) == 0 {
		return false
	}
	var last struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(items[len(items)-1], &last) == nil && last.Type == "compaction_trigger"
}
