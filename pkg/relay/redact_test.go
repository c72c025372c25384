package relay

import (
	"net/http"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/account"
	"github.com/proxy-dev/proxy/pkg/redact"
)

// TestSuccessfulStreamRedacted checks what a successful stream's events
// carry of a secret: a key quoted in the held opening or in a delta is
// masked, while an encrypted item whose base64url spells a key's shape
// reaches the client byte for byte (the client sends it back next turn).
func TestSuccessfulStreamRedacted(t *testing.T) {
	blob := "gAAAAABpQ7xK3m_sk-Q9vRt2LwYbN8cZ0aHf4JeU1iXoP6dGsTn5Ey_" + strings.Repeat("Ab9-", 8)
	itemDone := `{"type":"response.output_item.done","output_index":0,"item":{"type":"reasoning","id":"rs_1","summary":[],"encrypted_content":"` + blob + `"}}`
	up := newUpstream(t, script{events: []string{
		`{"type":"response.created","response":{"id":"resp_1","status":"in_progress","instructions":"key ` + echoedKey + `"}}`,
		evInProgress, itemDone, evItemAdded,
		`{"type":"response.output_text.delta","output_index":1,"content_index":0,"delta":"your key is ` + echoedKey + `"}`,
		evCompleted,
	}})
	fp := &fakePool{accounts: []*account.Account{testAccount(t, "A", up)}}
	rl := New(fp, nil, Options{Redact: redact.New([]string{echoedKey})})
	resp, body := post(t, rl.Handler("/responses"), "conv-1", nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %s", resp.StatusCode, body)
	}
	if strings.Contains(body, echoedKey) {
		t.Error("the key reached the client")
	}
	for _, want := range []string{`"instructions":"key [redacted]"`, `"delta":"your key is [redacted]"`, "data: " + itemDone + "\n\n", `"type":"response.completed"`} {
		if !strings.Contains(body, want) {
			t.Errorf("the answer lacks %q", want)
		}
	}
}
