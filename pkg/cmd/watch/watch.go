package watch

import (
	"context"
	"errors"
	"fmt"
	"strings"

	tea "charm.land/bubbletea/v2"
	"github.com/spf13/cobra"

	"github.com/proxy-dev/proxy/pkg/cmdutil"
)

// WatchOptions are the inputs of `proxy watch`.
type WatchOptions struct {
	IO         *cmdutil.IOStreams
	ConfigPath string
	Addr       string
	// Program adds bubbletea options, for tests.
	Program []tea.ProgramOption
}

// NewCmdWatch returns `proxy watch`. runF replaces the command's work in
// tests of flag handling; nil runs the screen.
func NewCmdWatch(ios *cmdutil.IOStreams, runF func(context.Context, *WatchOptions) error) *cobra.Command {
	opts := &WatchOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Watch a running proxy's routing decisions live",
		Long: `Attach to a running ` + "`proxy serve`" + ` and show each request as it is routed:
the account it went to and why, its status, time to first byte, tokens and
prompt-cache hits, with the accounts' cooldowns and rate-limit windows.

The server is --addr, else http:// and the config's listen address. The
client key, when the server has client_keys, is read from $PROXY_API_KEY.
The screen reconnects by itself when the server restarts.`,
		Example: `  proxy watch
  proxy watch --addr http://127.0.0.1:9000
  PROXY_API_KEY=... proxy watch --config ./proxy.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return RunWatch(cmd.Context(), opts)
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Addr, "addr", "", "the proxy's base URL (default http:// + the config's listen)")
	f.StringVarP(&opts.ConfigPath, "config", "c", "", "config file to read listen from (default $PROXY_CONFIG, ./proxy.yaml, $XDG_CONFIG_HOME/proxy/config.yaml)")
	return cmd
}

// errWatchNoTerminal refuses to draw the screen where no one can see it:
// piped, or run by a script or service.
var errWatchNoTerminal = errors.New("proxy watch needs a terminal; use `proxy accounts list` or GET /_proxy/events")

// RunWatch shows the watch screen until the user quits or ctx ends.
func RunWatch(ctx context.Context, opts *WatchOptions) error {
	if !cmdutil.IsTerminal(opts.IO.Out) {
		return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: errWatchNoTerminal}
	}
	addr, err := watchAddr(opts)
	if err != nil {
		return err
	}
	err = cmdutil.RunTUI(ctx, opts.IO, addr, opts.IO.Getenv("PROXY_API_KEY"), opts.Program...)
	if err != nil && strings.Contains(err.Error(), "TTY") {
		// Output is a terminal but there is no controlling one to read
		// keys from (bubbletea: "could not open TTY").
		return &cmdutil.ExitError{Code: cmdutil.ExitFailure, Err: errWatchNoTerminal}
	}
	return err
}

// watchAddr is --addr, else the config's listen address. A bare host:port
// gets http:// in front.
func watchAddr(opts *WatchOptions) (string, error) {
	addr := opts.Addr
	if addr == "" {
		cfg, err := cmdutil.LoadConfig(opts.IO, opts.ConfigPath)
		if err != nil {
			return "", fmt.Errorf("finding the server to watch (or pass --addr): %w", err)
		}
		addr = cfg.Listen
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return strings.TrimSuffix(addr, "/"), nil
}
