package translate

import (
	"slices"
	"strings"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
)

// acctMessages writes the chat messages of the input items in order. It
// merges what chat wants merged (the leading system text, an assistant's
// text and the calls that follow it) and keeps what chat requires of tool
// messages: each follows the assistant message that called it.
type acctMessages struct {
	out  []byte
	plan *Plan
	n    int // messages written

	lead bool   // no message but system ones yet
	sys  []byte // the leading system text, escaped, merged

	asst      bool     // an assistant message is being gathered
	content   []byte   // its text, escaped
	reasoning []byte   // its reasoning_content, escaped
	calls     []byte   // its tool_calls, comma-separated objects
	callIDs   []string // their ids

	nextReasoning []byte // a reasoning item of ours, for the next assistant message
	images        []byte // image parts of tool outputs, for a user message after the tool messages

	called, answered map[string]bool // call ids with a call, with an output
	awaiting         map[string]bool // calls written whose outputs are still to come
	deferred         []byte          // messages held until those outputs are written

	// thinking marks a conversation with reasoning items of ours: the
	// provider reasons in reasoning_content, and DeepSeek V4 then wants one
	// on every assistant message, if only "".
	thinking bool
}

// known records which calls and outputs the input holds, so that a call
// without an output (an interrupted turn) gets a stand-in and an output
// without a call is dropped: chat providers reject either.
func (m *acctMessages) known(items [][]byte) {
	m.called, m.answered, m.awaiting = map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, it := range items {
		typ := jsonscan.Member(it, "type")
		switch {
		case jsonscan.Equal(typ, "function_call"), jsonscan.Equal(typ, "custom_tool_call"):
			m.called[acctStr(jsonscan.Member(it, "call_id"))] = true
		case jsonscan.Equal(typ, "function_call_output"), jsonscan.Equal(typ, "custom_tool_call_output"):
			m.answered[acctStr(jsonscan.Member(it, "call_id"))] = true
		case jsonscan.Equal(typ, "reasoning"):
			m.thinking = m.thinking || strings.HasPrefix(acctStr(jsonscan.Member(it, "id")), acctReasoningIDPrefix)
		}
	}
}

// open starts a message object of the given role.
func (m *acctMessages) open(role string) {
	if m.n > 0 {
		m.out = append(m.out, ',')
	}
	m.n++
	m.out = append(m.out, `{"role":"`...)
	m.out = append(m.out, role...)
	m.out = append(m.out, '"')
}

// text appends a message with string content (escaped text).
func (m *acctMessages) text(role string, escaped []byte) {
	m.open(role)
	m.out = append(m.out, `,"content":"`...)
	m.out = append(m.out, escaped...)
	m.out = append(m.out, `"}`...)
}

// system takes a system (or developer) message's text. Those before any
// other message are merged into one first system message: several chat
// templates (llama.cpp's, some Qwen and Gemma ones) accept a system message
// only there, and Codex sends three to five of them.
func (m *acctMessages) system(escaped []byte) {
	if m.lead {
		if len(m.sys) > 0 {
			m.sys = append(m.sys, `\n\n`...)
		}
		m.sys = append(m.sys, escaped...)
		return
	}
	m.flushAssistant()
	m.flushImages()
	m.text("system", escaped)
}

// endLead writes the merged leading system message, once.
func (m *acctMessages) endLead() {
	if !m.lead {
		return
	}
	m.lead = false
	if len(m.sys) > 0 {
		m.text("system", m.sys)
	}
	m.sys = nil
}

// flush writes whatever is gathered; the input is over.
func (m *acctMessages) flush() {
	m.endLead()
	m.flushAssistant()
	m.flushImages()
	m.out = append(m.out, m.deferred...)
}

// startAssistant makes sure an assistant message is being gathered.
func (m *acctMessages) startAssistant() {
	m.endLead()
	m.flushImages()
	if !m.asst {
		m.asst = true
		m.reasoning, m.nextReasoning = m.nextReasoning, nil
	}
}

