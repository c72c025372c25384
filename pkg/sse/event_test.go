package sse

import (
	"fmt"
	"strings"
	"testing"
)

func TestType(t *testing.T) {
	tests := []struct {
		name, event, want string
	}{
		{"event field", "event: response.created\ndata: {\"type\":\"other\"}\n\n", "response.created"},
		{"event field without space", "event:response.completed\n\n", "response.completed"},
		{"last event field wins", "event: a\nevent: b\n\n", "b"},
		{"empty event field falls back to data", "event:\ndata: {\"type\":\"response.failed\"}\n\n", "response.failed"},
		{"json type", "data: {\"type\":\"response.output_text.delta\",\"delta\":\"x\"}\n\n", "response.output_text.delta"},
		{"json type not first", "data: {\"sequence_number\":3,\"type\":\"response.completed\"}\n\n", "response.completed"},
		{"escaped json type", "data: {\"t\\u0079pe\":\"err\\u006fr\"}\n\n", "error"},
		{"unknown type", "data: {\"type\":\"x.custom\"}\n\n", "x.custom"},
		{"type split over data lines", "data: {\"type\":\ndata: \"response.completed\"}\n\n", "response.completed"},
		{"crlf", "data: {\"type\":\"error\"}\r\n\r\n", "error"},
		{"nested type ignored", "data: {\"response\":{\"type\":\"x\"}}\n\n", ""},
		{"type not a string", "data: {\"type\":1}\n\n", ""},
		{"not json", "data: [DONE]\n\n", ""},
		{"comment only", ": ping\n\n", ""},
		{"blank", "\n", ""},
		{"event field after blank line ignored", "data: {}\n\nevent: x\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Type([]byte(tt.event)); got != tt.want {
				t.Fatalf("Type(%q) = %q, want %q", tt.event, got, tt.want)
			}
		})
	}
}

func TestData(t *testing.T) {
	tests := []struct {
		name, event string
		want        string
		isNil       bool
	}{
		{"with space", "data: {\"a\":1}\n\n", `{"a":1}`, false},
		{"without space", "data:{\"a\":1}\n\n", `{"a":1}`, false},
		{"only one space removed", "data:  x\n\n", " x", false},
		{"multiple lines joined", "data: a\ndata:b\r\ndata\n\n", "a\nb\n", false},
		{"other fields and comments skipped", ": c\nid: 7\nevent: e\nretry: 10\ndata: x\n\n", "x", false},
		{"colon in value kept", "data: a: b\n\n", "a: b", false},
		{"empty data", "data:\n\n", "", false},
		{"no data", "event: e\n\n", "", true},
		{"no terminator", "data: x", "x", false},
		{"bare cr", "data: a\rdata: b\r\r", "a\nb", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Data([]byte(tt.event))
			if string(got) != tt.want || (got == nil) != tt.isNil {
				t.Fatalf("Data(%q) = %q (nil %v), want %q (nil %v)", tt.event, got, got == nil, tt.want, tt.isNil)
			}
		})
	}
}

func TestTypeAndDataDoNotAllocate(t *testing.T) {
	ev := []byte("event: response.output_text.delta\ndata: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n")
	noEvent := []byte("data: {\"type\":\"response.output_text.delta\",\"delta\":\"hi\"}\n\n")
	allocs := testing.AllocsPerRun(100, func() {
		if Type(ev) == "" || Type(noEvent) == "" || Data(ev) == nil {
			t.Fatal("empty")
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per event, want 0", allocs)
	}
}

func TestTerminated(t *testing.T) {
	tests := []struct {
		name, event string
		want        bool
	}{
		{"lf", "data: {}\n\n", true},
		{"crlf", "data: {}\r\n\r\n", true},
		{"cr", "data: {}\r\r", true},
		{"mixed", "data: {}\n\r\n", true},
		{"blank line alone", "\n", true},
		{"blank crlf alone", "\r\n", true},
		{"one lf short", "data: {}\n", false},
		{"one crlf short", "data: {}\r\n", false},
		{"cut inside the line", `data: {"type":"response.output_text.delta","del`, false},
		{"empty", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Terminated([]byte(tt.event)); got != tt.want {
				t.Fatalf("Terminated(%q) = %v, want %v", tt.event, got, tt.want)
			}
		})
	}
}

// TestTerminatedAgreesWithReader: every event Next returns before EOF is
// terminated, and the trailing one cut by EOF is not.
func TestTerminatedAgreesWithReader(t *testing.T) {
	r := NewReader(strings.NewReader("data: a\n\ndata: b\r\n\r\ndata: c\r\rdata: cut"))
	var got []bool
	for {
		ev, err := r.Next()
		if len(ev) > 0 {
			got = append(got, Terminated(ev))
		}
		if err != nil {
			break
		}
	}
	if want := []bool{true, true, true, false}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Terminated over the stream's events = %v, want %v", got, want)
	}
}
