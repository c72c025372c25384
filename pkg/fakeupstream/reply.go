package fakeupstream

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// deliverAnswer sends the JSON answer of a non-streamed turn: answer, or
// the error status a failure that would come in the stream stands for.
func (s *Server) deliverAnswer(w http.ResponseWriter, r *http.Request, answer any, failed bool, f Fault) {
	if failed {
		status, b := f.failedReply()
		s.deliverJSON(w, r, status, b, f)
		return
	}
	b, _ := json.Marshal(answer) // cannot fail: plain data
	s.deliverJSON(w, r, http.StatusOK, b, f)
}

// deliverJSON sends a JSON reply while honouring the parts of the Fault that
// apply to a non-streamed reply: its headers, a Hang after the headers, and a
// cut halfway through the body.
func (s *Server) deliverJSON(w http.ResponseWriter, r *http.Request, status int, body []byte, f Fault) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	f.applyHeader(h)
	if f.cuts() {
		// A declared length the body never reaches is how a client notices
		// a truncated JSON reply.
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	w.WriteHeader(status)
	if f.Hang != nil && !f.HangBeforeHeaders {
		_ = http.NewResponseController(w).Flush()
		if !f.hang(r.Context(), s.closing, s.hanging) {
			return
		}
	}
	if f.cuts() {
		_, _ = w.Write(body[:len(body)/2])
		cut(w)
		return
	}
	_, _ = w.Write(body)
}