func (m *acctMessages) flushAssistant() {
	if !m.asst {
		return
	}
	m.asst = false
	m.open("assistant")
	m.out = append(m.out, `,"content":`...)
	if len(m.content) == 0 && len(m.calls) > 0 {
		m.out = append(m.out, "null"...)
	} else {
		m.out = append(m.out, '"')
		m.out = append(m.out, m.content...)
		m.out = append(m.out, '"')
	}
	if len(m.reasoning) > 0 || m.thinking {
		m.out = append(m.out, `,"reasoning_content":"`...)
		m.out = append(m.out, m.reasoning...)
		m.out = append(m.out, '"')
	}
	if len(m.calls) > 0 {
		m.out = append(m.out, `,"tool_calls":[`...)
		m.out = append(m.out, m.calls...)
		m.out = append(m.out, ']')
	}
	m.out = append(m.out, '}')
	for _, id := range m.callIDs {
		if m.answered[id] {
			m.awaiting[id] = true
		} else {
			m.open("tool")
			m.out = append(m.out, `,"tool_call_id":`...)
			m.out = acctString(m.out, id)
			m.out = append(m.out, `,"content":"aborted: the call got no output"}`...)
		}
	}
	m.content, m.reasoning, m.calls, m.callIDs = m.content[:0], nil, m.calls[:0], m.callIDs[:0]
}

// flushImages writes the images of the tool outputs just written as a
// user message: most chat providers take images in user messages only.
func (m *acctMessages) flushImages() {
	if len(m.images) == 0 {
		return
	}
	m.open("user")
	m.out = append(m.out, `,"content":[{"type":"text","text":"(images from the tool output above)"},`...)
	m.out = append(m.out, m.images...)
	m.out = append(m.out, `]}`...)
	m.images = m.images[:0]
}

// item translates one input item.
func (m *acctMessages) item(it []byte) {
	var typ, role, content, id, callID, name, ns, args, input, output, summary, encrypted []byte
	_ = jsonscan.ObjectFields(it, func(k, v []byte) bool {
		switch string(k) {
		case "type":
			typ = v
		case "role":
			role = v
		case "content":
			content = v
		case "id":
			id = v
		case "call_id":
			callID = v
		case "name":
			name = v
		case "namespace":
			ns = v
		case "arguments":
			args = v
		case "input":
			input = v
		case "output":
			output = v
		case "summary":
			summary = v
		case "encrypted_content":
			encrypted = v
		}
		return true
	})
	kind := acctStr(typ)
	if kind == "" && len(role) > 0 {
		kind = "message"
	}
	switch kind {
	case "message":
		r := acctStr(role)
		if r != "assistant" && len(m.calls) > 0 {
			m.flushAssistant() // the calls are done: their outputs may be awaited
		}
		if r == "assistant" || len(m.awaiting) == 0 {
			m.message(r, content)
			return
		}
		// A user or system message between calls and their outputs
		// (Codex puts notices there): chat wants the outputs right after
		// the calls, so it waits for them.
		start := len(m.out)
		m.message(r, content)
		m.deferred = append(m.deferred, m.out[start:]...)
		m.out = m.out[:start]
	case "function_call", "custom_tool_call":
		cid := acctStr(callID)
		flat := m.plan.names.flat(acctStr(ns), acctStr(name))
		m.startAssistant()
		if len(m.calls) > 0 {
			m.calls = append(m.calls, ',')
		}
		m.calls = append(m.calls, `{"id":`...)
		m.calls = acctString(m.calls, cid)
		m.calls = append(m.calls, `,"type":"function","function":{"name":`...)
		m.calls = acctString(m.calls, flat)
		m.calls = append(m.calls, `,"arguments":`...)
		switch {
		case kind == "custom_tool_call":
			m.calls = append(m.calls, `"{\"input\":`...)
			if len(input) == 0 || input[0] != '"' {
				input = []byte(`""`)
			}
			m.calls = acctEscape(m.calls, input)
			m.calls = append(m.calls, `}"`...)
		case len(args) > 0 && args[0] == '"':
			m.calls = append(m.calls, args...)
		default:
			m.calls = append(m.calls, `"{}"`...)
		}
		m.calls = append(m.calls, `}}`...)
		m.callIDs = append(m.callIDs, cid)
	case "function_call_output", "custom_tool_call_output":
		cid := acctStr(callID)
		if !m.called[cid] {
			m.plan.drop("item:orphan_" + kind)
			return
		}
		m.endLead()
		if slices.Contains(m.callIDs, cid) {
			m.flushAssistant()
		} // else its call is written already: what is gathered since comes after
		m.open("tool")
		m.out = append(m.out, `,"tool_call_id":`...)
		m.out = acctString(m.out, cid)
		m.out = append(m.out, `,"content":"`...)
		m.out = m.toolOutput(m.out, output)
		m.out = append(m.out, `"}`...)
		delete(m.awaiting, cid)
		if len(m.awaiting) == 0 && len(m.deferred) > 0 {
			m.out = append(m.out, m.deferred...)
			m.deferred = m.deferred[:0]
		}
	case "reasoning":
		if !strings.HasPrefix(acctStr(id), acctReasoningIDPrefix) {
			// Another backend's reasoning: encrypted for it, unreadable here.
			m.plan.drop("item:reasoning")
			return
		}
		if len(m.nextReasoning) > 0 {
			m.nextReasoning = append(m.nextReasoning, `\n\n`...)
		}
		m.nextReasoning = acctJoinText(m.nextReasoning, summary)
	case "compaction", "compaction_summary":
		text, ok := acctCompactionSummary(acctStr(encrypted))
		if !ok {
			m.plan.drop("item:compaction")
			return
		}
		m.endLead()
		m.flushAssistant()
		m.flushImages()
		m.open("user")
		m.out = append(m.out, `,"content":"`...)
		m.out = acctEscapeStr(m.out, acctSummaryPrefix+"\n")
		m.out = acctEscape(m.out, text)
		m.out = append(m.out, `"}`...)
	case "additional_tools":
		// Declared tools, already in "tools".
	default:
		// web_search_call, image_generation_call, local_shell_call(_output),
		// tool_search_call, item_reference, a compaction_trigger not at
		// the end...: nothing a chat provider can read.
		m.plan.drop("item:" + kind)
	}
}

