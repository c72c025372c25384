package relay

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// rawFrame is a masked client frame header announcing n payload bytes,
// followed by payload (which may be shorter: the rest never comes).
func rawFrame(fin bool, op byte, n uint64, payload []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	out := []byte{b0}
	switch {
	case n < 126:
		out = append(out, 0x80|byte(n))
	case n <= 0xffff:
		out = append(out, 0x80|126)
		out = binary.BigEndian.AppendUint16(out, uint16(n))
	default:
		out = append(out, 0x80|127)
		out = binary.BigEndian.AppendUint64(out, n)
	}
	out = append(out, 0, 0, 0, 0) // a zero mask key leaves the payload as it is
	return append(out, payload...)
}

// TestWebSocketFrameHeaderOverLimit: a client frame whose header announces
// more than the message limit is answered with close 1009 while its payload
// has not been sent; a frame within the limit is served.
func TestWebSocketFrameHeaderOverLimit(t *testing.T) {
	const limit = 1000
	small := `{"type":"response.create","model":"gpt-5","input":"hi"}`
	tests := []struct {
		name      string
		writes    [][]byte // each written separately
		wantClose uint16   // 0: a message is answered instead
	}{
		{name: "1 GiB in one frame", writes: [][]byte{rawFrame(true, 1, 1<<30, nil)}, wantClose: 1009},
		{name: "a 16-bit length one past the limit", writes: [][]byte{rawFrame(true, 1, limit+1, []byte("{"))}, wantClose: 1009},
		{name: "a 64-bit length with its top bit set", writes: [][]byte{rawFrame(true, 2, 1<<63, nil)}, wantClose: 1009},
		{name: "the header split across writes", writes: func() [][]byte {
			f := rawFrame(true, 1, 1<<30, nil)
			return [][]byte{f[:1], f[1:5], f[5:]}
		}(), wantClose: 1009},
		{name: "a continuation that passes the limit", writes: [][]byte{
			rawFrame(false, 1, 600, []byte(strings.Repeat(" ", 600))),
			rawFrame(true, 0, 600, nil),
		}, wantClose: 1009},
		{name: "a message within the limit", writes: [][]byte{rawFrame(true, 1, uint64(len(small)), []byte(small))}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rl := New(&fakePool{}, nil, Options{MaxBodyBytes: limit})
			srv := httptest.NewServer(rl.Handler("/responses"))
			t.Cleanup(func() {
				rl.CloseWebSockets()
				srv.Close()
			})
			conn, err := net.Dial("tcp", srv.Listener.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// A deadline only so a regression fails instead of hanging.
			_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
			_, _ = io.WriteString(conn, "GET /v1/responses HTTP/1.1\r\nHost: "+srv.Listener.Addr().String()+
				"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
				t.Fatalf("upgrade: %v %v", resp, err)
			}
			for _, w := range tt.writes {
				if _, err := conn.Write(w); err != nil {
					t.Fatal(err)
				}
			}
			op, payload := readServerFrame(t, br)
			if tt.wantClose == 0 {
				if op != 1 {
					t.Fatalf("got frame opcode %d (%q), want a text message", op, payload)
				}
				return
			}
			if op != 8 || len(payload) < 2 {
				t.Fatalf("got frame opcode %d (%q), want a close", op, payload)
			}
			if code := binary.BigEndian.Uint16(payload); code != tt.wantClose {
				t.Fatalf("close %d (%q), want %d", code, payload[2:], tt.wantClose)
			}
		})
	}
}

// readServerFrame reads one unmasked server frame.
func readServerFrame(t *testing.T, br *bufio.Reader) (byte, []byte) {
	t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		_, _ = io.ReadFull(br, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, _ = io.ReadFull(br, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	p := make([]byte, n)
	if _, err := io.ReadFull(br, p); err != nil {
		t.Fatalf("reading a frame's payload: %v", err)
	}
	return h[0] & 0x0f, p
}
