package config

import (
	"github.com/spf13/cobra"

	"github.com/proxy-dev/proxy/pkg/cmd/config/initcmd"
	"github.com/proxy-dev/proxy/pkg/cmd/config/validate"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
)

// NewCmdConfig returns `proxy config` and its subcommands.
func NewCmdConfig(ios *cmdutil.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Write a starter config or check one",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(initcmd.NewCmdConfigInit(ios, nil), validate.NewCmdConfigValidate(ios, nil))
	return cmd
}
