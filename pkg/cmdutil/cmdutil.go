// Package cmdutil holds what the proxy's commands share: the injected
// streams, exit statuses, output helpers, the client of a running server,
// config loading and the paths every command resolves the same way.
package cmdutil

import "io"

// IOStreams are the streams a command reads and writes, injected so tests
// run commands against buffers.
type IOStreams struct {
	In     io.Reader
	Out    io.Writer // data
	ErrOut io.Writer // messages, logs
	// Getenv reads the environment; tests replace it.
	Getenv func(string) string
}

// ExitError carries a specific exit status out of a command.
type ExitError struct {
	Code int
	Err  error
}

// Error is the carried error's message.
func (e *ExitError) Error() string { return e.Err.Error() }

// Unwrap returns the carried error.
func (e *ExitError) Unwrap() error { return e.Err }

// Exit statuses shared by every command.
const (
	// ExitOK is a command that did what it was asked.
	ExitOK = 0
	// ExitFailure is a command that failed.
	ExitFailure = 1
	// ExitConfigError is a config that cannot be used.
	ExitConfigError = 2
)
