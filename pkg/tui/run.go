package tui

import (
	"context"
	"errors"
	"io"

	tea "charm.land/bubbletea/v2"
)

// RunOptions are what Run needs: the server and the terminal.
type RunOptions struct {
	Feed Feed
	In   io.Reader // the terminal's input; nil: the process's
	Out  io.Writer // the terminal; nil: the process's
	// Program adds options, for tests (a fixed size, a colour profile).
	Program []tea.ProgramOption
}

// Run shows the screen attached to o.Feed until the user quits or ctx
// ends.
func Run(ctx context.Context, o RunOptions) error {
	opts := append([]tea.ProgramOption{tea.WithContext(ctx)}, o.Program...)
	if o.In != nil {
		opts = append(opts, tea.WithInput(o.In))
	}
	if o.Out != nil {
		opts = append(opts, tea.WithOutput(o.Out))
	}
	p := tea.NewProgram(New(Options{Addr: o.Feed.Addr}), opts...)
	fctx, stop := context.WithCancel(ctx)
	defer stop()
	go o.Feed.Run(fctx, p.Send)
	_, err := p.Run()
	if errors.Is(err, tea.ErrProgramKilled) && ctx.Err() != nil {
		// Stopped from outside (a signal, the server ending): not a failure.
		return nil
	}
	return err
}
