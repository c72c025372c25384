package translate

import (
	"strconv"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
)

// The output items of a rebuilt answer: each opens when its first output
// arrives and closes when the next kind of output starts or at
// finish_reason; tool calls close only at finish_reason.

// grow appends escaped text to an item, false (and the answer failed) past
// the bound.
func (r *acctRebuilder) grow(dst *[]byte, t []byte) bool {
	if len(*dst)+len(t) > r.max {
		r.fail("upstream_event_too_large", "An output item of the upstream's answer grew past "+strconv.Itoa(r.max)+" bytes.")
		return false
	}
	*dst = append(*dst, t...)
	return true
}

func (r *acctRebuilder) reasoningDelta(t []byte) {
	if r.plan.Compaction() || r.ended {
		return // a summary turn answers with its summary only
	}
	if r.rsn == nil {
		r.closeMessage()
		r.reasoned = true
		r.rsn = r.announce('r', r.nextID(acctReasoningIDPrefix))
		r.evAt("response.reasoning_summary_part.added", r.rsn)
		r.out = append(r.out, `,"summary_index":0,"part":{"type":"summary_text","text":""}`...)
		r.end()
	}
	if !r.grow(&r.rsn.text, t) {
		return
	}
	r.evAt("response.reasoning_summary_text.delta", r.rsn)
	r.out = append(r.out, `,"summary_index":0,"delta":"`...)
	r.out = append(r.out, t...)
	r.out = append(r.out, '"')
	r.end()
}

func (r *acctRebuilder) textDelta(t []byte) {
	if r.ended {
		return
	}
	if r.plan.Compaction() {
		r.grow(&r.compText, t)
		return
	}
	if r.msg == nil {
		r.closeReasoning()
		r.msg = r.announce('m', r.nextID("msg_chat_"))
		r.evAt("response.content_part.added", r.msg)
		r.out = append(r.out, `,"content_index":0,"part":`...)
		r.out = acctTextPart(r.out, nil)
		r.end()
	}
	if !r.grow(&r.msg.text, t) {
		return
	}
	r.evAt("response.output_text.delta", r.msg)
	r.out = append(r.out, `,"content_index":0,"delta":"`...)
	r.out = append(r.out, t...)
	r.out = append(r.out, `","logprobs":[]`...)
	r.end()
}

// toolCallDelta handles one entry of a delta's tool_calls. Providers
// differ: later chunks of a call may omit id and name; calls interleave by
// index; a call may come whole in one chunk; index may be missing (then
// the id, else the last call, tells which call it continues). whole marks
// the entries of a JSON answer, each a call of its own.
func (r *acctRebuilder) toolCallDelta(tc []byte, whole bool) {
	if r.plan.Compaction() || r.ended {
		return
	}
	var idx, id, fn []byte
	_ = jsonscan.ObjectFields(tc, func(k, v []byte) bool {
		switch string(k) {
		case "index":
			idx = v
		case "id":
			id = v
		case "function":
			fn = v
		}
		return true
	})
	callID := acctStr(id)
	var name, args []byte
	_ = jsonscan.ObjectFields(fn, func(k, v []byte) bool {
		switch string(k) {
		case "name":
			name = v
		case "arguments":
			args = v
		}
		return true
	})

	var c *acctItem
	key := -1
	switch {
	case whole:
	case len(idx) > 0 && idx[0] >= '0' && idx[0] <= '9':
		key = int(acctInt(idx))
		c = r.callByKey(key)
		if c != nil && callID != "" && c.callID != "" && callID != c.callID {
			// Index reused for a new call (some servers number every call 0).
			c, key = nil, -1
		}
	case callID != "":
		for _, x := range r.calls {
			if x.callID == callID {
				c = x
			}
		}
	default:
		c = r.lastCall
	}
	if c == nil {
		if key < 0 {
			key = 1 << 20
			for r.callByKey(key) != nil {
				key++
			}
		}
		c = &acctItem{key: key, index: -1}
		r.calls = append(r.calls, c)
	}
	r.lastCall = c
	if c.callID == "" {
		c.callID = callID
	}
	if n := acctStr(name); n != "" && c.flat == "" {
		c.flat = n
	}
	var piece []byte
	if inner, ok := acctInner(args); ok {
		piece = inner
	} else if len(args) > 0 && args[0] == '{' {
		piece = acctEscape(nil, args) // arguments as an object (a few local servers)
	}
	if len(piece) > 0 && !r.grow(&c.text, piece) {
		return
	}
	switch {
	case c.index < 0 && c.flat != "":
		r.announceCall(c)
		if c.kind == 'f' && len(c.text) > 0 {
			r.argsDelta(c, c.text)
		}
	case c.index >= 0 && c.kind == 'f' && len(piece) > 0:
		r.argsDelta(c, piece)
	}
}

