package session

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/bound"
)

// TestParseModelBound checks a model longer than bound.Model, or holding a
// control character, is refused, with the rest of the request parsed and
// the model cut for the record; one at the limit passes whole.
func TestParseModelBound(t *testing.T) {
	long := strings.Repeat("m", bound.Model)
	tests := []struct {
		name      string
		model     string // raw JSON string, quotes included
		wantErr   error
		wantModel string
	}{
		{"real model", `"gpt-5.1-codex-max"`, nil, "gpt-5.1-codex-max"},
		{"at the limit", `"` + long + `"`, nil, long},
		{"one byte over", `"` + long + `m"`, ErrModelTooLong, long[:bound.Model-3] + "…"},
		{"8 MiB", `"` + strings.Repeat("m", 8<<20) + `"`, ErrModelTooLong, long[:bound.Model-3] + "…"},
		{"over once its escapes are decoded", `"` + strings.Repeat(`\u006d`, 100) + strings.Repeat("m", bound.Model-99) + `"`, ErrModelTooLong, long[:bound.Model-3] + "…"},
		{"escaped and too long to decode", `"` + strings.Repeat(`\u006d`, 2*bound.Model) + `"`, ErrModelTooLong, ""},
		{"escape sequence", `"gpt-5\u001b[2J"`, ErrModelControl, "gpt-5\uFFFD[2J"},
		{"newline", `"gpt-5\n"`, ErrModelControl, "gpt-5 "},
		{"C1 control", `"gpt-5\u009b"`, ErrModelControl, "gpt-5\uFFFD"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := `{"model":` + tt.model + `,"stream":true}`
			req, err := Parse(http.Header{"Session_id": {"s1"}}, []byte(body))
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if req.Model != tt.wantModel {
				t.Errorf("Model = %q (%d bytes), want %q", trim(req.Model), len(req.Model), trim(tt.wantModel))
			}
			if !req.Stream || req.Key.Hash != sha("s1") {
				t.Errorf("the rest of the request was not parsed: %+v", req)
			}
		})
	}
}

func trim(s string) string {
	if len(s) > 40 {
		return s[:20] + "..." + s[len(s)-20:]
	}
	return s
}
