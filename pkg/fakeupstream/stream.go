package fakeupstream

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// event is one SSE event of a Responses stream. The fields follow the order the
// real API writes them in (type first), and are omitted where that event type
// has none.
type event struct {
	Type           string      `json:"type"`
	SequenceNumber int         `json:"sequence_number"`
	Response       *response   `json:"response,omitempty"`
	ItemID         string      `json:"item_id,omitempty"`
	OutputIndex    *int        `json:"output_index,omitempty"`
	ContentIndex   *int        `json:"content_index,omitempty"`
	SummaryIndex   *int        `json:"summary_index,omitempty"` // reasoning summary events
	Item           *outputItem `json:"item,omitempty"`
	Part           any         `json:"part,omitempty"` // a contentPart, or a reasoning item's summaryPart
	Delta          *string     `json:"delta,omitempty"`
	Text           *string     `json:"text,omitempty"`
	Name           *string     `json:"name,omitempty"`      // function_call_arguments.done
	Arguments      *string     `json:"arguments,omitempty"` // function_call_arguments.done
	Logprobs       *[]any      `json:"logprobs,omitempty"`
	// Code, Message and Param are the flat error event's; Error is the
	// nested one's error object.
	Code    *string          `json:"code,omitempty"`
	Message *string          `json:"message,omitempty"`
	Param   *json.RawMessage `json:"param,omitempty"`
	Error   map[string]any   `json:"error,omitempty"`
}

// serveResponses answers POST /responses: a stream of events when the request
// asks for stream:true, else the response object as JSON.
func (s *Server) serveResponses(w http.ResponseWriter, r *http.Request, body []byte, f Fault) {
	req, berr := parseRequest(body)
	if berr != nil {
		writeError(w, berr.status, berr.apiError)
		return
	}
	if s.auth.mode == authChatGPT {
		// The ChatGPT backend refuses these; a proxy that forgets to adapt
		// the body for a ChatGPT account should fail here as it would there.
		if !req.Stream {
			writeError(w, http.StatusBadRequest, apiError{Message: "Stream must be set to true", Type: "invalid_request_error", Param: "stream"})
			return
		}
		if req.Store != nil && *req.Store {
			writeError(w, http.StatusBadRequest, apiError{Message: "Store must be set to false", Type: "invalid_request_error", Param: "store"})
			return
		}
		if name := unsupportedParameter(body); name != "" {
			writeUnsupportedParameter(w, name) // chatgptparams.go
			return
		}
	}
	if ref := s.checkItems(req); ref != nil {
		s.refuse(w, ref, req, req.Stream) // refuse.go
		return
	}

	t := s.newTurn(body, req, r.Header)
	h := w.Header()
	f.echo(&t.text, r.Header, h)
	s.writeTurnState(h, r.Header)
	s.writeRateLimitHeaders(h)
	h.Set("X-Request-Id", s.nextID("req"))
	h.Set("Openai-Model", t.model)

	if !req.Stream {
		s.deliverAnswer(w, r, t.completed(), f.FirstEventFailed, f)
		return
	}
	s.stream(w, r, t, f)
}

// stream writes the events of one turn, flushing after each so a client sees
// every event as soon as it is produced, and applies the stream faults.
func (s *Server) stream(w http.ResponseWriter, r *http.Request, t *turn, f Fault) {
	events, limit := t.plan(f)
	rc, ok := openStream(w, f)
	if !ok {
		return
	}

	last := min(limit, len(events)) - 1 // the index of the last event sent
	sent := s.emit(r.Context(), events, limit, f, func(e event, data []byte) error {
		end := "\n"
		if !f.UnterminatedLast || e.SequenceNumber != last {
			end = "\n\n"
		}
		if _, err := fmt.Fprintf(w, "event: %s\ndata: %s%s", e.Type, data, end); err != nil {
			return err // the client went away
		}
		return rc.Flush()
	})
	switch {
	case sent && f.Trickle > 0:
		s.trickle(r.Context(), w, rc, f.Trickle, `event: response.output_text.delta`+"\n"+`data: {"type":"response.output_text.delta","delta":"`)
	case sent && limit < len(events) && !f.UnterminatedLast:
		cut(w)
	}
}

