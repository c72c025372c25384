package config

import (
	"os"
	"path/filepath"
)

// Locate returns the config file to load: flag when given, else
// $PROXY_CONFIG, else ./proxy.yaml if it exists, else
// $XDG_CONFIG_HOME/proxy/config.yaml (XDG_CONFIG_HOME defaulting to
// ~/.config) if it exists. It returns "" when there is none, and Load then
// runs on defaults with no accounts. A path given by flag or variable is
// returned even if missing, so Load reports it instead of silently falling
// back. getenv is os.Getenv when nil.
func Locate(flag string, getenv func(string) string) string {
	return locate(flag, getenv, os.Stat)
}

func locate(flag string, getenv func(string) string, stat func(string) (os.FileInfo, error)) string {
	if getenv == nil {
		getenv = os.Getenv
	}
	if flag != "" {
		return flag
	}
	if p := getenv("PROXY_CONFIG"); p != "" {
		return p
	}
	exists := func(p string) bool {
		info, err := stat(p)
		return err == nil && !info.IsDir()
	}
	if exists("proxy.yaml") {
		return "proxy.yaml"
	}
	dir := getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := getenv("HOME")
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		if home == "" {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	if p := filepath.Join(dir, "proxy", "config.yaml"); exists(p) {
		return p
	}
	return ""
}
