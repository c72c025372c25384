package fakeupstream

import "encoding/json"

// toolCall is the function call a server built WithToolCall answers with.
type toolCall struct {
	name      string
	arguments string
}

// WithToolCall makes the server play a model that uses a tool once per turn:
// a /responses request whose last input item is not a function_call_output
// is answered with one function_call item calling name with arguments (a
// JSON string, sent as is), and a request whose last input item is the
// call's output gets the normal text reply. This is the two-request shape of
// every agent turn, so a test can check that both requests of one turn reach
// the same account, over HTTP or over a WebSocket. A compaction_trigger
// still gets its compaction item.
func WithToolCall(name, arguments string) Option {
	return func(s *Server) { s.tool = &toolCall{name: name, arguments: arguments} }
}

// answersWithToolCall reports whether a request with this input gets the
// scripted function call rather than the text reply.
func (s *Server) answersWithToolCall(input json.RawMessage) bool {
	return s.tool != nil && lastInputType(input) != "function_call_output"
}

// lastInputType is the type of the last item of a request's input, "" when
// the input is not a non-empty list (a bare string prompt, say).
func lastInputType(input json.RawMessage) string {
	var items []json.RawMessage
	if json.Unmarshal(input, &items) != nil || len(items) == 0 {
		return ""
	}
	var last struct {
		Type string `json:"type"`
	}
	if json.Unmarshal(items[len(items)-1], &last) != nil {
		return ""
	}
	return last.Type
}

// functionCall is the turn's function call item with the given status and
// arguments so far.
func (t *turn) functionCall(status, arguments string) outputItem {
	return outputItem{
		ID:        t.msgID,
		Type:      "function_call",
		Status:    status,
		CallID:    t.callID,
		Name:      t.call.name,
		Arguments: arguments,
	}
}

// callEvents are the events of a tool-call turn's function call, in the
// order the real API streams one: the item opens with empty arguments, the
// arguments arrive (in one delta: clients act on the done events only), and
// the item closes.
func (t *turn) callEvents() []event {
	idx := t.answerIndex()
	added := t.functionCall("in_progress", "")
	done := t.functionCall("completed", t.call.arguments)
	args, name := t.call.arguments, t.call.name
	return []event{
		{Type: "response.output_item.added", OutputIndex: &idx, Item: &added},
		{Type: "response.function_call_arguments.delta", ItemID: t.msgID, OutputIndex: &idx, Delta: &args},
		{Type: "response.function_call_arguments.done", ItemID: t.msgID, OutputIndex: &idx, Name: &name, Arguments: &args},
		{Type: "response.output_item.done", OutputIndex: &idx, Item: &done},
	}
}
