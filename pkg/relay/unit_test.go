package relay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/klauspost/compress/zstd"

	"github.com/proxy-dev/proxy/pkg/redact"
)

func gzipped(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func zstded(t testing.TB, b []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer enc.Close()
	return enc.EncodeAll(b, nil)
}

// failingReader fails any read: a body that must not be read at all.
type failingReader struct{}

func (failingReader) Read([]byte) (int, error) {
	return 0, errors.New("body read although refused up front")
}

func TestReadBody(t *testing.T) {
	const limit = 4096
	body := []byte(`{"model":"gpt-5","stream":true,"input":[{"role":"user","content":"` + strings.Repeat("a", 200) + `"}]}`)
	big := bytes.Repeat([]byte("x"), limit+1)
	exact := bytes.Repeat([]byte("y"), limit)

	tests := []struct {
		name     string
		encoding string
		raw      io.Reader
		length   int64 // Content-Length; -1 unknown (chunked)
		want     []byte
		wantErr  error // errBodyTooLarge, errEncoding, or errAny
	}{
		{name: "identity with exact Content-Length", raw: bytes.NewReader(body), length: int64(len(body)), want: body},
		{name: "identity named explicitly", encoding: "identity", raw: bytes.NewReader(body), length: int64(len(body)), want: body},
		{name: "identity chunked", raw: bytes.NewReader(body), length: -1, want: body},
		{name: "exactly the limit", raw: bytes.NewReader(exact), length: limit, want: exact},
		{name: "exactly the limit, chunked", raw: bytes.NewReader(exact), length: -1, want: exact},
		{name: "over the limit by Content-Length, not read", raw: failingReader{}, length: limit + 1, wantErr: errBodyTooLarge},
		{name: "over the limit, chunked", raw: bytes.NewReader(big), length: -1, wantErr: errBodyTooLarge},
		{name: "shorter than its Content-Length", raw: bytes.NewReader(body[:10]), length: int64(len(body)), wantErr: errAny},
		{name: "gzip", encoding: "gzip", raw: bytes.NewReader(gzipped(t, body)), length: -1, want: body},
		{name: "gzip with Content-Length of the compressed body", encoding: "gzip", raw: bytes.NewReader(gzipped(t, body)), length: int64(len(gzipped(t, body))), want: body},
		{name: "gzip spelled oddly", encoding: " GZip ", raw: bytes.NewReader(gzipped(t, body)), length: -1, want: body},
		{name: "gzip over the limit after decompression", encoding: "gzip", raw: bytes.NewReader(gzipped(t, big)), length: int64(len(gzipped(t, big))), wantErr: errBodyTooLarge},
		{name: "gzip exactly the limit", encoding: "gzip", raw: bytes.NewReader(gzipped(t, exact)), length: -1, want: exact},
		{name: "corrupt gzip header", encoding: "gzip", raw: strings.NewReader("this is not gzip at all"), length: 23, wantErr: errEncoding},
		{name: "truncated gzip stream", encoding: "gzip", raw: bytes.NewReader(gzipped(t, body)[:20]), length: 20, wantErr: errEncoding},
		{name: "zstd", encoding: "zstd", raw: bytes.NewReader(zstded(t, body)), length: -1, want: body},
		{name: "zstd exactly the limit", encoding: "zstd", raw: bytes.NewReader(zstded(t, exact)), length: -1, want: exact},
		{name: "zstd one byte over the limit", encoding: "zstd", raw: bytes.NewReader(zstded(t, big)), length: -1, wantErr: errBodyTooLarge},
		{name: "zstd twice the limit", encoding: "zstd", raw: bytes.NewReader(zstded(t, bytes.Repeat([]byte("z"), 2*limit))), length: int64(len(zstded(t, bytes.Repeat([]byte("z"), 2*limit)))), wantErr: errBodyTooLarge},
		{name: "corrupt zstd", encoding: "zstd", raw: strings.NewReader("definitely not zstd"), length: -1, wantErr: errEncoding},
		{name: "unknown encoding", encoding: "br", raw: bytes.NewReader(body), length: int64(len(body)), wantErr: errEncoding},
		{name: "deflate is not supported", encoding: "deflate", raw: bytes.NewReader(body), length: int64(len(body)), wantErr: errEncoding},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/v1/responses", io.NopCloser(tc.raw))
			r.ContentLength = tc.length
			if tc.encoding != "" {
				r.Header.Set("Content-Encoding", tc.encoding)
			}
			got, _, err := readBody(r, limit, nil)
			if tc.wantErr != nil {
				if err == nil {
					t.Fatalf("readBody = %d bytes, want error %v", len(got), tc.wantErr)
				}
				if tc.wantErr != errAny && !errors.Is(err, tc.wantErr) {
					t.Fatalf("readBody error = %v, want %v", err, tc.wantErr)
				}
				if tc.wantErr == errAny && (errors.Is(err, errBodyTooLarge) || errors.Is(err, errEncoding)) {
					t.Fatalf("readBody error = %v, want a plain read error", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("readBody: %v", err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("readBody = %q, want %q", got, tc.want)
			}
			if tc.length >= 0 && tc.encoding == "" && cap(got) != len(got) {
				t.Errorf("known length: cap %d, len %d, want one exact allocation", cap(got), len(got))
			}
		})
	}
}

// errAny in TestReadBody wants an error that is neither of the typed ones.
var errAny = errors.New("any error")

func TestOutgoingHeader(t *testing.T) {
	// Parse a raw request the way the server does, so header names are
	// canonicalised exactly as in production (session_id -> Session_id).
	raw := "POST /v1/responses HTTP/1.1\r\n" +
		"Host: 127.0.0.1:8787\r\n" +
		"Authorization: Bearer client-secret-key\r\n" +
		"X-Api-Key: client-secret-key\r\n" +
		"Cookie: a=b\r\n" +
		"Content-Type: application/json\r\n" +
		"Content-Length: 2\r\n" +
		"Content-Encoding: zstd\r\n" +
		"Accept: text/event-stream\r\n" +
		"Accept-Encoding: gzip, zstd\r\n" +
		"Connection: keep-alive, X-Hop-Custom\r\n" +
		"X-Hop-Custom: per-connection\r\n" +
		"Keep-Alive: timeout=5\r\n" +
		"Proxy-Authorization: Basic Zm9vOmJhcg==\r\n" +
		"Proxy-Connection: keep-alive\r\n" +
		"Te: trailers\r\n" +
		"Trailer: X-Checksum\r\n" +
		"Upgrade: h2c\r\n" +
		"Chatgpt-Account-Id: client-chosen-account\r\n" +
		"Openai-Organization: org-client\r\n" +
		"Openai-Project: proj-client\r\n" +
		"X-Forwarded-For: 10.0.0.9\r\n" +
		"session-id: 0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\r\n" +
		"session_id: 0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\r\n" +
		"thread-id: 0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\r\n" +
		"x-client-request-id: 0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b\r\n" +
		"x-codex-window-id: 0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b:0\r\n" +
		"x-codex-turn-metadata: {\"turn_id\":\"t1\"}\r\n" +
		"x-codex-turn-state: opaque-routing-token\r\n" +
		"originator: codex_exec\r\n" +
		"user-agent: codex_exec/0.169.0 (Debian 12.0.0; x86_64) xterm\r\n" +
		"version: 0.169.0\r\n" +
		"OpenAI-Beta: responses=experimental\r\n" +
		"\r\n{}"
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := r.Header["Session_id"]; !ok {
		t.Fatalf("test premise: Go did not canonicalise session_id to Session_id: %v", r.Header)
	}
	in := r.Header.Clone()
	out := outgoingHeader(r.Header)

	dropped := []string{
		"Authorization", "X-Api-Key", "Cookie", "Content-Length", "Content-Encoding", "Accept-Encoding",
		"Connection", "X-Hop-Custom", "Keep-Alive", "Proxy-Authorization", "Proxy-Connection", "Te",
		"Trailer", "Upgrade", "Chatgpt-Account-Id", "Openai-Organization", "Openai-Project", "X-Forwarded-For", "Host",
	}
	for _, k := range dropped {
		t.Run("drops "+k, func(t *testing.T) {
			if v, ok := out[http.CanonicalHeaderKey(k)]; ok {
				t.Errorf("%s forwarded upstream: %q", k, v)
			}
		})
	}
	kept := map[string]string{
		"Session-Id":            "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		"Session_id":            "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		"Thread-Id":             "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		"X-Client-Request-Id":   "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b",
		"X-Codex-Window-Id":     "0199a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b:0",
		"X-Codex-Turn-Metadata": `{"turn_id":"t1"}`,
		"X-Codex-Turn-State":    "opaque-routing-token",
		"Originator":            "codex_exec",
		"User-Agent":            "codex_exec/0.169.0 (Debian 12.0.0; x86_64) xterm",
		"Version":               "0.169.0",
		"Openai-Beta":           "responses=experimental",
		"Content-Type":          "application/json",
		"Accept":                "text/event-stream",
	}
	for k, want := range kept {
		t.Run("keeps "+k, func(t *testing.T) {
			if got := out[k]; len(got) != 1 || got[0] != want {
				t.Errorf("%s = %q, want [%q]", k, got, want)
			}
		})
	}
	t.Run("nothing else", func(t *testing.T) {
		if len(out) != len(kept) {
			t.Errorf("forwarded %d headers, want %d: %v", len(out), len(kept), out)
		}
	})
	t.Run("the client's header is not modified", func(t *testing.T) {
		if len(r.Header) != len(in) || r.Header.Get("Authorization") != "Bearer client-secret-key" {
			t.Errorf("outgoingHeader changed its input: %v", r.Header)
		}
		out.Set("Originator", "changed")
		if r.Header.Get("Originator") != "codex_exec" {
			t.Errorf("output aliases the input")
		}
	})
}

// echoedKey is an account's key as an upstream might echo it: no shape,
// so only the proxy's list of secrets hides it.
const echoedKey = "opaque-account-key-0123456789"

func TestCopyResponseHeader(t *testing.T) {
	src := http.Header{
		"X-Codex-Primary-Used-Percent": {"42"},
		"X-Codex-Primary-Reset-At":     {"1772370000"},
		"X-Request-Id":                 {"req_abc"},
		"Openai-Model":                 {"gpt-5-codex"},
		"X-Codex-Turn-State":           {"state-token"},
		"Content-Type":                 {"text/event-stream"},
		"Vary":                         {"Origin", "Accept-Encoding"},
		"Content-Length":               {"123"},
		"Set-Cookie":                   {"__cf_bm=abc; path=/"},
		"Alt-Svc":                      {`h3=":443"`},
		"Connection":                   {"close, X-Conn-Only"},
		"X-Conn-Only":                  {"x"},
		"Transfer-Encoding":            {"chunked"},
		"Keep-Alive":                   {"timeout=5"},
		// An upstream that echoes the credential it was sent.
		"X-Echo-Auth":         {"Bearer " + echoedKey},
		"Openai-Organization": {echoedKey},
		"X-Shaped":            {"token sk-" + "zzzzzzzzzzzzzzzzzzzz"},
	}
	dst := http.Header{"X-Proxy-Request-Id": {"req_proxy"}}
	copyResponseHeader(dst, src, redact.New([]string{echoedKey}))

	want := http.Header{
		"X-Proxy-Request-Id":           {"req_proxy"},
		"X-Codex-Primary-Used-Percent": {"42"},
		"X-Codex-Primary-Reset-At":     {"1772370000"},
		"X-Request-Id":                 {"req_abc"},
		"Openai-Model":                 {"gpt-5-codex"},
		"X-Codex-Turn-State":           {"state-token"},
		"Content-Type":                 {"text/event-stream"},
		"Vary":                         {"Origin", "Accept-Encoding"},
		"X-Echo-Auth":                  {"Bearer [redacted]"},
		"Openai-Organization":          {"[redacted]"},
		"X-Shaped":                     {"token [redacted]"},
	}
	for k, vs := range want {
		t.Run("copies "+k, func(t *testing.T) {
			if got := dst[k]; strings.Join(got, "|") != strings.Join(vs, "|") {
				t.Errorf("%s = %q, want %q", k, got, vs)
			}
		})
	}
	for _, k := range []string{"Content-Length", "Set-Cookie", "Alt-Svc", "Connection", "X-Conn-Only", "Transfer-Encoding", "Keep-Alive"} {
		t.Run("drops "+k, func(t *testing.T) {
			if v, ok := dst[k]; ok {
				t.Errorf("%s passed to the client: %q", k, v)
			}
		})
	}
	t.Run("nothing else", func(t *testing.T) {
		if len(dst) != len(want) {
			t.Errorf("dst = %v", dst)
		}
	})
	t.Run("no aliasing", func(t *testing.T) {
		src["Vary"][0] = "changed"
		if dst.Get("Vary") != "Origin" {
			t.Errorf("dst shares value slices with src")
		}
		if src.Get("Set-Cookie") == "" {
			t.Errorf("copyResponseHeader modified src")
		}
	})
}

func TestIsWebSocket(t *testing.T) {
	tests := []struct {
		name    string
		upgrade []string
		want    bool
	}{
		{"codex websocket", []string{"websocket"}, true},
		{"mixed case", []string{"WebSocket"}, true},
		{"padded", []string{" websocket "}, true},
		{"second value", []string{"h2c", "websocket"}, true},
		{"h2c only", []string{"h2c"}, false},
		{"none", nil, false},
		{"empty", []string{""}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/v1/responses", nil)
			for _, v := range tc.upgrade {
				r.Header.Add("Upgrade", v)
			}
			if tc.want {
				r.Header.Set("Connection", "Upgrade")
				r.Header.Set("OpenAI-Beta", "responses_websockets=2026-02-06")
			}
			if got := isWebSocket(r); got != tc.want {
				t.Errorf("isWebSocket(Upgrade %q) = %v, want %v", tc.upgrade, got, tc.want)
			}
		})
	}
}

func TestFailedEvent(t *testing.T) {
	tests := []struct {
		name, code, message string
	}{
		{"plain", "stream_interrupted", "the upstream stream ended before response.completed"},
		{"message needing escapes", "upstream_error", "line one\nline two with \"quotes\" and \\ backslash\r\n\ndata: injected"},
		{"empty", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ev := failedEvent(tc.code, tc.message)
			s := string(ev)
			if !strings.HasSuffix(s, "\n\n") || strings.Count(s, "\n\n") != 1 {
				t.Fatalf("not exactly one SSE event ending in a blank line: %q", s)
			}
			lines := strings.Split(strings.TrimSuffix(s, "\n\n"), "\n")
			if len(lines) != 2 || lines[0] != "event: response.failed" || !strings.HasPrefix(lines[1], "data: ") {
				t.Fatalf("event lines = %q, want event: and one data: line", lines)
			}
			var got struct {
				Type     string `json:"type"`
				Response struct {
					Object string `json:"object"`
					Status string `json:"status"`
					Error  struct {
						Code    string `json:"code"`
						Message string `json:"message"`
					} `json:"error"`
				} `json:"response"`
			}
			if err := json.Unmarshal([]byte(strings.TrimPrefix(lines[1], "data: ")), &got); err != nil {
				t.Fatalf("data is not JSON: %v", err)
			}
			if got.Type != "response.failed" || got.Response.Status != "failed" || got.Response.Object != "response" {
				t.Errorf("event = %+v", got)
			}
			if got.Response.Error.Code != tc.code || got.Response.Error.Message != tc.message {
				t.Errorf("error = %+v, want code %q message %q", got.Response.Error, tc.code, tc.message)
			}
		})
	}
}
