package root

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// refuseUnknownSubcommands makes every command that only groups others
// (proxy, proxy accounts, ...) fail on a word it does not know, with the
// closest subcommand as a suggestion. Left to cobra, `proxy accounts lst`
// would print the help and exit 0, which a script reads as success.
func refuseUnknownSubcommands(cmd *cobra.Command) {
	for _, sub := range cmd.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if !cmd.HasSubCommands() || cmd.Runnable() {
		return
	}
	if cmd.SuggestionsMinimumDistance <= 0 {
		// cobra's own default, which SuggestionsFor does not apply itself.
		cmd.SuggestionsMinimumDistance = 2
	}
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) == 0 {
			return nil
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], c.CommandPath())
		if s := c.SuggestionsFor(args[0]); len(s) > 0 {
			msg += `; did you mean "` + strings.Join(s, `" or "`) + `"?`
		}
		return fmt.Errorf("%s (see `%s --help`)", msg, c.CommandPath())
	}
	// Runnable now, so cobra checks Args instead of printing the help; a
	// group given no subcommand still shows its help, and succeeds.
	cmd.RunE = func(c *cobra.Command, _ []string) error { return c.Help() }
}
