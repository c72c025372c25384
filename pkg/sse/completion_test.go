package sse

import (
	"strings"
	"testing"
)

func TestCompletion(t *testing.T) {
	usage := `"usage":{"input_tokens":100,"input_tokens_details":{"cached_tokens":80},"output_tokens":20,"output_tokens_details":{"reasoning_tokens":5},"total_tokens":120}`
	fullUsage := Usage{InputTokens: 100, CachedTokens: 80, OutputTokens: 20, ReasoningTokens: 5, TotalTokens: 120}
	tests := []struct {
		name   string
		event  string
		want   Result
		wantOK bool
	}{
		{"completed", `data: {"type":"response.completed","sequence_number":9,"response":{"id":"resp_1","model":"gpt-5.5","status":"completed","output":[{"type":"message","content":[{"type":"output_text","text":"` + strings.Repeat("x", 50<<10) + `"}]}],` + usage + `}}` + "\n\n",
			Result{ResponseID: "resp_1", Model: "gpt-5.5", Status: "completed", Usage: fullUsage}, true},
		{"incomplete", "event: response.incomplete\r\ndata: {\"type\":\"response.incomplete\",\"response\":{\"id\":\"r2\",\"status\":\"incomplete\",\"incomplete_details\":{\"reason\":\"max_output_tokens\"}," + usage + "}}\r\n\r\n",
			Result{ResponseID: "r2", Status: "incomplete", Usage: fullUsage}, true},
		{"failed", `data: {"type":"response.failed","response":{"id":"r3","status":"failed","error":{"code":"server_error","message":"The server had an error"},"usage":null}}` + "\n\n",
			Result{ResponseID: "r3", Status: "failed", ErrorCode: "server_error", ErrorMessage: "The server had an error"}, true},
		{"failed with numeric code and null error fields", `data: {"type":"response.failed","response":{"error":{"code":429,"message":null}}}` + "\n\n",
			Result{ErrorCode: "429"}, true},
		{"usage out of order and partial", `data: {"response":{"usage":{"total_tokens":7,"output_tokens":3}},"type":"response.completed"}` + "\n\n",
			Result{Usage: Usage{OutputTokens: 3, TotalTokens: 7}}, true},
		{"non-integer counts", `data: {"type":"response.completed","response":{"usage":{"input_tokens":12.0,"output_tokens":"x","total_tokens":-1}}}` + "\n\n",
			Result{Usage: Usage{InputTokens: 12, TotalTokens: -1}}, true},
		{"multi-line data", "data: {\"type\":\"response.completed\",\ndata: \"response\":{\"id\":\"r4\"}}\n\n", Result{ResponseID: "r4"}, true},
		{"delta event", `data: {"type":"response.output_text.delta","delta":"x"}` + "\n\n", Result{}, false},
		{"error event", `data: {"type":"error","error":{"code":"x"}}` + "\n\n", Result{}, false},
		{"no response", `data: {"type":"response.completed"}` + "\n\n", Result{}, false},
		{"response not an object", `data: {"type":"response.completed","response":null}` + "\n\n", Result{}, false},
		{"malformed response", `data: {"type":"response.completed","response":{"id":"r",}}` + "\n\n", Result{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Completion([]byte(tt.event))
			if ok != tt.wantOK || got != tt.want {
				t.Fatalf("Completion = %+v, %v\nwant %+v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestResponseJSON(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		want   Result
		wantOK bool
	}{
		{"response", `{"id":"resp_9","object":"response","model":"gpt-5","status":"completed","output":[],"usage":{"input_tokens":3,"input_tokens_details":{"cached_tokens":1},"output_tokens":2,"output_tokens_details":{"reasoning_tokens":0},"total_tokens":5}}`,
			Result{ResponseID: "resp_9", Model: "gpt-5", Status: "completed", Usage: Usage{InputTokens: 3, CachedTokens: 1, OutputTokens: 2, TotalTokens: 5}}, true},
		{"compact reply with usage", ` {"output":[{"type":"compaction"}],"usage":{"input_tokens":9}} `, Result{Usage: Usage{InputTokens: 9}}, true},
		{"escaped id", `{"id":"resp_\u0031"}`, Result{ResponseID: "resp_1"}, true},
		{"no known field", `{"output":[]}`, Result{}, false},
		{"not an object", `[{"id":"x"}]`, Result{}, false},
		{"malformed", `{"id":"x"`, Result{ResponseID: "x"}, false},
		{"empty", ``, Result{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := ResponseJSON([]byte(tt.body))
			if ok != tt.wantOK || (ok && got != tt.want) {
				t.Fatalf("ResponseJSON = %+v, %v\nwant %+v, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestFailure(t *testing.T) {
	type want struct {
		code, message, typ string
		ok                 bool
	}
	tests := []struct {
		name  string
		event string
		want  want
	}{
		{"response.failed",
			`data: {"type":"response.failed","sequence_number":2,"response":{"id":"r","status":"failed","error":{"code":"server_is_overloaded","message":"Our servers are currently overloaded."},"output":[]}}` + "\n\n",
			want{"server_is_overloaded", "Our servers are currently overloaded.", "", true}},
		{"response.failed with an error type",
			`data: {"type":"response.failed","response":{"error":{"type":"usage_limit_reached","code":null,"message":"The usage limit has been reached"}}}` + "\n\n",
			want{"", "The usage limit has been reached", "usage_limit_reached", true}},
		{"response.failed named by the event field only",
			"event: response.failed\ndata: {\"response\":{\"error\":{\"code\":\"server_error\"}}}\n\n",
			want{"server_error", "", "", true}},
		{"response.failed with a null error is still a failure",
			`data: {"type":"response.failed","response":{"error":null}}` + "\n\n",
			want{"", "", "", true}},
		{"response.failed without a response is still a failure",
			`data: {"type":"response.failed"}` + "\n\n",
			want{"", "", "", true}},
		{"response.failed with a numeric code",
			`data: {"type":"response.failed","response":{"error":{"code":503,"message":"busy"}}}` + "\n\n",
			want{"503", "busy", "", true}},
		{"flat error event",
			`data: {"type":"error","sequence_number":2,"code":"server_is_overloaded","message":"Our servers are currently overloaded.","param":null}` + "\n\n",
			want{"server_is_overloaded", "Our servers are currently overloaded.", "", true}},
		{"nested error event",
			`data: {"type":"error","error":{"type":"server_error","code":"server_is_overloaded","message":"overloaded","param":null}}` + "\n\n",
			want{"server_is_overloaded", "overloaded", "server_error", true}},
		{"nested error event without code: the type says",
			`data: {"type":"error","status":429,"error":{"type":"usage_limit_reached","message":"The usage limit has been reached","plan_type":"plus","resets_at":1900000000}}` + "\n\n",
			want{"", "The usage limit has been reached", "usage_limit_reached", true}},
		{"nested fields win over flat ones, flat ones fill the gaps",
			`data: {"type":"error","code":"outer","message":"outer text","error":{"code":"inner","message":""}}` + "\n\n",
			want{"inner", "outer text", "", true}},
		{"error event whose error is a string",
			`data: {"type":"error","error":"upstream went away"}` + "\n\n",
			want{"", "upstream went away", "", true}},
		{"escaped message",
			`data: {"type":"error","code":"invalid_prompt","message":"bad \"prompt\" \u00e9"}` + "\n\n",
			want{"invalid_prompt", `bad "prompt" é`, "", true}},
		{"error event with malformed JSON is still a failure",
			"event: error\ndata: {\"code\":\n\n",
			want{"", "", "", true}},
		{"completed is not a failure",
			`data: {"type":"response.completed","response":{"error":{"code":"x"}}}` + "\n\n",
			want{}},
		{"incomplete is not a failure",
			`data: {"type":"response.incomplete","response":{"incomplete_details":{"reason":"max_output_tokens"}}}` + "\n\n",
			want{}},
		{"delta is not a failure",
			`data: {"type":"response.output_text.delta","delta":"error"}` + "\n\n",
			want{}},
		{"empty event", "", want{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, message, typ, ok := Failure([]byte(tt.event))
			if got := (want{code, message, typ, ok}); got != tt.want {
				t.Fatalf("Failure = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCompletionErrorType(t *testing.T) {
	res, ok := Completion([]byte(`data: {"type":"response.failed","response":{"error":{"type":"server_error","code":"server_is_overloaded","message":"m"}}}` + "\n\n"))
	if !ok || res.ErrorType != "server_error" || res.ErrorCode != "server_is_overloaded" || res.ErrorMessage != "m" {
		t.Fatalf("Completion = %+v, %v", res, ok)
	}
}

// TestFailureOnOtherEventsDoesNotAllocate: the relay asks every held event
// whether it is a failure, so the common answer "no" must be free.
func TestFailureOnOtherEventsDoesNotAllocate(t *testing.T) {
	delta := []byte("data: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n")
	created := []byte("event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"r\"}}\n\n")
	allocs := testing.AllocsPerRun(100, func() {
		if _, _, _, ok := Failure(delta); ok {
			t.Fatal("delta is a failure")
		}
		if _, _, _, ok := Failure(created); ok {
			t.Fatal("created is a failure")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per event, want 0", allocs)
	}
}
