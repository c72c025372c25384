package version

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/proxy-dev/proxy/pkg/build"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
)

// NewCmdVersion returns `proxy version`.
func NewCmdVersion(ios *cmdutil.IOStreams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit, build date and Go version",
		Args:  cobra.NoArgs,
		RunE: func(*cobra.Command, []string) error {
			b := build.Get()
			_, err := fmt.Fprintf(ios.Out, "proxy %s\ncommit: %s\ndate: %s\ngo: %s\n", b.Version, b.Commit, b.Date, b.GoVersion)
			return err
		},
	}
}
