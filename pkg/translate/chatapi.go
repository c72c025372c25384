package translate

import (
	"slices"
	"strings"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
)

// ChatOptions shape a Responses request for an account that speaks Chat Completions.
type ChatOptions struct {
	Model       string // the account's model name (model_map applied); "" keeps the body's
	MaxToolName int    // the provider's limit on a function name; 0 means 64
}

// Plan is what rebuilding the answer needs to know about the request it
// answers: the tool names as sent and as Codex knows them, which tools were
// custom (freeform), whether the request was a compaction, the client's
// model name.
type Plan struct {
	model      string
	names      *acctToolNames
	compaction bool
	dropped    []string
}

// Compaction reports a request that asked for a compaction (input ends with
// compaction_trigger): the translation made it a summary turn.
func (p *Plan) Compaction() bool { return p != nil && p.compaction }

// Model is the model the client asked for, which the rebuilt response
// names (Codex shows it, and it is what the client knows).
func (p *Plan) Model() string {
	if p == nil {
		return ""
	}
	return p.model
}

// Dropped names what the translation left out because a chat-only account
// cannot use it, once each, for the log: "tool:web_search",
// "item:reasoning" (another backend's reasoning), "item:compaction" (a real
// backend's compaction), "part:input_file"...
func (p *Plan) Dropped() []string {
	if p == nil {
		return nil
	}
	return p.dropped
}

// CodexTool maps a function name the provider called back to the tool
// Codex declared: its namespace ("" for none), its name, and whether it is
// a custom (freeform) tool. An undeclared name comes back as it is.
func (p *Plan) CodexTool(flat string) (namespace, name string, custom bool) {
	var t acctCodexTool
	if p == nil {
		t = acctCodexTool{Name: flat}
	} else {
		t = p.names.back(flat)
	}
	return t.Namespace, t.Name, t.Custom
}

func (p *Plan) drop(what string) {
	if !slices.Contains(p.dropped, what) {
		p.dropped = append(p.dropped, what)
	}
}

// acctRequest holds the raw top-level members of a Responses request that
// the translation reads (aliasing the body).
type acctRequest struct {
	model, instructions, input, tools, toolChoice, parallel []byte
	text, reasoning, maxOutput, temperature, topP, user     []byte
}

