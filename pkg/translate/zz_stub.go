package translate

// TEMPORARY: the integrator's stand-ins for the account half until it is merged.

import (
	"io"
	"time"
)

type ChatOptions struct {
	Model       string
	MaxToolName int
}
type Plan struct{}

func (p *Plan) Compaction() bool { return false }
func ResponsesToChat(body []byte, o ChatOptions) (out []byte, plan *Plan, err error) {
	return nil, nil, io.EOF
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
