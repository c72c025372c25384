package session

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const samplesDir = "../../testdata/codex-samples"

// sample is one captured Codex request.
type sample struct {
	name   string
	header http.Header
	body   []byte // nil when the request had none (the WebSocket attempt)
}

func loadSamples(tb testing.TB) []sample {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join(samplesDir, "*.json"))
	if err != nil || len(paths) == 0 {
		tb.Fatalf("no codex samples in %s: %v", samplesDir, err)
	}
	var out []sample
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		var s struct {
			Headers map[string]string `json:"headers"`
			Body    json.RawMessage   `json:"body"`
		}
		if err := json.Unmarshal(raw, &s); err != nil {
			tb.Fatalf("%s: %v", p, err)
		}
		h := http.Header{}
		for k, v := range s.Headers {
			h.Add(k, v) // canonicalises, as the server does
		}
		out = append(out, sample{name: strings.TrimSuffix(filepath.Base(p), ".json"), header: h, body: s.Body})
	}
	return out
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// mixed is the expected hash of a fallback key.
func mixed(lead, user string) string { return sha(lead + "\x00" + user) }

// withoutFields re-encodes a JSON object without the named members.
func withoutFields(tb testing.TB, body []byte, names ...string) []byte {
	tb.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		tb.Fatal(err)
	}
	for _, n := range names {
		delete(m, n)
	}
	out, err := json.Marshal(m)
	if err != nil {
		tb.Fatal(err)
	}
	return out
}
