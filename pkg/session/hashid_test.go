package session

import (
	"net/http"
	"testing"
)

// TestHashIDMatchesHeaderKey checks that the key a user can compute from
// their conversation id is the one a request with that id is bound under.
func TestHashIDMatchesHeaderKey(t *testing.T) {
	tests := []struct{ name, header, value, id string }{
		{"session-id", "Session-Id", "019a-my-conversation", "019a-my-conversation"},
		{"session_id with spaces", "Session_id", "  my-conversation ", "my-conversation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := Parse(http.Header{tt.header: {tt.value}}, []byte(`{"model":"gpt-5"}`))
			if err != nil {
				t.Fatal(err)
			}
			if got := HashID(tt.id); got != req.Key.Hash || got != sha(tt.id) {
				t.Errorf("HashID(%q) = %s, request key %s, want %s", tt.id, got, req.Key.Hash, sha(tt.id))
			}
		})
	}
}
