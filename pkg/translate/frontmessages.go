package translate

import (
	"strconv"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
)

// frontWriter builds the Responses request by appending to one buffer: raw
// values of the chat request are copied in, never decoded and re-encoded.
type frontWriter struct {
	b []byte
	// native collects what only a native account can honour, found inside
	// messages (an audio part).
	native []string
}

func (w *frontWriter) raw(s string)   { w.b = append(w.b, s...) }
func (w *frontWriter) bytes(v []byte) { w.b = append(w.b, v...) }

// item opens one element of the array being written, with the comma that
// separates it from the one before.
func (w *frontWriter) item(n *int) {
	if *n > 0 {
		w.b = append(w.b, ',')
	}
	*n++
}

// opt writes the member ,"key":v when v is present.
func (w *frontWriter) opt(key string, v []byte) {
	if v != nil {
		w.raw(`,"`)
		w.raw(key)
		w.raw(`":`)
		w.bytes(v)
	}
}

// frontTake reads the members of the object v named keys[i] into *vals[i]
// (the last of repeated ones); a null member counts as absent. The error
// says v is not an object.
func frontTake(v []byte, keys []string, vals ...*[]byte) error {
	return jsonscan.ObjectFields(v, func(k, val []byte) bool {
		if frontNull(val) {
			return true
		}
		for i, key := range keys {
			if string(k) == key {
				*vals[i] = val
				break
			}
		}
		return true
	})
}

// frontEach calls fn for each element of the array list with its index and
// returns the first error fn returns, or bad() when list is not an array.
func frontEach(list []byte, bad func() *Error, fn func(i int, v []byte) *Error) *Error {
	i := 0
	var perr *Error
	err := jsonscan.ArrayElems(list, func(v []byte) bool {
		perr = fn(i, v)
		i++
		return perr == nil
	})
	switch {
	case perr != nil:
		return perr
	case err != nil:
		return bad()
	}
	return nil
}

// The members each walk reads, in the order of the pointers it passes.
var (
	frontMessageKeys  = []string{"role", "content", "tool_calls", "tool_call_id", "refusal"}
	frontPartKeys     = []string{"type", "text", "image_url", "file"}
	frontImageKeys    = []string{"url", "detail"}
	frontFileKeys     = []string{"file_id", "file_data", "filename"}
	frontCallKeys     = []string{"id", "type", "function", "custom"}
	frontToolKeys     = []string{"type", "function", "custom"}
	frontFunctionKeys = []string{"name", "description", "parameters", "strict"}
	frontCustomKeys   = []string{"name", "description", "format"}
	frontSchemaKeys   = []string{"name", "description", "schema", "strict"}
)

// frontMessage holds the raw members of one chat message.
type frontMessage struct {
	role, content, toolCalls, toolCallID, refusal []byte
}

// messages writes the input array: one Responses item per message, and a
// function_call item per tool call of an assistant message.
func (w *frontWriter) messages(list []byte) *Error {
	w.raw(`[`)
	n, count := 0, 0
	err := frontEach(list, func() *Error {
		return &Error{Param: "messages", Code: "invalid_request", Message: "messages is not a valid JSON array."}
	}, func(i int, v []byte) *Error {
		count++
		return w.message(v, frontAt("messages", i), &n)
	})
	if err != nil {
		return err
	}
	if count == 0 {
		return &Error{Param: "messages", Code: "invalid_request", Message: "messages is empty: send at least one message."}
	}
	w.raw(`]`)
	return nil
}

func (w *frontWriter) message(v []byte, path frontPath, n *int) *Error {
	var m frontMessage
	err := frontTake(v, frontMessageKeys, &m.role, &m.content, &m.toolCalls, &m.toolCallID, &m.refusal)
	if err != nil {
		return &Error{Param: path.String(), Code: "invalid_request", Message: path.field(" is not an object: each message is {\"role\":...,\"content\":...}.")}
	}
	if m.role == nil {
		return &Error{Param: path.field(".role"), Code: "invalid_request", Message: path.field(" has no role: give it one of system, developer, user, assistant or tool.")}
	}
	role, _ := jsonscan.String(m.role)
	switch role {
	case "system", "developer":
		// The ChatGPT backend reads instructions from developer messages
		// (Codex sends its own that way) and other relays learned that it
		// treats a system message differently: developer is the Responses
		// name for what a chat client means by system.
		return w.textMessage(&m, path, "developer", n)
	case "user":
		return w.textMessage(&m, path, "user", n)
	case "assistant":
		return w.assistant(&m, path, n)
	case "tool":
		return w.toolResult(&m, path, n)
	case "function":
		return &Error{Param: path.field(".role"), Code: "invalid_request", Message: path.field(" has the deprecated role function: send tool results as role tool with a tool_call_id.")}
	}
	return &Error{Param: path.field(".role"), Code: "invalid_request", Message: path.field(" has an unknown role ") + string(m.role) + ": use system, developer, user, assistant or tool."}
}

