// Package routing is `proxy routing`: how the proxy spreads conversations
// over the pool's accounts.
package routing

import (
	"github.com/spf13/cobra"

	"github.com/proxy-dev/proxy/pkg/cmd/routing/simulate"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
)

// NewCmdRouting returns `proxy routing` and its subcommands.
func NewCmdRouting(ios *cmdutil.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "routing",
		Short: "How conversations are spread over the accounts",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(simulate.NewCmdSimulate(ios, nil))
	return cmd
}
