package codex

import (
	"github.com/spf13/cobra"

	"github.com/proxy-dev/proxy/pkg/cmd/codex/config"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
)

// NewCmdCodex returns `proxy codex` and its subcommands.
func NewCmdCodex(ios *cmdutil.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "codex",
		Short: "Set Codex CLI up to use this proxy",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(config.NewCmdCodexConfig(ios, nil))
	return cmd
}
