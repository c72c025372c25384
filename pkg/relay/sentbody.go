package relay

import (
	"io"
	"sync"
)

// sentBody is an upstream request's body that lets go of its bytes once
// they are sent. The finished request stays reachable from its response
// for as long as the stream runs (minutes), and a bytes.Reader would keep
// the whole body, megabytes for a long conversation, alive with it.
type sentBody struct {
	mu sync.Mutex
	b  []byte
}

func newSentBody(b []byte) *sentBody { return &sentBody{b: b} }

func (s *sentBody) Read(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.b) == 0 {
		s.b = nil
		return 0, io.EOF
	}
	n := copy(p, s.b)
	s.b = s.b[n:]
	if len(s.b) == 0 {
		s.b = nil // sent: the backing array may go
	}
	return n, nil
}

// Close lets go of what was not sent (the request failed).
func (s *sentBody) Close() error {
	s.mu.Lock()
	s.b = nil
	s.mu.Unlock()
	return nil
}