// message translates a message item. Roles: user and assistant as they
// are; system and developer become system (most chat-only providers reject
// "developer").
func (m *acctMessages) message(role string, content []byte) {
	switch role {
	case "assistant":
		m.startAssistant()
		if len(m.calls) > 0 {
			// Text after calls in one turn: chat has no such message.
			m.flushAssistant()
			m.startAssistant()
		}
		if len(m.content) > 0 {
			m.content = append(m.content, `\n\n`...)
		}
		m.content = m.textParts(m.content, content, false)
	case "system", "developer":
		m.system(m.textParts(nil, content, false))
	default:
		m.endLead()
		m.flushAssistant()
		m.flushImages()
		m.nextReasoning = nil // it reasoned for an answer that never came
		m.userMessage(content)
	}
}

// userMessage writes a user message: string content when it is all text
// (every provider takes that), parts when it holds images.
func (m *acctMessages) userMessage(content []byte) {
	hasImage := false
	if len(content) > 0 && content[0] == '[' {
		_ = jsonscan.ArrayElems(content, func(p []byte) bool {
			if jsonscan.Equal(jsonscan.Member(p, "type"), "input_image") {
				hasImage = true
				return false
			}
			return true
		})
	}
	m.open("user")
	if !hasImage {
		m.out = append(m.out, `,"content":"`...)
		m.out = m.textParts(m.out, content, false)
		m.out = append(m.out, `"}`...)
		return
	}
	m.out = append(m.out, `,"content":[`...)
	first := true
	_ = jsonscan.ArrayElems(content, func(p []byte) bool {
		start := len(m.out)
		if !first {
			m.out = append(m.out, ',')
		}
		if !m.part(p) {
			m.out = m.out[:start]
			return true
		}
		first = false
		return true
	})
	m.out = append(m.out, `]}`...)
}