// textMessage writes a developer or user message. Only a user message may
// carry images and files.
func (w *frontWriter) textMessage(m *frontMessage, path frontPath, role string, n *int) *Error {
	if m.content == nil {
		return &Error{Param: path.field(".content"), Code: "invalid_request", Message: path.field(" has no content: give it a string or a list of content parts.")}
	}
	w.item(n)
	w.raw(`{"type":"message","role":"`)
	w.raw(role)
	w.raw(`","content":[`)
	if m.content[0] == '"' {
		w.raw(`{"type":"input_text","text":`)
		w.bytes(m.content)
		w.raw(`}]}`)
		return nil
	}
	if err := w.parts(m.content, path, role == "user"); err != nil {
		return err
	}
	w.raw(`]}`)
	return nil
}

// parts writes the content parts of a user, system or developer message.
func (w *frontWriter) parts(content []byte, path frontPath, media bool) *Error {
	n := 0
	return frontEach(content, func() *Error {
		return &Error{Param: path.field(".content"), Code: "invalid_request", Message: path.field(".content must be a string or an array of content parts.")}
	}, func(j int, p []byte) *Error {
		return w.part(p, path.at(".content", j), media, &n)
	})
}

func (w *frontWriter) part(p []byte, path frontPath, media bool, n *int) *Error {
	var typ, text, image, file []byte
	err := frontTake(p, frontPartKeys, &typ, &text, &image, &file)
	if err != nil {
		return &Error{Param: path.String(), Code: "invalid_request", Message: path.field(" is not an object: a content part is {\"type\":\"text\",\"text\":...}.")}
	}
	switch {
	case jsonscan.Equal(typ, "text"):
		if len(text) == 0 || text[0] != '"' {
			return &Error{Param: path.field(".text"), Code: "invalid_request", Message: path.field(" is a text part without a text string.")}
		}
		w.item(n)
		w.raw(`{"type":"input_text","text":`)
		w.bytes(text)
		w.raw(`}`)
		return nil
	case media && jsonscan.Equal(typ, "image_url"):
		return w.image(image, path, n)
	case media && jsonscan.Equal(typ, "file"):
		return w.file(file, path, n)
	case media && jsonscan.Equal(typ, "input_audio"):
		// The Responses API takes no audio: a native account may, so this
		// is the relay's choice of account, not a refusal. The part is left
		// out of a body that only a native account would have honoured.
		w.native = frontAppendOnce(w.native, "input_audio")
		return nil
	case typ == nil:
		return &Error{Param: path.field(".type"), Code: "invalid_request", Message: path.field(" has no type: use \"text\" or, in a user message, \"image_url\" or \"file\".")}
	}
	if media {
		return &Error{Param: path.field(".type"), Code: "invalid_value", Message: path.field(" has the unknown type ") + string(typ) + ": use \"text\", \"image_url\" or \"file\"."}
	}
	return &Error{Param: path.field(".type"), Code: "invalid_value", Message: path.field(" has the type ") + string(typ) + ", which this role cannot carry: use \"text\" parts."}
}

// image writes an input_image part. image_url is {"url","detail"} (or, as
// some clients send it, the URL string itself); detail defaults to auto,
// which the Responses API requires to be present.
func (w *frontWriter) image(v []byte, path frontPath, n *int) *Error {
	url, detail := v, []byte(nil)
	if len(v) > 0 && v[0] == '{' {
		url = nil
		_ = frontTake(v, frontImageKeys, &url, &detail)
	}
	if len(url) == 0 || url[0] != '"' {
		return &Error{Param: path.field(".image_url.url"), Code: "invalid_request", Message: path.field(".image_url needs a url string (https://... or data:image/...;base64,...).")}
	}
	if detail != nil && detail[0] != '"' {
		return &Error{Param: path.field(".image_url.detail"), Code: "invalid_request", Message: path.field(".image_url.detail must be \"auto\", \"low\" or \"high\".")}
	}
	w.item(n)
	w.raw(`{"type":"input_image","image_url":`)
	w.bytes(url)
	w.raw(`,"detail":`)
	if detail == nil {
		w.raw(`"auto"`)
	} else {
		w.bytes(detail)
	}
	w.raw(`}`)
	return nil
}

