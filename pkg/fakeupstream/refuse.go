package fakeupstream

import (
	"bytes"
	"cmp"
	"crypto/hmac"
	"encoding/json"
	"fmt"
	"net/http"
)

// This file holds the refusal of account-bound items this account cannot
// read: another organisation's reasoning or compaction item, or a reasoning
// item replayed without its content under store:false (see items.go for
// the blobs).

// ForeignItemRule is what a Server does with an input item whose
// encrypted_content it cannot read (see WithForeignItems).
type ForeignItemRule int

const (
	// RefuseWithCode answers HTTP 400 {"error":{"message":...,"type":
	// "invalid_request_error","param":null,"code":"invalid_encrypted_content"}},
	// the commonest shape in the wild. It is the default.
	RefuseWithCode ForeignItemRule = iota
	// RefuseNullCode answers the same 400 with "code":null: a client must
	// know the refusal by its message.
	RefuseNullCode
	// RefuseInStream answers a streaming request with HTTP 200 and an event
	// stream whose first and only event is response.failed, its
	// response.error carrying code null and the refusal's message. On a
	// JSON reply (stream:false, /responses/compact) it answers as
	// RefuseNullCode does.
	RefuseInStream
	// AcceptForeignItems is the old, permissive fake: every item is
	// accepted, whoever minted it. For a test that needs it, by name.
	AcceptForeignItems
)

// WithForeignItems sets how the server refuses an input item it cannot
// read; the default is RefuseWithCode, AcceptForeignItems turns the check
// off.
//
// Every input item of type reasoning, compaction or compaction_summary is
// checked, on POST /responses, POST /responses/compact and WebSocket
// frames:
//   - an encrypted_content that this server's organisation did not mint (its
//     HMAC does not verify, or it does not decode), or that was minted for
//     another item id than the item's own id, or for another kind of item, is
//     refused with "The encrypted content for item <id> could not be
//     verified. Reason: Encrypted content could not be decrypted or parsed."
//     (<id> is "unknown" when the item has none);
//   - a reasoning item with an id and no encrypted_content (absent or null)
//     in a request with store:false (or no store, on a WithChatGPT server,
//     whose default is false) is refused with "Item with id '<id>' not
//     found. Items are not persisted when `store` is set to false. Try again
//     with `store` set to true, or remove this item from your input.".
//
// The check comes after the credentials and after the request has taken its
// scripted Fault: a Status fault (a 429, say) answers first, as a real
// upstream checks quota before it reads the input; otherwise the refusal
// replaces the rest of that Fault and takes no other. Over a WebSocket,
// RefuseWithCode and RefuseNullCode become the in-band error event that
// stands for an HTTP status ({"type":"error","status":400,"error":{...}}),
// and RefuseInStream a response.failed event; the connection stays open.
// Each refusal counts in Refusals, and the request stays in Requests.
func WithForeignItems(rule ForeignItemRule) Option {
	return func(s *Server) { s.foreign = rule }
}

// Refusals returns how many requests (HTTP requests and WebSocket frames)
// were refused for an input item the server could not read.
func (s *Server) Refusals() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.refusals
}

// reads reports whether this server can read blob as the content of an
// item of the given kind and id ("" when the item has none).
func (s *Server) reads(blob, kind, id string) bool {
	p, head, sig, ok := parseBlob(blob)
	if !ok || !hmac.Equal(sig, s.mac(head)) {
		return false
	}
	return p.Kind == kind && (id == "" || p.ID == id)
}

// boundItem is the part of an input item the check reads.
type boundItem struct {
	Type             string  `json:"type"`
	ID               string  `json:"id"`
	EncryptedContent *string `json:"encrypted_content"`
}

// refusal is why a request's input cannot be read by this account.
type refusal struct {
	message string
}

// checkItems returns the refusal of the first input item this server
// cannot read, or nil when it reads them all (or the rule is
// AcceptForeignItems).
func (s *Server) checkItems(f requestFields) *refusal {
	if s.foreign == AcceptForeignItems {
		return nil
	}
	var items []json.RawMessage
	if json.Unmarshal(f.Input, &items) != nil {
		return nil // a bare string prompt holds no items
	}
	storeFalse := s.auth.mode == authChatGPT // the ChatGPT backend does not store
	if f.Store != nil {
		storeFalse = !*f.Store
	}
	for _, raw := range items {
		if !bytes.Contains(raw, []byte(`"reasoning"`)) && !bytes.Contains(raw, []byte(`"compaction`)) {
			continue // cheap: most items of a long history are messages
		}
		var it boundItem
		if json.Unmarshal(raw, &it) != nil {
			continue
		}
		var kind string
		switch it.Type {
		case "reasoning":
			kind = kindReasoning
		case "compaction", "compaction_summary":
			kind = kindCompaction
		default:
			continue
		}
		if it.EncryptedContent != nil {
			if !s.reads(*it.EncryptedContent, kind, it.ID) {
				return &refusal{message: fmt.Sprintf("The encrypted content for item %s could not be verified. Reason: Encrypted content could not be decrypted or parsed.", cmp.Or(it.ID, "unknown"))}
			}
			continue
		}
		if kind == kindReasoning && it.ID != "" && storeFalse {
			return &refusal{message: fmt.Sprintf("Item with id '%s' not found. Items are not persisted when `store` is set to false. Try again with `store` set to true, or remove this item from your input.", it.ID)}
		}
	}
	return nil
}

// refusalError is the refusal as an error object, in the rule's shape.
func (s *Server) refusalError(ref *refusal) apiError {
	e := apiError{Message: ref.message, Type: "invalid_request_error"}
	if s.foreign == RefuseWithCode {
		e.Code = "invalid_encrypted_content"
	}
	return e
}

// countRefusal records one refusal.
func (s *Server) countRefusal() {
	s.mu.Lock()
	s.refusals++
	s.mu.Unlock()
}

// refuse answers an HTTP request whose input holds an item this account
// cannot read, in the rule's shape; stream says whether the request asked
// for an event stream.
func (s *Server) refuse(w http.ResponseWriter, ref *refusal, req requestFields, stream bool) {
	s.countRefusal()
	h := w.Header()
	s.writeRateLimitHeaders(h)
	h.Set("X-Request-Id", s.nextID("req"))
	if s.foreign != RefuseInStream || !stream {
		writeError(w, http.StatusBadRequest, s.refusalError(ref))
		return
	}
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	_, data := s.refusalEvent(ref, req)
	_, _ = fmt.Fprintf(w, "event: response.failed\ndata: %s\n\n", data)
}

// refusalEvent is the response.failed event of RefuseInStream: the first
// and only event of its stream.
func (s *Server) refusalEvent(ref *refusal, req requestFields) (event, []byte) {
	failed := s.baseResponse(s.nextID("resp"), req)
	failed.Status = "failed"
	failed.Error = &responseError{Message: ref.message} // code null
	ev := event{Type: "response.failed", Response: &failed}
	data, _ := json.Marshal(ev) // cannot fail: plain data
	return ev, data
}

// wsRefusal is a WebSocket frame's refusal, in the rule's shape.
func (s *Server) wsRefusal(ref *refusal, req requestFields) []byte {
	s.countRefusal()
	if s.foreign == RefuseInStream {
		_, data := s.refusalEvent(ref, req)
		return data
	}
	return wsErrorEvent(http.StatusBadRequest, s.refusalError(ref), nil)
}
