package fakeupstream

import (
	"encoding/json"
	"io"
	"net/http"
	"testing"
)

func TestModelsShapes(t *testing.T) {
	const token, acct = "access-token-0123456789", "acct-1"
	auth := http.Header{"Authorization": {"Bearer " + token}, "Chatgpt-Account-Id": {acct}}
	chat := start(t, New("chat", WithChatGPT(token, acct), WithModels("gpt-5.5", "gpt-5")))
	plain := start(t, New("plain", WithModels("gpt-5")))

	tests := []struct {
		name       string
		srv        *Server
		path       string
		wantStatus int
		wantSlugs  []string // Codex shape
		wantIDs    []string // OpenAI shape
		wantETag   bool
	}{
		{name: "chatgpt with client_version", srv: chat, path: "/backend-api/codex/models?client_version=0.169.0", wantStatus: 200, wantSlugs: []string{"gpt-5.5", "gpt-5"}, wantETag: true},
		{name: "chatgpt without client_version", srv: chat, path: "/backend-api/codex/models", wantStatus: 400},
		{name: "api server keeps the OpenAI list", srv: plain, path: "/v1/models?client_version=0.169.0", wantStatus: 200, wantIDs: []string{"gpt-5"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			resp := do(t, testCtx(t), http.MethodGet, tc.srv.URL()+tc.path, "", auth)
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.wantStatus {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tc.wantStatus, body)
			}
			if got := resp.Header.Get("ETag") != ""; got != tc.wantETag {
				t.Errorf("ETag present %v, want %v", got, tc.wantETag)
			}
			if tc.wantStatus != 200 {
				return
			}
			var list struct {
				Models []map[string]any `json:"models"`
				Data   []struct {
					ID string `json:"id"`
				} `json:"data"`
			}
			if err := json.Unmarshal(body, &list); err != nil {
				t.Fatal(err)
			}
			if len(list.Models) != len(tc.wantSlugs) || len(list.Data) != len(tc.wantIDs) {
				t.Fatalf("got %d models and %d data entries: %s", len(list.Models), len(list.Data), body)
			}
			for i, m := range list.Models {
				if m["slug"] != tc.wantSlugs[i] {
					t.Errorf("models[%d].slug = %v, want %s", i, m["slug"], tc.wantSlugs[i])
				}
				// The fields Codex's ModelInfo cannot do without.
				for _, k := range []string{"display_name", "supported_reasoning_levels", "shell_type", "visibility", "supported_in_api", "priority", "truncation_policy", "supports_parallel_tool_calls", "experimental_supported_tools", "supports_reasoning_summaries", "support_verbosity"} {
					if _, ok := m[k]; !ok {
						t.Errorf("models[%d] lacks %s", i, k)
					}
				}
			}
			for i, d := range list.Data {
				if d.ID != tc.wantIDs[i] {
					t.Errorf("data[%d].id = %s, want %s", i, d.ID, tc.wantIDs[i])
				}
			}
		})
	}
}

func TestFailModels(t *testing.T) {
	s := start(t, New("alpha", WithModelsFailing(http.StatusInternalServerError)))
	s.Script(Fault{Status: http.StatusTooManyRequests})
	get := func() int {
		resp := do(t, testCtx(t), http.MethodGet, s.URL()+"/v1/models", "", nil)
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode >= 400 {
			checkErrorShape(t, body)
		}
		return resp.StatusCode
	}
	if got := get(); got != http.StatusInternalServerError {
		t.Fatalf("failing models answered %d, want 500", got)
	}
	s.FailModels(0)
	if got := get(); got != http.StatusTooManyRequests {
		t.Fatalf("first request after recovery answered %d, want the scripted 429 (a failing /models must not use up a Fault)", got)
	}
	if got := get(); got != http.StatusOK {
		t.Fatalf("recovered models answered %d, want 200", got)
	}
	s.FailModels(http.StatusBadGateway)
	if got := get(); got != http.StatusBadGateway {
		t.Fatalf("models answered %d, want 502", got)
	}
}
