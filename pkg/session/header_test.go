package session

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// headerSpellings are header lines as clients put them on the wire.
var headerSpellings = []struct {
	name, line, header string
}{
	{"session_id", "session_id: v", "session_id"},
	{"Session_Id mixed case", "Session_Id: v", "session_id"},
	{"session-id", "session-id: v", "session-id"},
	{"SESSION-ID upper case", "SESSION-ID: v", "session-id"},
	{"conversation_id", "conversation_id: v", "conversation_id"},
	{"x-session-id", "x-session-id: v", "x-session-id"},
	{"thread-id", "thread-id: v", "thread-id"},
}

// TestParseHeaderFromWire parses raw request bytes with net/http, exactly as
// the server does, so canonicalisation is the real one.
func TestParseHeaderFromWire(t *testing.T) {
	for _, tt := range headerSpellings {
		t.Run(tt.name, func(t *testing.T) {
			raw := "POST /v1/responses HTTP/1.1\r\nHost: x\r\n" + tt.line + "\r\nContent-Length: 2\r\n\r\n{}"
			r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw)))
			if err != nil {
				t.Fatal(err)
			}
			req, err := Parse(r.Header, []byte(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			want := Key{Hash: sha("v"), Source: SourceHeader, Header: tt.header}
			if req.Key != want {
				t.Fatalf("header %q (parsed as %v): Key = %+v, want %+v", tt.line, r.Header, req.Key, want)
			}
		})
	}
}

// TestParseHeaderThroughServer sends every spelling through a real server on
// loopback, proving underscore headers reach the handler.
func TestParseHeaderThroughServer(t *testing.T) {
	got := make(chan Key, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req, err := Parse(r.Header, body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
		}
		got <- req.Key
	}))
	defer srv.Close()
	for _, tt := range headerSpellings {
		t.Run(tt.name, func(t *testing.T) {
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			body := `{"model":"m"}`
			fmt.Fprintf(conn, "POST /v1/responses HTTP/1.1\r\nHost: %s\r\n%s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s",
				srv.Listener.Addr(), tt.line, len(body), body)
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			want := Key{Hash: sha("v"), Source: SourceHeader, Header: tt.header}
			if k := <-got; k != want {
				t.Fatalf("Key = %+v, want %+v", k, want)
			}
		})
	}
}
