package fakeupstream

import (
	"net/http"
	"strings"
	"testing"
)

func TestChatRules(t *testing.T) {
	fn := func(name string) map[string]any {
		return map[string]any{"type": "function", "function": map[string]any{"name": name, "parameters": map[string]any{"type": "object"}}}
	}
	withReasoning := func(m map[string]any) map[string]any { m["reasoning_content"] = "I should run it."; return m }
	sys := map[string]any{"role": "system", "content": "be brief"}
	cases := []struct {
		name     string
		thinking bool
		raw      string         // the body as is, when set
		fields   map[string]any // else chatBody with these fields
		message  string         // "" means the request is accepted
		param    any
		code     any
	}{
		{name: "plain turn", fields: nil},
		{name: "not JSON", raw: `{"model":`, message: "We could not parse the JSON body"},
		{name: "not an object", raw: `[]`, message: "We could not parse the JSON body"},
		{name: "messages missing", fields: map[string]any{"messages": nil}, message: "Missing required parameter: 'messages'.", param: "messages", code: "missing_required_parameter"},
		{name: "messages not an array", fields: map[string]any{"messages": "hi"}, message: "Invalid type for 'messages'", param: "messages", code: "invalid_type"},
		{name: "messages empty", fields: map[string]any{"messages": []any{}}, message: "Invalid 'messages': empty array.", param: "messages", code: "empty_array"},
		{name: "message not an object", fields: map[string]any{"messages": []any{"hi"}}, message: "messages[0]: invalid type", code: "invalid_request_error"},
		{name: "role missing", fields: map[string]any{"messages": []any{map[string]any{"content": "hi"}}}, message: "messages[0]: missing field `role`", code: "invalid_request_error"},
		{
			name:    "developer role",
			fields:  map[string]any{"messages": []any{map[string]any{"role": "developer", "content": "rules"}, userMsg("hi")}},
			message: "messages[0].role: unknown variant `developer`, expected one of `system`, `user`, `assistant`, `tool`", code: "invalid_request_error",
		},
		{name: "assistant without content or calls", fields: map[string]any{"messages": []any{userMsg("hi"), map[string]any{"role": "assistant", "content": nil}, userMsg("again")}}, message: "Invalid assistant message: content or tool_calls must be set"},
		{name: "tool turn answered", fields: map[string]any{"messages": []any{sys, userMsg("ls"), callMsg("call_1", "call_2"), toolMsg("call_2"), toolMsg("call_1")}}},
		{name: "tool turn then user", fields: map[string]any{"messages": []any{userMsg("ls"), callMsg("call_1"), toolMsg("call_1"), map[string]any{"role": "assistant", "content": "done"}, userMsg("thanks")}}},
		{name: "tool message first", fields: map[string]any{"messages": []any{toolMsg("call_1"), userMsg("hi")}}, message: "Messages with role 'tool' must be a response to a preceding message with 'tool_calls'", code: "invalid_request_error"},
		{name: "tool message answers another id", fields: map[string]any{"messages": []any{userMsg("ls"), callMsg("call_1"), toolMsg("call_9")}}, message: "Messages with role 'tool' must be a response"},
		{name: "tool message answers twice", fields: map[string]any{"messages": []any{userMsg("ls"), callMsg("call_1"), toolMsg("call_1"), toolMsg("call_1")}}, message: "Messages with role 'tool' must be a response"},
		{name: "tool message after a user message", fields: map[string]any{"messages": []any{userMsg("ls"), callMsg("call_1"), toolMsg("call_1"), userMsg("hi"), toolMsg("call_1")}}, message: "Messages with role 'tool' must be a response"},
		{name: "call unanswered before user", fields: map[string]any{"messages": []any{userMsg("ls"), callMsg("call_1", "call_2"), toolMsg("call_1"), userMsg("hi")}}, message: "(insufficient tool messages following tool_calls message)", code: "invalid_request_error"},
		{name: "call unanswered at the end", fields: map[string]any{"messages": []any{userMsg("ls"), callMsg("call_1")}}, message: "must be followed by tool messages responding to each 'tool_call_id'"},
		{name: "responses input", fields: map[string]any{"input": []any{}}, message: "Unrecognized request argument supplied: input"},
		{name: "responses instructions", fields: map[string]any{"instructions": "be brief"}, message: "Unrecognized request argument supplied: instructions"},
		{name: "responses text", fields: map[string]any{"text": map[string]any{"verbosity": "low"}}, message: "Unrecognized request argument supplied: text"},
		{name: "responses include", fields: map[string]any{"include": []any{"reasoning.encrypted_content"}}, message: "Unrecognized request argument supplied: include"},
		{name: "responses store", fields: map[string]any{"store": false}, message: "Unrecognized request argument supplied: store"},
		{name: "responses previous_response_id", fields: map[string]any{"previous_response_id": "resp_1"}, message: "Unrecognized request argument supplied: previous_response_id"},
		{name: "responses reasoning object", fields: map[string]any{"reasoning": map[string]any{"effort": "high"}}, message: "Unrecognized request argument supplied: reasoning"},
		{name: "chat reasoning_effort", fields: map[string]any{"reasoning_effort": "high", "max_tokens": 100, "temperature": 0.2}},
		{name: "function tools", fields: map[string]any{"tools": []any{fn("exec"), fn("mcp__fs__read-file"), fn(strings.Repeat("a", 64))}, "tool_choice": "auto"}},
		{name: "tool name with a dot", fields: map[string]any{"tools": []any{fn("exec"), fn("fs.read")}}, message: "Invalid 'tools[1].function.name': string does not match pattern.", param: "tools[1].function.name", code: "invalid_value"},
		{name: "tool name too long", fields: map[string]any{"tools": []any{fn(strings.Repeat("a", 65))}}, message: "Invalid 'tools[0].function.name'", param: "tools[0].function.name"},
		{name: "tool name empty", fields: map[string]any{"tools": []any{fn("")}}, message: "Invalid 'tools[0].function.name'", param: "tools[0].function.name"},
		{name: "custom tool", fields: map[string]any{"tools": []any{map[string]any{"type": "custom", "name": "apply_patch"}}}, message: "Invalid value: 'custom'. Supported values are: 'function'.", param: "tools[0].type", code: "invalid_value"},
		{name: "responses-style flat tool", fields: map[string]any{"tools": []any{map[string]any{"type": "function", "name": "exec"}}}, message: "Missing required parameter: 'tools[0].function'.", param: "tools[0].function"},
		{
			name: "thinking tool turn without reasoning", thinking: true,
			fields:  map[string]any{"messages": []any{sys, userMsg("ls"), callMsg("call_1"), toolMsg("call_1")}},
			message: "Missing `reasoning_content` field in the assistant message at message index 2.", code: "invalid_request_error",
		},
		{
			name: "thinking tool turn with reasoning", thinking: true,
			fields: map[string]any{"messages": []any{sys, userMsg("ls"), withReasoning(callMsg("call_1")), toolMsg("call_1")}},
		},
		{
			name: "thinking second call without reasoning", thinking: true,
			fields:  map[string]any{"messages": []any{userMsg("ls"), withReasoning(callMsg("call_1")), toolMsg("call_1"), callMsg("call_2"), toolMsg("call_2")}},
			message: "at message index 3.",
		},
		{
			name: "thinking earlier turn needs none", thinking: true,
			fields: map[string]any{"messages": []any{userMsg("ls"), callMsg("call_1"), toolMsg("call_1"), map[string]any{"role": "assistant", "content": "done"}, userMsg("thanks")}},
		},
		{
			name:   "no thinking needs none",
			fields: map[string]any{"messages": []any{userMsg("ls"), callMsg("call_1"), toolMsg("call_1")}},
		},
	}
	plain := startChat(t)
	thinking := startChat(t, WithThinking())
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := plain
			if tc.thinking {
				s = thinking
			}
			body := tc.raw
			if body == "" {
				body = chatBody(t, tc.fields)
			}
			resp := postChat(t, s, body, nil)
			b := readBodyBytes(t, resp)
			if tc.message == "" {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("status %d, want 200: %s", resp.StatusCode, b)
				}
				return
			}
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", resp.StatusCode, b)
			}
			e := checkErrorShape(t, b)
			if msg, _ := e["message"].(string); !strings.Contains(msg, tc.message) {
				t.Errorf("message %q, want it to contain %q", msg, tc.message)
			}
			if e["type"] != "invalid_request_error" {
				t.Errorf("type %v", e["type"])
			}
			if e["param"] != tc.param {
				t.Errorf("param %v, want %v", e["param"], tc.param)
			}
			if tc.code != nil && e["code"] != tc.code {
				t.Errorf("code %v, want %v", e["code"], tc.code)
			}
		})
	}
}
