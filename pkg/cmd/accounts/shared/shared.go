// Package shared holds what the `proxy accounts` verbs share: editing the
// config's YAML in place, writing it only when it validates, and how
// accounts and the config are named in messages.
package shared

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/viper"

	"github.com/proxy-dev/proxy/pkg/atomicfile"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/config"
)

// MinimalConfig starts a config file that import-codex creates: the
// starter's example accounts would not load without their variables set.
const MinimalConfig = `# proxy configuration. ` + "`proxy config init`" + ` writes a starter file with
# every option explained.
listen: 127.0.0.1:8787

accounts:
`

// WriteValidated loads the edited config from a temporary file beside the
// real one and, when it brings no new problem, renames it into place: a
// reader sees the old file or the new one, never a torn or broken one.
// Problems the file already had are reported but do not stop the edit.
func WriteValidated(ios *cmdutil.IOStreams, path string, before, after []byte, created bool, mode fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	staged, err := atomicfile.Stage(path, after, mode)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			staged.Abort()
		}
	}()

	var old map[string]bool
	if !created {
		old = problemSet(ProblemsOf(path, ios))
	}
	var fresh, kept config.Problems
	for _, p := range ProblemsOf(staged.Name, ios) {
		if p.File == staged.Name {
			p.File = path
		}
		if old[p.Path+"\x00"+p.Message] {
			kept = append(kept, p)
		} else {
			fresh = append(fresh, p)
		}
	}
	if len(fresh) > 0 {
		return fresh
	}
	if err := staged.Commit(); err != nil {
		return err
	}
	if len(kept) > 0 {
		fmt.Fprintf(ios.ErrOut, "note: %s still has %d problem(s) it had before:\n%s\n", path, len(kept), kept.Error())
	}
	return nil
}

// ProblemsOf loads path and returns its problems; none when it loads.
func ProblemsOf(path string, ios *cmdutil.IOStreams) config.Problems {
	_, err := config.Load(viper.New(), path, ios.Getenv)
	var ps config.Problems
	if errors.As(err, &ps) {
		return ps
	}
	if err != nil {
		return config.Problems{{File: path, Message: err.Error()}}
	}
	return nil
}

func problemSet(ps config.Problems) map[string]bool {
	m := make(map[string]bool, len(ps))
	for _, p := range ps {
		m[p.Path+"\x00"+p.Message] = true
	}
	return m
}

// ConfigName names the config file for messages.
func ConfigName(cfg *config.Config) string {
	if cfg.Path == "" {
		return "the defaults (no config file found)"
	}
	return cfg.Path
}

// ShortID shows an identifier's ends only, as the proxy shows credentials.
func ShortID(s string) string {
	if len(s) < 12 {
		return s
	}
	return s[:4] + "..." + s[len(s)-4:]
}
