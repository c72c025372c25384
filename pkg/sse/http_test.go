package sse

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestReaderOverHTTP proves events reach the caller as they are flushed:
// the server holds back its second event until the test has received the
// first, so a reader that buffered would block forever.
func TestReaderOverHTTP(t *testing.T) {
	const first = "event: response.created\ndata: {\"type\":\"response.created\"}\n\n"
	const second = "data: {\"type\":\"response.completed\",\"response\":{\"id\":\"r\"}}\n\n"
	release := make(chan struct{})
	secondSent := make(chan struct{})

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		io.WriteString(w, first)
		w.(http.Flusher).Flush()
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		close(secondSent)
		io.WriteString(w, second)
		w.(http.Flusher).Flush()
	}))
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	defer srv.Close()

	resp, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	r := NewReader(resp.Body)

	ev, err := r.Next()
	if err != nil || string(ev) != first {
		t.Fatalf("first event %q, %v", ev, err)
	}
	select {
	case <-secondSent:
		t.Fatal("the server sent the second event before the first was read")
	default:
	}
	close(release)

	ev, err = r.Next()
	if err != nil || string(ev) != second {
		t.Fatalf("second event %q, %v", ev, err)
	}
	if res, ok := Completion(ev); !ok || res.ResponseID != "r" {
		t.Fatalf("Completion = %+v, %v", res, ok)
	}
	if _, err := r.Next(); err != io.EOF {
		t.Fatalf("after the stream: %v, want io.EOF", err)
	}
}
