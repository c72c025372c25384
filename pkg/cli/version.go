package cli

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// Set by goreleaser with -ldflags "-X github.com/proxy-dev/proxy/pkg/cli.version=..."
// (see .goreleaser.yaml); empty in a plain `go build` or `go install`.
var (
	version = ""
	commit  = ""
	date    = ""
)

// BuildInfo describes the running binary.
type BuildInfo struct {
	Version, Commit, Date, GoVersion string
}

// Build returns the binary's version, preferring what the release build
// stamped in and falling back to what the Go toolchain recorded (the module
// version for `go install module@version`, the VCS revision and time for a
// build inside a checkout).
func Build() BuildInfo {
	return buildInfo(version, commit, date, debug.ReadBuildInfo)
}

// buildInfo is Build with the stamped values and the toolchain's record
// passed in, so each fallback can be tested.
func buildInfo(version, commit, date string, read func() (*debug.BuildInfo, bool)) BuildInfo {
	b := BuildInfo{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version()}
	if info, ok := read(); ok && info != nil {
		// "(devel)" is what the toolchain records when it knows no version:
		// no better than none.
		if b.Version == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			b.Version = info.Main.Version
		}
		var revision, modified string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				revision = s.Value
			case "vcs.modified":
				modified = s.Value
			case "vcs.time":
				if b.Date == "" {
					b.Date = s.Value
				}
			}
		}
		if b.Commit == "" && revision != "" {
			b.Commit = revision
			if modified == "true" {
				// Built from a checkout with uncommitted changes: the
				// revision alone would claim more than it knows.
				b.Commit += "-dirty"
			}
		}
	}
	if b.Version == "" {
		b.Version = "dev"
	}
	if b.Commit == "" {
		b.Commit = "unknown"
	}
	if b.Date == "" {
		b.Date = "unknown"
	}
	return b
}

// NewCmdVersion returns `proxy version`.
func NewCmdVersion(ios *IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build date and Go version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			b := Build()
			_, err := fmt.Fprintf(ios.Out, "proxy %s\ncommit: %s\ndate: %s\ngo: %s\n", b.Version, b.Commit, b.Date, b.GoVersion)
			return err
		},
	}
}
