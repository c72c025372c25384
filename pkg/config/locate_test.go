package config

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// fakeFile is what the fake stat reports for an existing file.
type fakeFile struct{ dir bool }

func (f fakeFile) Name() string       { return "" }
func (f fakeFile) Size() int64        { return 0 }
func (f fakeFile) Mode() fs.FileMode  { return 0o600 }
func (f fakeFile) ModTime() time.Time { return time.Time{} }
func (f fakeFile) IsDir() bool        { return f.dir }
func (f fakeFile) Sys() any           { return nil }

func TestLocate(t *testing.T) {
	xdg := filepath.Join("/xdg", "proxy", "config.yaml")
	home := filepath.Join("/home/u", ".config", "proxy", "config.yaml")
	tests := []struct {
		name   string
		flag   string
		env    env
		exists map[string]bool // path -> is a directory
		want   string
	}{
		{name: "flag first", flag: "f.yaml", env: env{"PROXY_CONFIG": "e.yaml"}, exists: map[string]bool{"proxy.yaml": false}, want: "f.yaml"},
		{name: "flag even if missing", flag: "missing.yaml", want: "missing.yaml"},
		{name: "PROXY_CONFIG next", env: env{"PROXY_CONFIG": "e.yaml"}, exists: map[string]bool{"proxy.yaml": false}, want: "e.yaml"},
		{name: "working directory", env: env{"XDG_CONFIG_HOME": "/xdg"}, exists: map[string]bool{"proxy.yaml": false, xdg: false}, want: "proxy.yaml"},
		{name: "a directory named proxy.yaml is skipped", env: env{"XDG_CONFIG_HOME": "/xdg"}, exists: map[string]bool{"proxy.yaml": true, xdg: false}, want: xdg},
		{name: "XDG_CONFIG_HOME", env: env{"XDG_CONFIG_HOME": "/xdg", "HOME": "/home/u"}, exists: map[string]bool{xdg: false, home: false}, want: xdg},
		{name: "XDG default under HOME", env: env{"HOME": "/home/u"}, exists: map[string]bool{home: false}, want: home},
		{name: "none", env: env{"HOME": "/home/u"}, want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stat := func(p string) (os.FileInfo, error) {
				if dir, ok := tt.exists[p]; ok {
					return fakeFile{dir: dir}, nil
				}
				return nil, fs.ErrNotExist
			}
			if got := locate(tt.flag, tt.env.get, stat); got != tt.want {
				t.Errorf("locate() = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestLocateFindsRealFile(t *testing.T) {
	dir := inTempDir(t)
	if got := Locate("", env{"HOME": dir}.get); got != "" {
		t.Fatalf("Locate() = %q with no file, want \"\"", got)
	}
	writeFile(t, filepath.Join(dir, "proxy.yaml"), "listen: 127.0.0.1:1\n")
	if got := Locate("", env{"HOME": dir}.get); got != "proxy.yaml" {
		t.Errorf("Locate() = %q, want proxy.yaml", got)
	}
}