func (r *acctRebuilder) callByKey(key int) *acctItem {
	for _, c := range r.calls {
		if c.key == key {
			return c
		}
	}
	return nil
}

// announceCall emits output_item.added for a call whose name is known,
// named as Codex knows the tool.
func (r *acctRebuilder) announceCall(c *acctItem) {
	r.closeReasoning()
	r.closeMessage()
	t := r.plan.toolFor(c.flat)
	c.name, c.ns = t.Name, t.Namespace
	c.kind, c.id = 'f', r.nextID("fc_chat_")
	if t.Custom {
		c.kind, c.id = 'c', r.nextID("ctc_chat_")
	}
	if c.callID == "" {
		c.callID = r.nextID("call_chat_")
	}
	c.index = len(r.items)
	r.items = append(r.items, c)
	r.itemEvent("response.output_item.added", c)
}

// toolFor is Codex's tool for a flat name; a nil plan maps nothing.
func (p *Plan) toolFor(flat string) acctCodexTool {
	if p == nil {
		return acctCodexTool{Name: flat}
	}
	return p.names.back(flat)
}

func (r *acctRebuilder) argsDelta(c *acctItem, piece []byte) {
	r.evAt("response.function_call_arguments.delta", c)
	r.out = append(r.out, `,"delta":"`...)
	r.out = append(r.out, piece...)
	r.out = append(r.out, '"')
	r.end()
}

// announce adds a message or reasoning item and emits its output_item.added.
func (r *acctRebuilder) announce(kind byte, id string) *acctItem {
	return r.announceItem(&acctItem{kind: kind, id: id})
}

func (r *acctRebuilder) announceItem(it *acctItem) *acctItem {
	it.index = len(r.items)
	r.items = append(r.items, it)
	r.itemEvent("response.output_item.added", it)
	return it
}

func (r *acctRebuilder) itemDone(it *acctItem) {
	it.done = true
	r.itemEvent("response.output_item.done", it)
}

// itemEvent emits output_item.added or .done with the item as it stands.
func (r *acctRebuilder) itemEvent(typ string, it *acctItem) {
	r.ev(typ)
	r.out = append(r.out, `,"output_index":`...)
	r.out = strconv.AppendInt(r.out, int64(it.index), 10)
	r.out = append(r.out, `,"item":`...)
	r.out = r.item(r.out, it)
	r.end()
}

func (r *acctRebuilder) closeMessage() {
	m := r.msg
	if m == nil {
		return
	}
	r.msg = nil
	r.evAt("response.output_text.done", m)
	r.out = append(r.out, `,"content_index":0,"text":"`...)
	r.out = append(r.out, m.text...)
	r.out = append(r.out, `","logprobs":[]`...)
	r.end()
	r.evAt("response.content_part.done", m)
	r.out = append(r.out, `,"content_index":0,"part":`...)
	r.out = acctTextPart(r.out, m.text)
	r.end()
	r.itemDone(m)
}

