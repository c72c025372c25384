package cmdutil

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	tea "charm.land/bubbletea/v2"

	"github.com/proxy-dev/proxy/pkg/tui"
)

// RunTUI runs the screen on the process's terminal; `watch` and
// `serve --tui` share it.
func RunTUI(ctx context.Context, ios *IOStreams, addr, key string, extra ...tea.ProgramOption) error {
	o := tui.RunOptions{Feed: tui.Feed{Addr: addr, Key: key}, Program: extra}
	// Tests hand their own streams; a real run uses the terminal as is.
	if ios.In != os.Stdin {
		o.In = ios.In
	}
	if ios.Out != os.Stdout {
		o.Out = ios.Out
	}
	return tui.Run(ctx, o)
}

// TUILogPath is where `serve --tui` writes its logs: the screen owns the
// terminal. It is the user's state directory, else the temp directory.
func TUILogPath(getenv func(string) string) string {
	dir := getenv("XDG_STATE_HOME")
	if dir == "" {
		if home, err := os.UserHomeDir(); err == nil {
			dir = filepath.Join(home, ".local", "state")
		} else {
			dir = os.TempDir()
		}
	}
	return filepath.Join(dir, "proxy", "serve.log")
}

// OpenTUILog opens (appending) the --tui log file, making its directory.
func OpenTUILog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("making the log directory: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("opening the log file: %w", err)
	}
	return f, nil
}
