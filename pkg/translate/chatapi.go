package translate

import (
	"slices"

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
		var typ, name, desc, params, format, nested, strict []byte
		_ = jsonscan.ObjectFields(t, func(k, v []byte) bool {
			switch string(k) {
			case "type":
				typ = v
			case "strict":
				strict = v
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
		if kind == "function" && string(strict) == "true" {
			// The client asked for arguments that match the schema, which
			// chat asks the same way; false is chat's default, left out.
			dst = append(dst, `,"strict":true`...)
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