// file writes an input_file part from {"file_id"} or {"file_data","filename"}.
func (w *frontWriter) file(v []byte, path frontPath, n *int) *Error {
	var id, data, name []byte
	err := frontTake(v, frontFileKeys, &id, &data, &name)
	for _, p := range []*[]byte{&id, &data, &name} {
		if len(*p) > 0 && (*p)[0] != '"' {
			*p = nil // only strings name a file
		}
	}
	if err != nil || id == nil && data == nil {
		return &Error{Param: path.field(".file"), Code: "invalid_request", Message: path.field(".file needs a file_id or a file_data string.")}
	}
	w.item(n)
	w.raw(`{"type":"input_file"`)
	w.opt("file_id", id)
	w.opt("file_data", data)
	w.opt("filename", name)
	w.raw(`}`)
	return nil
}

// assistant writes an assistant message's text (if any) as an output_text
// message, then each tool call as a function_call item. An assistant turn
// that only called tools gets no message item: an empty message between
// the calls and their outputs breaks the pairing of call ids upstream
// (CLIProxyAPI learned this, their issue 2132).
func (w *frontWriter) assistant(m *frontMessage, path frontPath, n *int) *Error {
	if m.content != nil || m.refusal != nil {
		if err := w.assistantText(m, path, n); err != nil {
			return err
		}
	}
	if m.toolCalls == nil {
		return nil
	}
	return frontEach(m.toolCalls, func() *Error {
		return &Error{Param: path.field(".tool_calls"), Code: "invalid_request", Message: path.field(".tool_calls must be an array of tool calls.")}
	}, func(j int, v []byte) *Error {
		return w.toolCall(v, path.at(".tool_calls", j), n)
	})
}

// assistantText writes the message item of an assistant turn; nothing
// when its content is empty.
func (w *frontWriter) assistantText(m *frontMessage, path frontPath, n *int) *Error {
	start := len(w.b)
	w.item(n)
	w.raw(`{"type":"message","role":"assistant","content":[`)
	open := len(w.b)
	parts := 0
	if m.content != nil {
		switch m.content[0] {
		case '"':
			if string(m.content) != `""` {
				w.item(&parts)
				w.raw(`{"type":"output_text","text":`)
				w.bytes(m.content)
				w.raw(`}`)
			}
		case '[':
			if err := w.assistantParts(m.content, path, &parts); err != nil {
				return err
			}
		default:
			return &Error{Param: path.field(".content"), Code: "invalid_request", Message: path.field(".content must be a string or an array of text parts.")}
		}
	}
	if m.refusal != nil && m.refusal[0] == '"' {
		w.item(&parts)
		w.raw(`{"type":"refusal","refusal":`)
		w.bytes(m.refusal)
		w.raw(`}`)
	}
	if len(w.b) == open {
		// Nothing to say: take the item back.
		w.b = w.b[:start]
		*n--
		return nil
	}
	w.raw(`]}`)
	return nil
}

func (w *frontWriter) assistantParts(content []byte, path frontPath, parts *int) *Error {
	return frontEach(content, func() *Error {
		return &Error{Param: path.field(".content"), Code: "invalid_request", Message: path.field(".content must be a string or an array of text parts.")}
	}, func(j int, p []byte) *Error {
		pp := path.at(".content", j)
		typ, text := jsonscan.Member(p, "type"), []byte(nil)
		switch {
		case jsonscan.Equal(typ, "text"):
			text = jsonscan.Member(p, "text")
			if len(text) == 0 || text[0] != '"' {
				return &Error{Param: pp.field(".text"), Code: "invalid_request", Message: pp.field(" is a text part without a text string.")}
			}
			w.item(parts)
			w.raw(`{"type":"output_text","text":`)
		case jsonscan.Equal(typ, "refusal"):
			text = jsonscan.Member(p, "refusal")
			if len(text) == 0 || text[0] != '"' {
				return &Error{Param: pp.field(".refusal"), Code: "invalid_request", Message: pp.field(" is a refusal part without a refusal string.")}
			}
			w.item(parts)
			w.raw(`{"type":"refusal","refusal":`)
		default:
			return &Error{Param: pp.field(".type"), Code: "invalid_value", Message: pp.field(" has a type an assistant message cannot carry: use \"text\" or \"refusal\" parts.")}
		}
		w.bytes(text)
		w.raw(`}`)
		return nil
	})
}

