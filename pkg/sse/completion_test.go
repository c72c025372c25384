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
