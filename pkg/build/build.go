// Package build describes the running binary: the version, commit and date
// a release build stamps in, else what the Go toolchain recorded.
package build

import (
	"runtime"
	"runtime/debug"
)

// Version, Commit and Date are set by goreleaser with -ldflags
// "-X github.com/proxy-dev/proxy/pkg/build.Version=..." (see
// .goreleaser.yaml); empty in a plain `go build` or `go install`.
var (
	Version = ""
	Commit  = ""
	Date    = ""
)

// Info describes the running binary.
type Info struct {
	Version, Commit, Date, GoVersion string
}

// Get returns the binary's version, preferring what the release build
// stamped in and falling back to what the Go toolchain recorded (the module
// version for `go install module@version`, the VCS revision and time for a
// build inside a checkout).
func Get() Info {
	return info(Version, Commit, Date, debug.ReadBuildInfo)
}

// info is Get with the stamped values and the toolchain's record
// passed in, so each fallback can be tested.
func info(version, commit, date string, read func() (*debug.BuildInfo, bool)) Info {
	b := Info{Version: version, Commit: commit, Date: date, GoVersion: runtime.Version()}
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