func (r *acctRebuilder) closeReasoning() {
	s := r.rsn
	if s == nil {
		return
	}
	r.rsn = nil
	r.evAt("response.reasoning_summary_text.done", s)
	r.out = append(r.out, `,"summary_index":0,"text":"`...)
	r.out = append(r.out, s.text...)
	r.out = append(r.out, '"')
	r.end()
	r.evAt("response.reasoning_summary_part.done", s)
	r.out = append(r.out, `,"summary_index":0,"part":{"type":"summary_text","text":"`...)
	r.out = append(r.out, s.text...)
	r.out = append(r.out, `"}`...)
	r.end()
	r.itemDone(s)
}

// finishReason closes every item: only now are tool calls complete, so a
// stream cut before it never completes a call.
func (r *acctRebuilder) finishReason(f string) {
	r.finish = f
	r.closeReasoning()
	r.closeMessage()
	if r.plan.Compaction() {
		// The item comes whole, in output_item.added already, as the
		// real backend sends its compaction item.
		summary, _ := jsonscan.Unquote(append(append([]byte{'"'}, r.compText...), '"'))
		c := &acctItem{kind: 'k', id: r.nextID(acctCompactionIDPrefix), encryptedText: acctCompactionContent(summary)}
		r.compText = nil
		r.itemDone(r.announceItem(c))
		return
	}
	if r.thinks && !r.reasoned {
		// A thinking model that answered straight away (DeepSeek sends
		// reasoning_content ""). The empty reasoning item tells the next
		// translation that this provider thinks, which then gives every
		// assistant message a reasoning_content: DeepSeek V4 refuses a
		// thinking conversation where one lacks it.
		r.itemDone(r.announce('r', r.nextID(acctReasoningIDPrefix)))
	}
	for _, c := range r.calls {
		if c.index < 0 {
			continue // never named: nothing Codex could run
		}
		r.finishCall(c)
	}
}

func (r *acctRebuilder) finishCall(c *acctItem) {
	if c.kind == 'c' {
		c.input = acctCustomInput(c.text)
		r.evAt("response.custom_tool_call_input.delta", c)
		r.out = append(r.out, `,"delta":`...)
		r.out = append(r.out, c.input...)
		r.end()
		r.evAt("response.custom_tool_call_input.done", c)
		r.out = append(r.out, `,"input":`...)
		r.out = append(r.out, c.input...)
		r.end()
		r.itemDone(c)
		return
	}
	if len(c.text) == 0 {
		c.text = append(c.text, "{}"...) // no arguments: Codex parses the empty object
	}
	r.evAt("response.function_call_arguments.done", c)
	r.out = append(r.out, `,"name":`...)
	r.out = acctString(r.out, c.name)
	r.out = append(r.out, `,"arguments":"`...)
	r.out = append(r.out, c.text...)
	r.out = append(r.out, '"')
	r.end()
	r.itemDone(c)
}

// acctCustomInput is the input of a custom tool's call from the arguments
// the provider sent (escaped): the "input" string of {"input": ...}, the
// one string member of another object, else the arguments as text (a
// model that wrote the patch bare).
func acctCustomInput(escaped []byte) []byte {
	raw := append(append([]byte{'"'}, escaped...), '"')
	args, err := jsonscan.Unquote(raw)
	if err != nil {
		return []byte(`""`)
	}
	if v := jsonscan.Member(args, "input"); len(v) > 0 && v[0] == '"' {
		return v
	}
	var only []byte
	n := 0
	if jsonscan.ObjectFields(args, func(_, v []byte) bool {
		n++
		only = v
		return n < 2
	}) == nil && n == 1 && len(only) > 0 && only[0] == '"' {
		return only
	}
	return raw
}

// complete emits the terminal event of a finished answer.
func (r *acctRebuilder) complete() {
	typ, status, reason := "response.completed", "completed", ""
	switch r.finish {
	case "length":
		if !r.plan.Compaction() { // a cut summary still beats none
			typ, status, reason = "response.incomplete", "incomplete", "max_output_tokens"
		}
	case "content_filter":
		typ, status, reason = "response.incomplete", "incomplete", "content_filter"
	}
	r.ev(typ)
	r.out = append(r.out, `,"response":`...)
	r.out = r.response(r.out, status, reason)
	r.end()
}
