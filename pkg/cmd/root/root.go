// Package root is the proxy's command line: the root command, which adds
// every noun's command, and the exit status of them all. The commands under
// pkg/cmd are the only place where flags, config files, environment and
// terminals meet.
package root

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/proxy-dev/proxy/pkg/cmd/accounts"
	"github.com/proxy-dev/proxy/pkg/cmd/codex"
	configcmd "github.com/proxy-dev/proxy/pkg/cmd/config"
	"github.com/proxy-dev/proxy/pkg/cmd/doctor"
	"github.com/proxy-dev/proxy/pkg/cmd/routing"
	"github.com/proxy-dev/proxy/pkg/cmd/serve"
	"github.com/proxy-dev/proxy/pkg/cmd/sessions"
	"github.com/proxy-dev/proxy/pkg/cmd/usage"
	"github.com/proxy-dev/proxy/pkg/cmd/version"
	"github.com/proxy-dev/proxy/pkg/cmd/watch"
	"github.com/proxy-dev/proxy/pkg/cmdutil"
	"github.com/proxy-dev/proxy/pkg/config"
)

// Main runs the command line with the process's arguments and streams and
// returns the exit status.
func Main() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ios := &cmdutil.IOStreams{In: os.Stdin, Out: os.Stdout, ErrOut: os.Stderr, Getenv: os.Getenv}
	return Run(ctx, ios, os.Args[1:])
}

// Run executes the command line args and returns the exit status. It is
// Main without the process: what tests call.
func Run(ctx context.Context, ios *cmdutil.IOStreams, args []string) int {
	root := NewCmdRoot(ios)
	// Here rather than in NewCmdRoot, so it covers every command however
	// it was added.
	refuseUnknownSubcommands(root)
	root.SetArgs(args)
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	err := root.ExecuteContext(ctx)
	return ExitCode(ios.ErrOut, err)
}

// ExitCode decides the exit status of every command in one place and
// prints the error.
func ExitCode(errOut io.Writer, err error) int {
	if err == nil {
		return cmdutil.ExitOK
	}
	var problems config.Problems
	var exit *cmdutil.ExitError
	switch {
	case errors.As(err, &problems):
		fmt.Fprintf(errOut, "config has %d problem(s):\n%s\n", len(problems), problems.Error())
		return cmdutil.ExitConfigError
	case errors.As(err, &exit):
		if exit.Err != nil {
			fmt.Fprintln(errOut, "error:", exit.Err)
		}
		return exit.Code
	default:
		fmt.Fprintln(errOut, "error:", err)
		return cmdutil.ExitFailure
	}
}

// NewCmdRoot returns the root command with every subcommand.
func NewCmdRoot(ios *cmdutil.IOStreams) *cobra.Command {
	root := &cobra.Command{
		Use:   "proxy",
		Short: "A local relay that pools OpenAI and ChatGPT accounts behind one Responses API base URL",
		Long: `proxy sits between Codex CLI (or any OpenAI Responses API client) and several
upstream accounts. It picks an account per conversation by weight, keeps the
conversation on that account, streams answers back and records usage.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(
		serve.NewCmdServe(ios, nil),
		version.NewCmdVersion(ios),
		watch.NewCmdWatch(ios, nil),
		accounts.NewCmdAccounts(ios), configcmd.NewCmdConfig(ios), sessions.NewCmdSessions(ios),
	)
	root.AddCommand(doctor.NewCmdDoctor(ios, nil))
	root.AddCommand(codex.NewCmdCodex(ios))
	root.AddCommand(usage.NewCmdUsage(ios, nil))
	root.AddCommand(routing.NewCmdRouting(ios))
	return root
}
