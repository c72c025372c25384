package fakeupstream

import (
	"net/http"
	"strings"
	"testing"
)

// TestAPIKeyEcho checks the echoing upstream quotes exactly the key it
// refused, and still accepts the right one.
func TestAPIKeyEcho(t *testing.T) {
	s := start(t, New("echo", WithAPIKeyEcho("sk-right-0123456789abcdef")))
	tests := []struct {
		name       string
		key        string
		wantStatus int
		wantQuoted bool
	}{
		{"wrong key is quoted", "sk-presented-0123456789abcdef", 401, true},
		{"right key passes", "sk-right-0123456789abcdef", 200, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, testCtx(t), http.MethodPost, s.URL()+"/v1/responses", streamBody("gpt-5", ""), http.Header{"Authorization": {"Bearer " + tc.key}})
			body := readBodyBytes(t, resp)
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d", resp.StatusCode, tc.wantStatus)
			}
			if tc.wantQuoted {
				e := checkErrorShape(t, body)
				if msg, _ := e["message"].(string); !strings.Contains(msg, "Incorrect API key provided: "+tc.key+".") || e["code"] != "invalid_api_key" {
					t.Errorf("the 401 does not quote the presented key the way the real API words it")
				}
			}
		})
	}
}
