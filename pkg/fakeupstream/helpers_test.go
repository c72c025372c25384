package fakeupstream

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// testTimeout bounds every request a test makes, so a server that fails to
// flush or to wake up fails the test instead of hanging it.
const testTimeout = 10 * time.Second

// start runs s on a loopback port and closes it when the test ends.
func start(t *testing.T, s *Server) *Server {
	t.Helper()
	if err := s.Start(""); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// do sends one request and returns the response; the caller closes its body.
func do(t *testing.T, ctx context.Context, method, url, body string, header http.Header) *http.Response {
	t.Helper()
	resp, err := send(ctx, method, url, body, header)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return resp
}

func send(ctx context.Context, method, url, body string, header http.Header) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, url, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	return http.DefaultClient.Do(req)
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// sseEvent is one parsed event of a stream.
type sseEvent struct {
	Name string
	Data map[string]any
}

// sseReader reads events one at a time, so a test can check what has arrived
// before the server is allowed to send more.
type sseReader struct{ r *bufio.Reader }

func newSSEReader(r io.Reader) *sseReader { return &sseReader{bufio.NewReader(r)} }

// next returns the next event, or io.EOF at a clean end of stream.
func (s *sseReader) next() (sseEvent, error) {
	var ev sseEvent
	var data []byte
	for {
		line, err := s.r.ReadString('\n')
		if err != nil {
			if err == io.EOF && line == "" && ev.Name == "" && data == nil {
				return ev, io.EOF
			}
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return ev, err
		}
		line = strings.TrimRight(line, "\r\n")
		switch {
		case line == "":
			if ev.Name == "" && data == nil {
				continue
			}
			if err := json.Unmarshal(data, &ev.Data); err != nil {
				return ev, err
			}
			return ev, nil
		case strings.HasPrefix(line, "event: "):
			ev.Name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			data = append(data, strings.TrimPrefix(line, "data: ")...)
		}
	}
}

// readAll reads events until the stream ends and returns them with the error
// that ended it (nil for a clean end).
func (s *sseReader) readAll() ([]sseEvent, error) {
	var out []sseEvent
	for {
		ev, err := s.next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, ev)
	}
}

func names(evs []sseEvent) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Name
	}
	return out
}

// get walks a decoded JSON value along a dotted path ("response.usage.input_tokens").
func get(v any, path string) any {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func num(t *testing.T, v any, path string) int {
	t.Helper()
	f, ok := get(v, path).(float64)
	if !ok {
		t.Fatalf("%s: not a number in %v", path, v)
	}
	return int(f)
}

func decode(t *testing.T, r io.Reader) map[string]any {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("body is not a JSON object: %v\n%s", err, b)
	}
	return m
}

// checkErrorShape asserts an OpenAI-shaped error body and returns its inner
// object.
func checkErrorShape(t *testing.T, body []byte) map[string]any {
	t.Helper()
	var m map[string]map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		t.Fatalf("error body is not JSON: %v\n%s", err, body)
	}
	e, ok := m["error"]
	if !ok {
		t.Fatalf("error body has no error object: %s", body)
	}
	for _, k := range []string{"message", "type", "param", "code"} {
		if _, ok := e[k]; !ok {
			t.Errorf("error object lacks %q: %s", k, body)
		}
	}
	return e
}

func readBodyBytes(t *testing.T, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return b
}

// bodyWith is the JSON of m with fields added or replaced (a nil value
// removes the field).
func bodyWith(t *testing.T, m, fields map[string]any) string {
	t.Helper()
	for k, v := range fields {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// streamBody is a minimal Codex-like streaming request.
func streamBody(model, cacheKey string) string {
	b, _ := json.Marshal(map[string]any{
		"model":            model,
		"stream":           true,
		"store":            false,
		"prompt_cache_key": cacheKey,
		"input": []any{map[string]any{
			"type": "message", "role": "user",
			"content": []any{map[string]any{"type": "input_text", "text": "say hi"}},
		}},
	})
	return string(b)
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