// ResponsesToChat translates a Responses request body (Codex's, possibly
// megabytes) into a Chat Completions request body with "stream":true and
// "stream_options":{"include_usage":true}.
func ResponsesToChat(body []byte, o ChatOptions) (out []byte, plan *Plan, err error) {
	var f acctRequest
	scanErr := jsonscan.ObjectFields(body, func(k, v []byte) bool {
		switch string(k) {
		case "model":
			f.model = v
		case "instructions":
			f.instructions = v
		case "input":
			f.input = v
		case "tools":
			f.tools = v
		case "tool_choice":
			f.toolChoice = v
		case "parallel_tool_calls":
			f.parallel = v
		case "text":
			f.text = v
		case "reasoning":
			f.reasoning = v
		case "max_output_tokens":
			f.maxOutput = v
		case "temperature":
			f.temperature = v
		case "top_p":
			f.topP = v
		case "user":
			f.user = v
		}
		return true
	})
	if scanErr != nil {
		return nil, nil, &Error{Code: "invalid_request", Message: "The request body is not a JSON object: " + scanErr.Error()}
	}
	plan = &Plan{model: acctStr(f.model), names: acctNewToolNames(o.MaxToolName)}
	model := o.Model
	if model == "" {
		model = plan.model
	}
	if model == "" {
		return nil, nil, &Error{Param: "model", Code: "invalid_request", Message: "The request names no model."}
	}
	items, err := acctInputItems(f.input)
	if err != nil {
		return nil, nil, err
	}

	// Tools first: the messages name them, flattened.
	tools := make([]byte, 0, 1024)
	ntools := 0
	if len(f.tools) > 0 && f.tools[0] == '[' {
		tools, ntools = acctTools(tools, ntools, plan, f.tools, "")
	}
	for _, it := range items {
		if jsonscan.Equal(jsonscan.Member(it, "type"), "additional_tools") {
			if ts := jsonscan.Member(it, "tools"); len(ts) > 0 && ts[0] == '[' {
				tools, ntools = acctTools(tools, ntools, plan, ts, "")
			}
		}
	}
	if n := len(items); n > 0 && jsonscan.Equal(jsonscan.Member(items[n-1], "type"), "compaction_trigger") {
		plan.compaction = true
		items = items[:n-1]
	}

	out = make([]byte, 0, len(body)+len(tools)+256)
	out = append(out, `{"model":`...)
	out = acctString(out, model)
	out = append(out, `,"messages":[`...)
	m := acctMessages{out: out, plan: plan, lead: true}
	if inner, ok := acctInner(f.instructions); ok && len(inner) > 0 {
		m.system(inner)
	}
	m.known(items)
	for _, it := range items {
		m.item(it)
	}
	m.flush()
	if plan.compaction {
		m.open("user")
		m.out = append(m.out, `,"content":`...)
		m.out = acctString(m.out, acctCompactionPrompt)
		m.out = append(m.out, '}')
	}
	out = append(m.out, ']')

	if ntools > 0 {
		out = append(out, `,"tools":[`...)
		out = append(out, tools...)
		out = append(out, ']')
		if plan.compaction {
			// The summary turn must answer in text: the tools stay declared
			// (the history calls them) but none may be called.
			out = append(out, `,"tool_choice":"none"`...)
		} else {
			out = acctToolChoice(out, plan, f.toolChoice)
			if string(f.parallel) == "true" || string(f.parallel) == "false" {
				out = append(out, `,"parallel_tool_calls":`...)
				out = append(out, f.parallel...)
			}
		}
	}
	if !plan.compaction {
		out = acctResponseFormat(out, jsonscan.Member(f.text, "format"))
	}
	if effort := jsonscan.Member(f.reasoning, "effort"); len(effort) > 0 && effort[0] == '"' {
		out = append(out, `,"reasoning_effort":`...)
		out = append(out, effort...)
	}
	for _, n := range [...]struct {
		key string
		raw []byte
	}{{"max_tokens", f.maxOutput}, {"temperature", f.temperature}, {"top_p", f.topP}} {
		if len(n.raw) > 0 && (n.raw[0] == '-' || n.raw[0] >= '0' && n.raw[0] <= '9') {
			out = acctKey(out, n.key, false)
			out = append(out, n.raw...)
		}
	}
	if len(f.user) > 0 && f.user[0] == '"' {
		out = append(out, `,"user":`...)
		out = append(out, f.user...)
	}
	out = append(out, `,"stream":true,"stream_options":{"include_usage":true}}`...)
	return out, plan, nil
}

// acctInputItems splits input into its items; a string input is one user
// message.
func acctInputItems(input []byte) ([][]byte, error) {
	if len(input) == 0 || string(input) == "null" {
		return nil, nil
	}
	if input[0] == '"' {
		msg := append([]byte(`{"type":"message","role":"user","content":`), input...)
		return [][]byte{append(msg, '}')}, nil
	}
	var items [][]byte
	var bad bool
	err := jsonscan.ArrayElems(input, func(v []byte) bool {
		if len(v) == 0 || v[0] != '{' {
			bad = true
			return false
		}
		items = append(items, v)
		return true
	})
	if err != nil || bad {
		return nil, &Error{Param: "input", Code: "invalid_request", Message: "input must be a string or a list of items (objects)."}
	}
	return items, nil
}