// toolCall writes one function_call (or custom_tool_call) item.
func (w *frontWriter) toolCall(v []byte, path frontPath, n *int) *Error {
	var id, typ, fn, custom []byte
	err := frontTake(v, frontCallKeys, &id, &typ, &fn, &custom)
	if err != nil {
		return &Error{Param: path.String(), Code: "invalid_request", Message: path.field(" is not an object.")}
	}
	if len(id) == 0 || id[0] != '"' {
		return &Error{Param: path.field(".id"), Code: "invalid_request", Message: path.field(" has no id: the tool message that answers it names it in tool_call_id.")}
	}
	if jsonscan.Equal(typ, "custom") {
		name, input := jsonscan.Member(custom, "name"), jsonscan.Member(custom, "input")
		if len(name) == 0 || name[0] != '"' || len(input) == 0 || input[0] != '"' {
			return &Error{Param: path.field(".custom"), Code: "invalid_request", Message: path.field(".custom needs a name and an input string.")}
		}
		w.item(n)
		w.raw(`{"type":"custom_tool_call","call_id":`)
		w.bytes(id)
		w.raw(`,"name":`)
		w.bytes(name)
		w.raw(`,"input":`)
		w.bytes(input)
		w.raw(`}`)
		return nil
	}
	if typ != nil && !jsonscan.Equal(typ, "function") {
		return &Error{Param: path.field(".type"), Code: "invalid_value", Message: path.field(" has the unknown type ") + string(typ) + ": use \"function\"."}
	}
	name, args := jsonscan.Member(fn, "name"), jsonscan.Member(fn, "arguments")
	if len(name) == 0 || name[0] != '"' {
		return &Error{Param: path.field(".function.name"), Code: "invalid_request", Message: path.field(" has no function name.")}
	}
	if args != nil && args[0] != '"' {
		return &Error{Param: path.field(".function.arguments"), Code: "invalid_request", Message: path.field(".function.arguments must be a string of JSON.")}
	}
	w.item(n)
	w.raw(`{"type":"function_call","call_id":`)
	w.bytes(id)
	w.raw(`,"name":`)
	w.bytes(name)
	w.raw(`,"arguments":`)
	if args == nil || string(args) == `""` {
		// A call without arguments still needs a JSON object upstream.
		w.raw(`"{}"`)
	} else {
		w.bytes(args)
	}
	w.raw(`}`)
	return nil
}

// toolResult writes a tool message as the function_call_output that
// answers its call. Text parts become an output string's worth of
// input_text parts; a plain string is copied as it is.
func (w *frontWriter) toolResult(m *frontMessage, path frontPath, n *int) *Error {
	if len(m.toolCallID) == 0 || m.toolCallID[0] != '"' {
		return &Error{Param: path.field(".tool_call_id"), Code: "invalid_request", Message: path.field(" is a tool message without a tool_call_id: name the tool call it answers.")}
	}
	if m.content == nil {
		return &Error{Param: path.field(".content"), Code: "invalid_request", Message: path.field(" has no content: give the tool's output as a string.")}
	}
	w.item(n)
	w.raw(`{"type":"function_call_output","call_id":`)
	w.bytes(m.toolCallID)
	w.raw(`,"output":`)
	if m.content[0] == '"' {
		w.bytes(m.content)
		w.raw(`}`)
		return nil
	}
	w.raw(`[`)
	if err := w.parts(m.content, path, true); err != nil {
		return err
	}
	w.raw(`]}`)
	return nil
}

// frontPath names the request field an error is about, as
// "messages[2].content[0]": built only when an error needs it, so that a
// valid request costs no string per message.
type frontPath struct {
	head string // "messages", "tools"
	i    int
	mid  string // ".content", ".tool_calls"; "" when j is unused
	j    int
}

func frontAt(head string, i int) frontPath { return frontPath{head: head, i: i, j: -1} }

// at is the path of element j of the list mid inside p's element.
func (p frontPath) at(mid string, j int) frontPath { p.mid, p.j = mid, j; return p }

func (p frontPath) String() string {
	s := p.head + "[" + strconv.Itoa(p.i) + "]"
	if p.j >= 0 {
		s += p.mid + "[" + strconv.Itoa(p.j) + "]"
	}
	return s
}

// field is the path of a member of p's element, or p followed by text.
func (p frontPath) field(s string) string { return p.String() + s }
