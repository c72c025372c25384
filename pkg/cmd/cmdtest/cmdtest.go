// Package cmdtest holds the helpers the command tests share: running the
// command line on buffers, golden files, a fixed clock, loopback servers and
// the secrets of the test configs. Only tests import it.
package cmdtest

import (
	"bytes"
	"context"
	"flag"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/proxy-dev/proxy/pkg/build"
	"github.com/proxy-dev/proxy/pkg/cmd/root"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
)

// The -update flag rewrites golden files. It is registered only when no
// package the test imports has registered it already (teatest does, and
// is initialised first), so the two share one flag instead of panicking.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata/")
	}
}

// updating reports whether the test runs with -update.
func updating() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// TTYBuffer is an output that says whether it is a terminal, so the
// terminal layout is tested without a real tty.
type TTYBuffer struct {
	bytes.Buffer
	TTY bool
}

// IsTerminal reports whether the buffer stands for a terminal.
func (b *TTYBuffer) IsTerminal() bool { return b.TTY }

// IO returns streams on buffers with env as the whole environment.
func IO(env map[string]string, tty bool) (*cmdutil.IOStreams, *TTYBuffer, *TTYBuffer) {
	out, errOut := &TTYBuffer{TTY: tty}, &TTYBuffer{TTY: tty}
	return &cmdutil.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut, Getenv: func(k string) string { return env[k] }}, out, errOut
}

// RunWith runs the command line like Main does, with env and buffers.
func RunWith(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	ios, out, errOut := IO(env, false)
	code = root.Run(context.Background(), ios, args)
	return code, out.String(), errOut.String()
}

// RunCLI runs the command line with an empty environment.
func RunCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ios := &cmdutil.IOStreams{
		In:     strings.NewReader(""),
		Out:    &out,
		ErrOut: &errOut,
		Getenv: func(string) string { return "" },
	}
	code = root.Run(context.Background(), ios, args)
	return code, out.String(), errOut.String()
}

// ExitCode is the exit status the command line gives err, printing it to
// errOut.
func ExitCode(errOut io.Writer, err error) int {
	return root.ExitCode(errOut, err)
}

// GoVersionPlaceholder stands for runtime.Version() in golden files, so they
// do not change with the toolchain.
const GoVersionPlaceholder = "GOVERSION"

// StampBuild sets the variables goreleaser stamps in with -ldflags for the
// rest of the test. Tests that use it must not run in parallel.
func StampBuild(t *testing.T, v, c, d string) {
	t.Helper()
	oldV, oldC, oldD := build.Version, build.Commit, build.Date
	build.Version, build.Commit, build.Date = v, c, d
	t.Cleanup(func() { build.Version, build.Commit, build.Date = oldV, oldC, oldD })
}

// AssertGolden compares got with testdata/name, rewriting it under -update.
func AssertGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if updating() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test -run %s -update to create it): %v", t.Name(), err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

// TestClock is the fixed time of golden tests: latencies come out as 0ms
// and times print the same on every machine.
var TestClock = time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)

// FixedNow returns TestClock.
func FixedNow() time.Time { return TestClock }

var loopbackPort = regexp.MustCompile(`127\.0\.0\.1:\d{5}`)

// Stable replaces what changes between runs (ports, temporary
// directories) so output can be compared with a golden file.
func Stable(s, dir string) string {
	if dir != "" {
		s = strings.ReplaceAll(s, dir, "TMP")
	}
	return loopbackPort.ReplaceAllString(s, "127.0.0.1:PORT")
}

// WriteFile writes content to dir/name and returns its path.
func WriteFile(t *testing.T, dir, name, content string, mode os.FileMode) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	return p
}

// ClosedAddr is a loopback address nothing listens on.
func ClosedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// Serve starts h on a loopback port until the test ends.
func Serve(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s
}