// acctTools appends the chat form of the Responses tools in raw (a JSON
// array) to dst, n counting the tools written; ns is the namespace they
// sit in.
func acctTools(dst []byte, n int, plan *Plan, raw []byte, ns string) ([]byte, int) {
	_ = jsonscan.ArrayElems(raw, func(t []byte) bool {
		if t[0] != '{' {
			return true
		}
		var typ, name, desc, params, format, nested []byte
		_ = jsonscan.ObjectFields(t, func(k, v []byte) bool {
			switch string(k) {
			case "type":
				typ = v
			case "name":
				name = v
			case "description":
				desc = v
			case "parameters":
				params = v
			case "format":
				format = v
			case "tools":
				nested = v
			}
			return true
		})
		kind := acctStr(typ)
		switch kind {
		case "function", "custom":
		case "namespace":
			inner := acctStr(name)
			if ns != "" {
				inner = ns + acctNSSep + inner
			}
			if len(nested) > 0 && nested[0] == '[' {
				dst, n = acctTools(dst, n, plan, nested, inner)
			}
			return true
		default:
			// web_search, image_generation, local_shell, tool_search,
			// file_search, mcp...: hosted tools a chat provider cannot run.
			plan.drop("tool:" + kind)
			return true
		}
		toolName := acctStr(name)
		if toolName == "" {
			return true
		}
		flat, fresh := plan.names.add(ns, toolName, kind == "custom")
		if !fresh {
			return true // declared twice: the first one stands (chat wants names unique)
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		n++
		dst = append(dst, `{"type":"function","function":{"name":`...)
		dst = acctString(dst, flat)
		if len(desc) > 0 && desc[0] == '"' {
			dst = append(dst, `,"description":`...)
			dst = append(dst, desc...)
		}
		dst = append(dst, `,"parameters":`...)
		switch {
		case kind == "custom":
			dst = acctCustomParams(dst, format)
		case len(params) > 0 && params[0] == '{':
			dst = append(dst, params...)
		default:
			dst = append(dst, `{"type":"object","properties":{}}`...)
		}
		dst = append(dst, `}}`...)
		return true
	})
	return dst, n
}

// acctCustomParams is the parameters of a custom (freeform) tool made a
// function: one string "input", whose description carries the tool's
// grammar so the model can still write what the tool parses.
func acctCustomParams(dst []byte, format []byte) []byte {
	dst = append(dst, `{"type":"object","properties":{"input":{"type":"string","description":"`...)
	dst = acctEscapeStr(dst, "The tool's whole input, as raw text (not JSON).")
	if jsonscan.Equal(jsonscan.Member(format, "type"), "grammar") {
		syntax := acctStr(jsonscan.Member(format, "syntax"))
		if syntax == "" {
			syntax = "the"
		}
		if def, ok := acctInner(jsonscan.Member(format, "definition")); ok {
			dst = acctEscapeStr(dst, " It must match this "+syntax+" grammar:\n")
			dst = append(dst, def...)
		}
	}
	return append(dst, `"}},"required":["input"]}`...)
}

// acctToolChoice appends the chat tool_choice for a Responses one.
func acctToolChoice(dst []byte, plan *Plan, raw []byte) []byte {
	switch {
	case len(raw) == 0:
		return dst
	case raw[0] == '"':
		switch acctStr(raw) {
		case "auto", "none", "required":
			dst = append(dst, `,"tool_choice":`...)
			return append(dst, raw...)
		}
	case raw[0] == '{':
		switch acctStr(jsonscan.Member(raw, "type")) {
		case "function", "custom":
			name := acctStr(jsonscan.Member(raw, "name"))
			if name == "" {
				return dst
			}
			flat := plan.names.flat(acctStr(jsonscan.Member(raw, "namespace")), name)
			dst = append(dst, `,"tool_choice":{"type":"function","function":{"name":`...)
			dst = acctString(dst, flat)
			return append(dst, `}}`...)
		case "allowed_tools":
			// The closest chat has: a choice among the declared tools.
			if mode := jsonscan.Member(raw, "mode"); jsonscan.Equal(mode, "required") || jsonscan.Equal(mode, "auto") {
				dst = append(dst, `,"tool_choice":`...)
				return append(dst, mode...)
			}
		}
	}
	return dst
}

// acctResponseFormat appends response_format for a Responses text.format.
func acctResponseFormat(dst []byte, format []byte) []byte {
	switch acctStr(jsonscan.Member(format, "type")) {
	case "json_object":
		return append(dst, `,"response_format":{"type":"json_object"}`...)
	case "json_schema":
		dst = append(dst, `,"response_format":{"type":"json_schema","json_schema":{`...)
		first := true
		_ = jsonscan.ObjectFields(format, func(k, v []byte) bool {
			switch string(k) {
			case "name", "schema", "strict", "description":
				dst = acctKey(dst, string(k), first)
				dst = append(dst, v...)
				first = false
			}
			return true
		})
		return append(dst, `}}`...)
	}
	return dst
}

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