// openStream sends the 200 and headers of an SSE stream, the fault's
// included, and flushes them; false when the client is gone.
func openStream(w http.ResponseWriter, f Fault) (*http.ResponseController, bool) {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	f.applyHeader(h)
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	return rc, rc.Flush() == nil
}

// trickle starts an event with head and sends a byte of it every interval,
// never ending it, until the client goes away or the Server closes.
func (s *Server) trickle(ctx context.Context, w http.ResponseWriter, rc *http.ResponseController, interval time.Duration, head string) {
	if _, err := io.WriteString(w, head); err != nil {
		return
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if rc.Flush() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-s.closing:
			return
		case <-tick.C:
		}
		if _, err := io.WriteString(w, "a"); err != nil {
			return
		}
	}
}

// plan is what a turn sends under f, whatever the transport: its events and
// how many of them go out before a CutAfter or CutBeforeTextDelta drops the
// connection (limit == len(events) when nothing is cut).
func (t *turn) plan(f Fault) (events []event, limit int) {
	if f.FirstEventFailed {
		events = t.failure(f)
	} else {
		events = t.events()
	}
	if limit, ok := f.cutLimit(len(events)); ok {
		return events, limit
	}
	if f.CutBeforeTextDelta > 0 {
		return events, min(textDeltaIndex(events, f.CutBeforeTextDelta), len(events)-1)
	}
	return events, len(events)
}

// cutLimit is how many of a stream's n events go out before a Trickle or a
// CutAfter stops it, whatever the wire format; ok is false when neither
// applies.
func (f Fault) cutLimit(n int) (limit int, ok bool) {
	switch {
	case f.Trickle > 0:
		return min(max(f.TrickleAfter, 0), n-1), true
	case f.CutAfter < 0:
		return 0, true
	case f.CutAfter > 0:
		return min(f.CutAfter, n-1), true
	}
	return n, false
}

// textDeltaIndex is the index in events of the n-th (from 1)
// response.output_text.delta, len(events) when there are fewer.
func textDeltaIndex(events []event, n int) int {
	for i, e := range events {
		if e.Type == "response.output_text.delta" {
			n--
			if n == 0 {
				return i
			}
		}
	}
	return len(events)
}

// emit numbers and sends the first limit events, blocking on the fault's Hang
// after HangAfter of them. It reports false when the client went away or the
// hang was abandoned, so the caller stops there.
func (s *Server) emit(ctx context.Context, events []event, limit int, f Fault, send func(e event, data []byte) error) bool {
	return s.emitN(ctx, limit, f, func(i int) error {
		e := events[i]
		e.SequenceNumber = i
		data, _ := json.Marshal(e) // cannot fail: plain data
		return send(e, data)
	})
}

// emitN calls send for 0..limit-1, blocking on the fault's Hang before the
// HangAfter-th call, whatever the wire format of what is sent (Responses
// events, chat chunks).
func (s *Server) emitN(ctx context.Context, limit int, f Fault, send func(i int) error) bool {
	for i := 0; i <= limit; i++ {
		if f.Hang != nil && !f.HangBeforeHeaders && i == f.HangAfter {
			if !f.hang(ctx, s.closing, s.hanging) {
				return false
			}
		}
		if i == limit {
			break
		}
		if send(i) != nil {
			return false
		}
	}
	return true
}

// failure is the event sequence of a turn that fails before any output:
// the failure event, after the opening events if the fault says so.
func (t *turn) failure(f Fault) []event {
	var events []event
	if f.FailAfterOpening {
		started := t.inProgress()
		events = append(events,
			event{Type: "response.created", Response: &started},
			event{Type: "response.in_progress", Response: &started})
	}
	var ev event
	switch f.FailEvent {
	case FailErrorEvent:
		code, message := f.failCode(), f.failMessage()
		null := json.RawMessage("null")
		ev = event{Type: "error", Message: &message, Param: &null}
		if code != "" {
			ev.Code = &code
		}
	case FailNestedErrorEvent:
		ev = event{Type: "error", Error: f.errorObject()}
	default:
		failed := t.failed(cmp.Or(f.failCode(), f.FailType), f.failMessage())
		ev = event{Type: "response.failed", Response: &failed}
	}
	return append(events, ev)
}

