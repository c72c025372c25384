// Package accounts is `proxy accounts`: a package per verb, and shared for
// what they have in common.
package accounts

import (
	"github.com/spf13/cobra"

	"github.com/proxy-dev/proxy/pkg/cmd/accounts/importcodex"
	"github.com/proxy-dev/proxy/pkg/cmd/accounts/list"
	"github.com/proxy-dev/proxy/pkg/cmd/accounts/login"
	"github.com/proxy-dev/proxy/pkg/cmd/accounts/test"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
)

// NewCmdAccounts returns `proxy accounts` and its subcommands.
func NewCmdAccounts(ios *cmdutil.IOStreams) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "accounts",
		Short: "List, check and add upstream accounts",
		Args:  cobra.NoArgs,
	}
	cmd.AddCommand(
		list.NewCmdAccountsList(ios, nil),
		test.NewCmdAccountsTest(ios, nil),
		importcodex.NewCmdAccountsImportCodex(ios, nil),
		login.NewCmdAccountsLogin(ios, nil),
	)
	return cmd
}
