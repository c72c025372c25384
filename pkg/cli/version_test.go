package cli

import (
	"bytes"
	"context"
	"flag"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/build"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
)

// The -update flag rewrites golden files. It is registered here only when no
// other test file of the package has registered it already (package-level
// variables are initialised before any init runs), so another golden test in
// package cli can declare its own without a duplicate-flag panic.
func init() {
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "rewrite the golden files in testdata/")
	}
}

func updateGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// goVersionPlaceholder stands for runtime.Version() in golden files, so they
// do not change with the toolchain.
const goVersionPlaceholder = "GOVERSION"

// stampBuild sets the variables goreleaser stamps in with -ldflags for the
// rest of the test. Tests that use it must not run in parallel.
func stampBuild(t *testing.T, v, c, d string) {
	t.Helper()
	oldV, oldC, oldD := build.Version, build.Commit, build.Date
	build.Version, build.Commit, build.Date = v, c, d
	t.Cleanup(func() { build.Version, build.Commit, build.Date = oldV, oldC, oldD })
}

func runCLI(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	ios := &cmdutil.IOStreams{
		In:     strings.NewReader(""),
		Out:    &out,
		ErrOut: &errOut,
		Getenv: func(string) string { return "" },
	}
	code = Run(context.Background(), ios, args)
	return code, out.String(), errOut.String()
}

func assertGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if updateGolden() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("reading golden file (run go test ./pkg/cli -run %s -update to create it): %v", t.Name(), err)
	}
	if got != string(want) {
		t.Errorf("output differs from %s (run with -update if the change is intended)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestVersionGolden(t *testing.T) {
	stampBuild(t, "1.2.3", "0123456789abcdef0123456789abcdef01234567", "2026-01-02T03:04:05Z")

	code, stdout, stderr := runCLI(t, "version")
	if code != 0 {
		t.Fatalf("exit code %d, want 0; stderr: %s", code, stderr)
	}
	if stderr != "" {
		t.Errorf("stderr = %q, want nothing", stderr)
	}
	if !strings.Contains(stdout, "\ngo: "+runtime.Version()+"\n") {
		t.Errorf("stdout lacks the go line %q:\n%s", "go: "+runtime.Version(), stdout)
	}
	assertGolden(t, "version.golden", strings.ReplaceAll(stdout, runtime.Version(), goVersionPlaceholder))
}

func TestVersionRejectsArguments(t *testing.T) {
	code, stdout, stderr := runCLI(t, "version", "extra")
	if code != cmdutil.ExitFailure {
		t.Errorf("exit code %d, want %d", code, cmdutil.ExitFailure)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	if !strings.HasPrefix(stderr, "error: ") {
		t.Errorf("stderr = %q, want an error", stderr)
	}
}
