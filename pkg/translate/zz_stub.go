package translate

// TEMPORARY: the integrator's stand-ins until both halves are merged.

import (
	"errors"
	"io"
	"time"
)

var errStub = errors.New("translate: not merged yet")

type ChatRequest struct {
	Model        string
	Stream       bool
	IncludeUsage bool
	User         string
	NativeOnly   []string
}

func ChatToResponses(body []byte) (out []byte, req ChatRequest, err error) { return nil, req, errStub }

type ChatStream struct{}

func NewChatStream(req ChatRequest) *ChatStream { return &ChatStream{} }
func (s *ChatStream) Event(ev []byte) []byte   { return nil }
func (s *ChatStream) Done() bool               { return false }
func ChatCompletion(response []byte) ([]byte, error) {
	return nil, errStub
}

type ChatOptions struct {
	Model       string
	MaxToolName int
}
type Plan struct{}

func (p *Plan) Compaction() bool { return false }
func ResponsesToChat(body []byte, o ChatOptions) (out []byte, plan *Plan, err error) {
	return nil, nil, errStub
}

type RebuildOptions struct {
	MaxEvent    int
	Passthrough bool
	Now         func() time.Time
}

const PassthroughEvent = "proxy.chat"

func Rebuild(body io.ReadCloser, contentType string, plan *Plan, o RebuildOptions) io.ReadCloser {
	return body
}

type Usage struct{ InputTokens, CachedTokens, OutputTokens, ReasoningTokens int64 }

func ChatUsage(body []byte) (u Usage, ok bool) { return u, false }
