package e2e_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/klauspost/compress/zstd"
)

// sample is a captured Codex CLI request from testdata/codex-samples.
type sample struct {
	Path    string
	Headers map[string]string
	Body    []byte
}

func loadSample(t *testing.T, name string) sample {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "testdata", "codex-samples", name))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Path    string            `json:"path"`
		Headers map[string]string `json:"headers"`
		Body    json.RawMessage   `json:"body"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatal(err)
	}
	return sample{Path: s.Path, Headers: s.Headers, Body: s.Body}
}

// request rebuilds the captured request against base, with the body sent
// plain or zstd-compressed as Codex does with ChatGPT login.
func (s sample) request(t *testing.T, base, encoding string) *http.Request {
	t.Helper()
	body := s.Body
	if encoding == "zstd" {
		enc, _ := zstd.NewWriter(nil)
		body = enc.EncodeAll(s.Body, nil)
		_ = enc.Close()
	}
	req, err := http.NewRequest(http.MethodPost, base+s.Path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range s.Headers {
		switch http.CanonicalHeaderKey(k) {
		case "Host", "Content-Length", "Connection", "Accept-Encoding":
			continue
		}
		req.Header.Set(k, v)
	}
	if encoding == "zstd" {
		req.Header.Set("Content-Encoding", "zstd")
	}
	return req
}
