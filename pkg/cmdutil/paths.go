package cmdutil

import (
	"os"
	"path/filepath"
	"strings"
)

// HomeDir is $HOME, else the user's home directory.
func HomeDir(ios *IOStreams) string {
	if h := ios.Getenv("HOME"); h != "" {
		return h
	}
	h, _ := os.UserHomeDir()
	return h
}

// ExpandHome resolves a leading ~ of p to the home directory.
func ExpandHome(ios *IOStreams, p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		return filepath.Join(HomeDir(ios), p[1:])
	}
	return p
}

// DisplayPath writes a path under the home directory with ~, so the config
// moves with its user's dotfiles.
func DisplayPath(ios *IOStreams, p string) string {
	home := HomeDir(ios)
	if home != "" {
		if rel, err := filepath.Rel(home, p); err == nil && !strings.HasPrefix(rel, "..") && rel != "." {
			return "~/" + filepath.ToSlash(rel)
		}
	}
	return p
}
