package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/config"
)

// NewCmdConfig returns `proxy config` and its subcommands.
func NewCmdConfig(ios *cmdutil.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Write a starter config or check one",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(NewCmdConfigInit(ios, nil), NewCmdConfigValidate(ios, nil))
	return cmd
}

// ConfigInitOptions are the inputs of `proxy config init`.
type ConfigInitOptions struct {
	IO    *cmdutil.IOStreams
	Path  string
	Force bool
}

// defaultConfigPath is where `config init` writes, and the first place
// the proxy looks after --config and $PROXY_CONFIG.
const defaultConfigPath = "proxy.yaml"

// NewCmdConfigInit returns `proxy config init`.
func NewCmdConfigInit(ios *cmdutil.IOStreams, runF func(context.Context, *ConfigInitOptions) error) *cobra.Command {
	opts := &ConfigInitOptions{IO: ios}
	cmd := &cobra.Command{
		Use:   "init [PATH]",
		Short: "Write a commented starter config (default ./proxy.yaml)",
		Long: `Write a starter config file with every option explained and two example
accounts, mode 0600 since accounts may hold keys. An existing file is left
alone unless --force is given.`,
		Example: `  proxy config init
  proxy config init ~/.config/proxy/config.yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Path = defaultConfigPath
			if len(args) == 1 {
				opts.Path = args[0]
			}
			if runF != nil {
				return runF(cmd.Context(), opts)
			}
			return runConfigInit(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.Force, "force", false, "overwrite an existing file")
	return cmd
}

func runConfigInit(opts *ConfigInitOptions) error {
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if opts.Force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	if dir := filepath.Dir(opts.Path); dir != "." {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	f, err := os.OpenFile(opts.Path, flags, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("%s already exists; use --force to overwrite it", opts.Path)
	}
	if err != nil {
		return err
	}
	if opts.Force {
		// O_TRUNC keeps an existing file's mode; the starter may soon hold keys.
		if err := f.Chmod(0o600); err != nil {
			f.Close()
			return err
		}
	}
	if _, err := f.WriteString(config.Starter()); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	fmt.Fprintf(opts.IO.ErrOut, "wrote %s: edit its accounts (or run `proxy accounts import-codex --name NAME`), then `proxy config validate`\n", opts.Path)
	return nil
}

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
