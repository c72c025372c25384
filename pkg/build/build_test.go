package build

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestBuildInfoFallbacks(t *testing.T) {
	const rev = "89abcdef0123456789abcdef0123456789abcdef"
	vcs := func(modified string) []debug.BuildSetting {
		return []debug.BuildSetting{
			{Key: "vcs", Value: "git"},
			{Key: "vcs.revision", Value: rev},
			{Key: "vcs.time", Value: "2026-03-04T05:06:07Z"},
			{Key: "vcs.modified", Value: modified},
		}
	}
	tests := []struct {
		name                  string
		version, commit, date string
		info                  *debug.BuildInfo // nil: no build info
		want                  Info
	}{
		{
			name:    "stamped values win over the toolchain's record",
			version: "1.2.3", commit: "abc", date: "2026-01-02T03:04:05Z",
			info: &debug.BuildInfo{Main: debug.Module{Version: "v9.9.9"}, Settings: vcs("true")},
			want: Info{Version: "1.2.3", Commit: "abc", Date: "2026-01-02T03:04:05Z"},
		},
		{
			name: "go install module@version",
			info: &debug.BuildInfo{Main: debug.Module{Version: "v1.4.0"}},
			want: Info{Version: "v1.4.0", Commit: "unknown", Date: "unknown"},
		},
		{
			name: "clean checkout",
			info: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("false")},
			want: Info{Version: "dev", Commit: rev, Date: "2026-03-04T05:06:07Z"},
		},
		{
			name: "checkout with uncommitted changes",
			info: &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}, Settings: vcs("true")},
			want: Info{Version: "dev", Commit: rev + "-dirty", Date: "2026-03-04T05:06:07Z"},
		},
		{
			name: "no build info at all",
			want: Info{Version: "dev", Commit: "unknown", Date: "unknown"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			read := func() (*debug.BuildInfo, bool) { return tt.info, tt.info != nil }
			got := info(tt.version, tt.commit, tt.date, read)
			tt.want.GoVersion = runtime.Version()
			if got != tt.want {
				t.Errorf("info() = %+v, want %+v", got, tt.want)
			}
		})
	}
}
