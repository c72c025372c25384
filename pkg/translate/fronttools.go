package translate

import (
	"strconv"

	"github.com/proxy-dev/proxy/pkg/jsonscan"
)

// tools writes the chat tools as Responses tools, whose function tools are
// flat ({"type":"function","name",...}, no "function" wrapper).
func (w *frontWriter) tools(list []byte) *Error {
	w.raw(`,"tools":[`)
	n := 0
	err := frontEach(list, func() *Error {
		return &Error{Param: "tools", Code: "invalid_request", Message: "tools must be an array of {\"type\":\"function\",\"function\":{...}}."}
	}, func(i int, v []byte) *Error {
		return w.tool(v, frontAt("tools", i), &n)
	})
	if err != nil {
		return err
	}
	w.raw(`]`)
	return nil
}

func (w *frontWriter) tool(v []byte, path frontPath, n *int) *Error {
	var typ, fn, custom []byte
	err := frontTake(v, frontToolKeys, &typ, &fn, &custom)
	if err != nil {
		return &Error{Param: path.String(), Code: "invalid_request", Message: path.field(" is not an object.")}
	}
	switch {
	case jsonscan.Equal(typ, "function"):
		return w.functionTool(fn, path, n)
	case jsonscan.Equal(typ, "custom"):
		return w.customTool(custom, path, n)
	}
	return &Error{Param: path.field(".type"), Code: "invalid_value", Message: path.field(" has the unknown type ") + string(typ) + ": use \"function\"."}
}

// functionTool writes one function tool. strict is written even when the
// client left it out: Chat Completions defaults it to false, the Responses
// API to true, which would reject the usual non-strict schemas.
func (w *frontWriter) functionTool(fn []byte, path frontPath, n *int) *Error {
	var name, desc, params, strict []byte
	err := frontTake(fn, frontFunctionKeys, &name, &desc, &params, &strict)
	switch {
	case err != nil:
		return &Error{Param: path.field(".function"), Code: "invalid_request", Message: path.field(".function must be an object {\"name\",\"description\",\"parameters\"}.")}
	case len(name) == 0 || name[0] != '"':
		return &Error{Param: path.field(".function.name"), Code: "invalid_request", Message: path.field(".function has no name.")}
	case desc != nil && desc[0] != '"':
		return &Error{Param: path.field(".function.description"), Code: "invalid_request", Message: path.field(".function.description must be a string.")}
	case params != nil && params[0] != '{':
		return &Error{Param: path.field(".function.parameters"), Code: "invalid_request", Message: path.field(".function.parameters must be a JSON Schema object.")}
	case strict != nil && string(strict) != "true" && string(strict) != "false":
		return &Error{Param: path.field(".function.strict"), Code: "invalid_request", Message: path.field(".function.strict must be true or false.")}
	}
	w.item(n)
	w.raw(`{"type":"function","name":`)
	w.bytes(name)
	w.opt("description", desc)
	w.raw(`,"parameters":`)
	if params == nil {
		// A function without parameters takes none; the Responses API
		// wants the schema said.
		w.raw(`{"type":"object","properties":{}}`)
	} else {
		w.bytes(params)
	}
	w.raw(`,"strict":`)
	if strict == nil {
		w.raw(`false`)
	} else {
		w.bytes(strict)
	}
	w.raw(`}`)
	return nil
}

// customTool writes a freeform tool ({"name","description","format"}),
// which both APIs have; only the wrapper differs.
func (w *frontWriter) customTool(c []byte, path frontPath, n *int) *Error {
	var name, desc, format []byte
	err := frontTake(c, frontCustomKeys, &name, &desc, &format)
	if err != nil || len(name) == 0 || name[0] != '"' {
		return &Error{Param: path.field(".custom.name"), Code: "invalid_request", Message: path.field(".custom needs a name.")}
	}
	w.item(n)
	w.raw(`{"type":"custom","name":`)
	w.bytes(name)
	w.opt("description", desc)
	w.opt("format", format)
	w.raw(`}`)
	return nil
}

// toolChoice writes tool_choice: "none", "auto" and "required" as they
// are; a named function {"type":"function","function":{"name"}} flattened to
// {"type":"function","name"}; allowed_tools likewise.
func (w *frontWriter) toolChoice(v []byte) *Error {
	const path = "tool_choice"
	if v[0] == '"' {
		if !jsonscan.Equal(v, "none") && !jsonscan.Equal(v, "auto") && !jsonscan.Equal(v, "required") {
			return &Error{Param: path, Code: "invalid_value", Message: "tool_choice must be \"none\", \"auto\", \"required\" or {\"type\":\"function\",\"function\":{\"name\":...}}."}
		}
		w.bytes(v)
		return nil
	}
	typ := jsonscan.Member(v, "type")
	switch {
	case jsonscan.Equal(typ, "function"):
		name := jsonscan.Member(jsonscan.Member(v, "function"), "name")
		if len(name) == 0 || name[0] != '"' {
			return &Error{Param: path + ".function.name", Code: "invalid_request", Message: "tool_choice names no function: {\"type\":\"function\",\"function\":{\"name\":...}}."}
		}
		w.raw(`{"type":"function","name":`)
		w.bytes(name)
		w.raw(`}`)
		return nil
	case jsonscan.Equal(typ, "custom"):
		name := jsonscan.Member(jsonscan.Member(v, "custom"), "name")
		if len(name) == 0 || name[0] != '"' {
			return &Error{Param: path + ".custom.name", Code: "invalid_request", Message: "tool_choice names no custom tool: {\"type\":\"custom\",\"custom\":{\"name\":...}}."}
		}
		w.raw(`{"type":"custom","name":`)
		w.bytes(name)
		w.raw(`}`)
		return nil
	case jsonscan.Equal(typ, "allowed_tools"):
		return w.allowedTools(jsonscan.Member(v, "allowed_tools"))
	}
	return &Error{Param: path, Code: "invalid_value", Message: "tool_choice must be \"none\", \"auto\", \"required\" or {\"type\":\"function\",\"function\":{\"name\":...}}."}
}

