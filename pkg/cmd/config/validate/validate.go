package validate

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/config"
)

// ConfigValidateOptions are the inputs of `proxy config validate`.
type ConfigValidateOptions struct {
	IO         *cmdutil.IOStreams
	ConfigPath string
}

// NewCmdConfigValidate returns `proxy config validate`.
func NewCmdConfigValidate(ios *cmdutil.IOStreams, runF func(context.Context, *ConfigValidateOptions) error) *cobra.Command {
	opts := &ConfigValidateOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "validate",
		Short: "Check the config and print every problem with its line and field",
		Long: `Load the config as ` + "`proxy serve`" + ` would, environment overrides and ${VAR}
expansion included, and print every problem with its file, line and field.
Exit status 2 when there is any, else 0 with a one-line summary. Secrets
that other users can read (a config file holding literal keys, an auth_file)
are warned about on stderr with the chmod that fixes them; they do not
change the exit status.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runConfigValidate(opts)
		},
	}
	cmd.Flags().StringVarP(&opts.ConfigPath, "config", "c", "", "config file (default $PROXY_CONFIG, ./proxy.yaml, $XDG_CONFIG_HOME/proxy/config.yaml)")
	return cmd
}

func runConfigValidate(opts *ConfigValidateOptions) error {
	if config.Locate(opts.ConfigPath, opts.IO.Getenv) == "" {
		return &cmdutil.ExitError{Code: cmdutil.ExitConfigError,
			Err: errors.New("no config file found (looked for $PROXY_CONFIG, ./proxy.yaml, $XDG_CONFIG_HOME/proxy/config.yaml); run `proxy config init` or pass --config")}
	}
	cfg, err := cmdutil.LoadConfig(opts.IO, opts.ConfigPath)
	if err != nil {
		var ps config.Problems
		if !errors.As(err, &ps) {
			// An unreadable file is a config error too, not a failure
			// of the command.
			return &cmdutil.ExitError{Code: cmdutil.ExitConfigError, Err: err}
		}
		return err
	}
	// Readable secrets are worth fixing but do not make the config wrong:
	// they go to stderr and the exit status stays 0.
	for _, w := range config.CheckPermissions(cfg) {
		fmt.Fprintf(opts.IO.ErrOut, "warning: %s\n", w.Message)
	}
	_, err = fmt.Fprintf(opts.IO.Out, "ok: %d accounts (%s)\n", len(cfg.Accounts), cfg.Path)
	return err
}