// events is the full event sequence of a successful turn: the opening, the
// reasoning item when the request asked for one (reasoningEvents), then one
// assistant message whose text arrives word by word (or the one item of a
// compaction or tool-call turn), then response.completed. A warmup has no
// item at all.
func (t *turn) events() []event {
	started := t.inProgress()
	completed := t.completed()
	if t.bareCompletion {
		completed.Output = []outputItem{}
	}
	if t.warmup {
		return []event{
			{Type: "response.created", Response: &started},
			{Type: "response.completed", Response: &completed},
		}
	}
	events := []event{
		{Type: "response.created", Response: &started},
		{Type: "response.in_progress", Response: &started},
	}
	events = append(events, t.reasoningEvents()...)
	switch {
	case t.compaction != "":
		events = append(events, t.compactionEvents()...)
	case t.call != nil:
		events = append(events, t.callEvents()...) // toolcall.go
	default:
		events = append(events, t.messageEvents()...)
	}
	return append(events, event{Type: "response.completed", Response: &completed})
}

// reasoningEvents stream the turn's reasoning item as the real API does:
// the item opens with an empty summary, its one summary part opens, the
// summary's text arrives word by word and closes, the part closes, and the
// item closes with its summary and encrypted_content. None when the turn
// has no reasoning item.
func (t *turn) reasoningEvents() []event {
	if t.reasoningID == "" {
		return nil
	}
	zero := 0
	added := t.reasoning(false)
	done := t.reasoning(true)
	text := reasoningSummary
	events := []event{
		{Type: "response.output_item.added", OutputIndex: &zero, Item: &added},
		{Type: "response.reasoning_summary_part.added", ItemID: t.reasoningID, OutputIndex: &zero, SummaryIndex: &zero, Part: summaryPart{Type: "summary_text", Text: ""}},
	}
	for _, d := range deltas(text) {
		events = append(events, event{Type: "response.reasoning_summary_text.delta", ItemID: t.reasoningID, OutputIndex: &zero, SummaryIndex: &zero, Delta: &d})
	}
	return append(events,
		event{Type: "response.reasoning_summary_text.done", ItemID: t.reasoningID, OutputIndex: &zero, SummaryIndex: &zero, Text: &text},
		event{Type: "response.reasoning_summary_part.done", ItemID: t.reasoningID, OutputIndex: &zero, SummaryIndex: &zero, Part: done.Summary[0]},
		event{Type: "response.output_item.done", OutputIndex: &zero, Item: &done},
	)
}

// compactionEvents are the events of a compaction turn's one item, which
// arrives whole.
func (t *turn) compactionEvents() []event {
	idx := t.answerIndex()
	item := t.outputDone()
	return []event{
		{Type: "response.output_item.added", OutputIndex: &idx, Item: &item},
		{Type: "response.output_item.done", OutputIndex: &idx, Item: &item},
	}
}

// messageEvents are the events of the turn's assistant message, its text
// arriving word by word.
func (t *turn) messageEvents() []event {
	zero := 0
	idx := t.answerIndex()
	emptyLogprobs := []any{}
	empty := textPart("")
	full := textPart(t.text)
	added := t.message("in_progress", []contentPart{})
	done := t.message("completed", []contentPart{full})
	text := t.text

	events := []event{
		{Type: "response.output_item.added", OutputIndex: &idx, Item: &added},
		{Type: "response.content_part.added", ItemID: t.msgID, OutputIndex: &idx, ContentIndex: &zero, Part: &empty},
	}
	for _, d := range deltas(t.text) {
		events = append(events, event{Type: "response.output_text.delta", ItemID: t.msgID, OutputIndex: &idx, ContentIndex: &zero, Delta: &d, Logprobs: &emptyLogprobs})
	}
	return append(events,
		event{Type: "response.output_text.done", ItemID: t.msgID, OutputIndex: &idx, ContentIndex: &zero, Text: &text, Logprobs: &emptyLogprobs},
		event{Type: "response.content_part.done", ItemID: t.msgID, OutputIndex: &idx, ContentIndex: &zero, Part: &full},
		event{Type: "response.output_item.done", OutputIndex: &idx, Item: &done},
	)
}