// allowedTools writes {"type":"allowed_tools","mode","tools":[...]} from
// the chat shape {"mode","tools":[{"type":"function","function":{"name"}}]}.
func (w *frontWriter) allowedTools(a []byte) *Error {
	const path = "tool_choice.allowed_tools"
	mode, tools := jsonscan.Member(a, "mode"), jsonscan.Member(a, "tools")
	if len(mode) == 0 || mode[0] != '"' || len(tools) == 0 || tools[0] != '[' {
		return &Error{Param: path, Code: "invalid_request", Message: path + " needs a mode (\"auto\" or \"required\") and a tools list."}
	}
	w.raw(`{"type":"allowed_tools","mode":`)
	w.bytes(mode)
	w.raw(`,"tools":[`)
	n := 0
	var perr *Error
	_ = jsonscan.ArrayElems(tools, func(t []byte) bool {
		typ := jsonscan.Member(t, "type")
		name := jsonscan.Member(jsonscan.Member(t, "function"), "name")
		if jsonscan.Equal(typ, "custom") {
			name = jsonscan.Member(jsonscan.Member(t, "custom"), "name")
		}
		if len(typ) == 0 || typ[0] != '"' || len(name) == 0 || name[0] != '"' {
			perr = &Error{Param: path + ".tools[" + strconv.Itoa(n) + "]", Code: "invalid_request", Message: path + ".tools lists a tool without a type and name."}
			return false
		}
		w.item(&n)
		w.raw(`{"type":`)
		w.bytes(typ)
		w.raw(`,"name":`)
		w.bytes(name)
		w.raw(`}`)
		return true
	})
	if perr != nil {
		return perr
	}
	w.raw(`]}`)
	return nil
}

// text writes the text member: response_format as text.format (the
// json_schema's members flattened into it) and verbosity.
func (w *frontWriter) text(format, verbosity []byte) *Error {
	w.raw(`,"text":{`)
	if format != nil {
		if err := w.format(format); err != nil {
			return err
		}
	}
	if verbosity != nil {
		if verbosity[0] != '"' {
			return &Error{Param: "verbosity", Code: "invalid_request", Message: "verbosity must be \"low\", \"medium\" or \"high\"."}
		}
		if format != nil {
			w.raw(`,`)
		}
		w.raw(`"verbosity":`)
		w.bytes(verbosity)
	}
	w.raw(`}`)
	return nil
}

func (w *frontWriter) format(v []byte) *Error {
	typ := jsonscan.Member(v, "type")
	switch {
	case jsonscan.Equal(typ, "text"), jsonscan.Equal(typ, "json_object"):
		w.raw(`"format":{"type":`)
		w.bytes(typ)
		w.raw(`}`)
		return nil
	case !jsonscan.Equal(typ, "json_schema"):
		return &Error{Param: "response_format.type", Code: "invalid_value", Message: "response_format.type must be \"text\", \"json_object\" or \"json_schema\"."}
	}
	var name, desc, schema, strict []byte
	err := frontTake(jsonscan.Member(v, "json_schema"), frontSchemaKeys, &name, &desc, &schema, &strict)
	switch {
	case err != nil:
		return &Error{Param: "response_format.json_schema", Code: "invalid_request", Message: "response_format.json_schema must be an object {\"name\",\"schema\",\"strict\"}."}
	case len(name) == 0 || name[0] != '"':
		return &Error{Param: "response_format.json_schema.name", Code: "invalid_request", Message: "response_format.json_schema needs a name."}
	case schema != nil && schema[0] != '{':
		return &Error{Param: "response_format.json_schema.schema", Code: "invalid_request", Message: "response_format.json_schema.schema must be a JSON Schema object."}
	case strict != nil && string(strict) != "true" && string(strict) != "false":
		return &Error{Param: "response_format.json_schema.strict", Code: "invalid_request", Message: "response_format.json_schema.strict must be true or false."}
	case desc != nil && desc[0] != '"':
		return &Error{Param: "response_format.json_schema.description", Code: "invalid_request", Message: "response_format.json_schema.description must be a string."}
	}
	w.raw(`"format":{"type":"json_schema","name":`)
	w.bytes(name)
	w.opt("description", desc)
	w.opt("schema", schema)
	w.opt("strict", strict)
	w.raw(`}`)
	return nil
}