// part appends the chat part of a content part, false when it has none.
func (m *acctMessages) part(p []byte) bool {
	typ := acctStr(jsonscan.Member(p, "type"))
	switch typ {
	case "input_text", "output_text", "text":
		t := jsonscan.Member(p, "text")
		if _, ok := acctInner(t); !ok {
			return false
		}
		m.out = append(m.out, `{"type":"text","text":`...)
		m.out = append(m.out, t...)
		m.out = append(m.out, '}')
		return true
	case "input_image":
		return m.image(p, &m.out)
	}
	m.plan.drop("part:" + typ)
	return false
}

// image appends an image_url part for an input_image part to *dst.
func (m *acctMessages) image(p []byte, dst *[]byte) bool {
	url := jsonscan.Member(p, "image_url")
	if _, ok := acctInner(url); !ok {
		m.plan.drop("part:input_image(file_id)")
		return false
	}
	*dst = append(*dst, `{"type":"image_url","image_url":{"url":`...)
	*dst = append(*dst, url...)
	switch d := acctStr(jsonscan.Member(p, "detail")); d {
	case "auto", "low", "high":
		*dst = append(*dst, `,"detail":"`...)
		*dst = append(*dst, d...)
		*dst = append(*dst, '"')
	case "original": // Codex's; chat knows no such detail
		*dst = append(*dst, `,"detail":"high"`...)
	}
	*dst = append(*dst, `}}`...)
	return true
}

// textParts appends the text of content (a string, or parts) escaped,
// parts joined by a blank line. Images are dropped unless toImages, when
// they are kept for the user message after the tool messages.
func (m *acctMessages) textParts(dst []byte, content []byte, toImages bool) []byte {
	if inner, ok := acctInner(content); ok {
		return append(dst, inner...)
	}
	if len(content) == 0 || content[0] != '[' {
		return dst
	}
	start := len(dst)
	_ = jsonscan.ArrayElems(content, func(p []byte) bool {
		typ := acctStr(jsonscan.Member(p, "type"))
		switch typ {
		case "input_text", "output_text", "text", "summary_text", "reasoning_text":
			inner, _ := acctInner(jsonscan.Member(p, "text"))
			if len(dst) > start {
				dst = append(dst, `\n\n`...)
			}
			dst = append(dst, inner...)
		case "refusal":
			inner, _ := acctInner(jsonscan.Member(p, "refusal"))
			if len(dst) > start {
				dst = append(dst, `\n\n`...)
			}
			dst = append(dst, inner...)
		case "input_image":
			if !toImages {
				m.plan.drop("part:input_image(not user)")
				return true
			}
			if len(m.images) > 0 {
				m.images = append(m.images, ',')
			}
			if !m.image(p, &m.images) && len(m.images) > 0 {
				m.images = m.images[:len(m.images)-1]
			}
		default:
			m.plan.drop("part:" + typ)
		}
		return true
	})
	return dst
}

// toolOutput appends a tool output's text, escaped: the string as is, the
// text parts of a list (its images kept for after the tool messages), any
// other JSON as its text.
func (m *acctMessages) toolOutput(dst []byte, output []byte) []byte {
	switch {
	case len(output) == 0:
		return dst
	case output[0] == '"':
		inner, _ := acctInner(output)
		return append(dst, inner...)
	case output[0] == '[':
		return m.textParts(dst, output, true)
	case output[0] == '{':
		// {"content": "...", "success": false}: older clients' failure shape.
		if c := jsonscan.Member(output, "content"); len(c) > 0 && (c[0] == '"' || c[0] == '[') {
			return m.toolOutput(dst, c)
		}
	}
	return acctEscape(dst, output)
}

// acctJoinText appends the escaped texts of a list of summary parts.
func acctJoinText(dst []byte, parts []byte) []byte {
	start := len(dst)
	_ = jsonscan.ArrayElems(parts, func(p []byte) bool {
		if inner, ok := acctInner(jsonscan.Member(p, "text")); ok {
			if len(dst) > start {
				dst = append(dst, `\n\n`...)
			}
			dst = append(dst, inner...)
		}
		return true
	})
	return dst
}
