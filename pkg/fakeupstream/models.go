package fakeupstream

import (
	"encoding/json"
	"net/http"
)

// model is one entry of GET /models, in the OpenAI API's shape.
type model struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// serveModels lists the configured models, which is also what `proxy accounts
// test` can use as a cheap credential check.
func (s *Server) serveModels(w http.ResponseWriter, r *http.Request, f Fault) {
	if f.FirstEventFailed {
		status, b := f.failedReply()
		s.deliverJSON(w, r, status, b, f)
		return
	}
	created := s.windowStart.Unix()
	list := struct {
		Object string  `json:"object"`
		Data   []model `json:"data"`
	}{Object: "list", Data: make([]model, 0, len(s.models))}
	for _, id := range s.models {
		list.Data = append(list.Data, model{ID: id, Object: "model", Created: created, OwnedBy: "openai"})
	}
	b, _ := json.Marshal(list) // cannot fail: strings and ints only
	s.writeRateLimitHeaders(w.Header())
	w.Header().Set("X-Request-Id", s.nextID("req"))
	s.deliverJSON(w, r, http.StatusOK, b, f)
}
