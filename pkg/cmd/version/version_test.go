package version_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/proxy-dev/proxy/pkg/cmd/cmdtest"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
)

func TestVersionGolden(t *testing.T) {
	cmdtest.StampBuild(t, "1.2.3", "0123456789abcdef0123456789abcdef01234567", "2026-01-02T03:04:05Z")

	code, stdout, stderr := cmdtest.RunCLI(t, "version")
	if code != 0 {
		t.Fatalf("exit code %d, want 0; stderr: %s", code, stderr)
	}
	if stderr != "" {
		t.Errorf("stderr = %q, want nothing", stderr)
	}
	if !strings.Contains(stdout, "\ngo: "+runtime.Version()+"\n") {
		t.Errorf("stdout lacks the go line %q:\n%s", "go: "+runtime.Version(), stdout)
	}
	cmdtest.AssertGolden(t, "version.golden", strings.ReplaceAll(stdout, runtime.Version(), cmdtest.GoVersionPlaceholder))
}

func TestVersionRejectsArguments(t *testing.T) {
	code, stdout, stderr := cmdtest.RunCLI(t, "version", "extra")
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
