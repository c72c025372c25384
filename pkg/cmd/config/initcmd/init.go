package initcmd

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
