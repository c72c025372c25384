package relay

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/translate"
)

// The events of a short answer, as the loop writes them: the opening at
// once, then one event a write.
var chatWriterAnswer = []string{
	"event: response.created\ndata: {\"type\":\"response.created\",\"response\":{\"id\":\"resp_1\",\"created_at\":1,\"model\":\"gpt-5\",\"status\":\"in_progress\",\"output\":[]}}\n\n",
	"event: response.output_item.added\ndata: {\"type\":\"response.output_item.added\",\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"content\":[]}}\n\n" +
		"event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"item_id\":\"msg_1\",\"output_index\":0,\"delta\":\"Hi\"}\n\n",
	"event: response.output_item.done\ndata: {\"type\":\"response.output_item.done\",\"output_index\":0,\"item\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"status\":\"completed\",\"content\":[{\"type\":\"output_text\",\"text\":\"Hi\"}]}}\n\n",
	"event: response.completed\ndata: {\"type\":\"response.completed\",\"response\":{\"id\":\"resp_1\",\"created_at\":1,\"model\":\"gpt-5\",\"status\":\"completed\",\"output\":[],\"usage\":{\"input_tokens\":5,\"output_tokens\":1,\"total_tokens\":6}}}\n\n",
}

func TestChatWriter(t *testing.T) {
	const failed = "event: response.failed\ndata: {\"type\":\"response.failed\",\"response\":{\"status\":\"failed\",\"error\":{\"code\":\"server_error\",\"message\":\"boom\"}}}\n\n"
	tests := []struct {
		name        string
		stream      bool
		status      int
		contentType string
		writes      []string
		wantStatus  int
		wantType    string
		want        []string // parts of the body, in order
		notWant     string
	}{
		{"stream to chunks", true, 200, "text/event-stream", chatWriterAnswer, 200, "text/event-stream",
			[]string{`"role":"assistant"`, `"content":"Hi"`, `"finish_reason":"stop"`, "data: [DONE]\n\n"}, "event:"},
		{"stream gathered for a JSON client", false, 200, "text/event-stream", chatWriterAnswer, 200, "application/json",
			[]string{`"object":"chat.completion"`, `"content":"Hi"`, `"prompt_tokens":5`}, "data:"},
		{"a gathered stream that fails", false, 200, "text/event-stream", append(chatWriterAnswer[:2:2], failed), 502, "application/json",
			[]string{`"message":"upstream failed the response: boom"`, `"code":"server_error"`}, "chat.completion"},
		{"a gathered stream cut short", false, 200, "text/event-stream", chatWriterAnswer[:2], 502, "application/json",
			[]string{`"code":"upstream_stream_interrupted"`}, ""},
		{"an error answer as it came", true, 429, "application/json", []string{`{"error":{"message":"slow down","type":"requests","param":null,"code":"rate_limit_exceeded"}}`}, 429, "application/json",
			[]string{`"code":"rate_limit_exceeded"`}, ""},
		{"a native JSON answer as it came", false, 200, "application/json", []string{`{"id":"chatcmpl-1","object":"chat.completion","choices":[]}`}, 200, "application/json",
			[]string{`{"id":"chatcmpl-1","object":"chat.completion","choices":[]}`}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rr := httptest.NewRecorder()
			cw := newChatWriter(rr, translate.ChatRequest{Model: "gpt-5", Stream: tt.stream}, noRedact{})
			cw.Header().Set("Content-Type", tt.contentType)
			cw.Header().Set("Content-Length", "999")
			cw.WriteHeader(tt.status)
			for _, w := range tt.writes {
				if _, err := cw.Write([]byte(w)); err != nil {
					t.Fatal(err)
				}
			}
			rec := &event.Decision{}
			cw.finish(rec)
			body := rr.Body.String()
			if rr.Code != tt.wantStatus || !strings.HasPrefix(rr.Header().Get("Content-Type"), tt.wantType) {
				t.Errorf("answer %d %s, want %d %s\n%s", rr.Code, rr.Header().Get("Content-Type"), tt.wantStatus, tt.wantType, body)
			}
			if cl := rr.Header().Get("Content-Length"); cl == "999" && tt.status == http.StatusOK && tt.contentType == "text/event-stream" {
				t.Errorf("the loop's Content-Length went on with a converted body")
			}
			at := 0
			for _, w := range tt.want {
				i := strings.Index(body[at:], w)
				if i < 0 {
					t.Fatalf("body lacks %q after byte %d:\n%s", w, at, body)
				}
				at += i + len(w)
			}
			if tt.notWant != "" && strings.Contains(body, tt.notWant) {
				t.Errorf("body has %q:\n%s", tt.notWant, body)
			}
			if tt.wantStatus != http.StatusOK && tt.status == http.StatusOK && rec.Status != tt.wantStatus {
				t.Errorf("the record says %d, the client got %d", rec.Status, tt.wantStatus)
			}
		})
	}
}
