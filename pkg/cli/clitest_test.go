package cli

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/cmdutil"
)

// ttyBuffer is an output that says whether it is a terminal, so the
// terminal layout is tested without a real tty.
type ttyBuffer struct {
	bytes.Buffer
	tty bool
}

func (b *ttyBuffer) IsTerminal() bool { return b.tty }

// testIO returns streams on buffers with env as the whole environment.
func testIO(env map[string]string, tty bool) (*cmdutil.IOStreams, *ttyBuffer, *ttyBuffer) {
	out, errOut := &ttyBuffer{tty: tty}, &ttyBuffer{tty: tty}
	return &cmdutil.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut, Getenv: func(k string) string { return env[k] }}, out, errOut
}

// runWith runs the command line like Main does, with env and buffers.
func runWith(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ios, out, errOut := testIO(env, false)
	code = Run(context.Background(), ios, args)
	return code, out.String(), errOut.String()
}
