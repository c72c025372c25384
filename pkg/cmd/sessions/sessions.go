package sessions

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/proxy-dev/proxy/pkg/cmdutil"
)

// NewCmdSessions returns `proxy sessions` and its subcommands.
func NewCmdSessions(ios *cmdutil.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sessions",
		Short: "List or clear the running proxy's sticky sessions",
		Long: `Each conversation is bound to the account it started on, so the upstream's
prompt cache keeps working. These commands show and drop those bindings
through the running proxy (whatever its store, embedded or Redis).`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdSessionsList(ios, nil), NewCmdSessionsClear(ios, nil))
	return cmd
}

// SessionsOptions are the inputs of `proxy sessions list` and `clear`.
type SessionsOptions struct {
	IO         *cmdutil.IOStreams
	ConfigPath string
	Addr       string
	JSON       bool
	Key        string // clear: the session key prefix
	All        bool   // clear: every session
	// Now is the clock for ages; nil is time.Now.
	Now func() time.Time
}

func sessionsFlags(cmd *cobra.Command, opts *SessionsOptions) {
	f := cmd.Flags()
	f.StringVarP(&opts.ConfigPath, "config", "c", "", "config file, for the listen address (default $PROXY_CONFIG, ./proxy.yaml, ...)")
	f.StringVar(&opts.Addr, "addr", "", "address of the running proxy (default: the config's listen)")
}

func sessionsClient(opts *SessionsOptions) (*cmdutil.LiveClient, error) {
	cfg, err := cmdutil.LoadConfig(opts.IO, opts.ConfigPath)
	if err != nil {
		if opts.Addr == "" {
			return nil, err
		}
		// --addr says where the server is; a config that does not load
		// need not stop us from asking it.
		cfg = nil
	}
	return cmdutil.NewLiveClient(opts.IO, opts.Addr, cfg), nil
}
