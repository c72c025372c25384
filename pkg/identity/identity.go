// Package identity says who is calling: the client key a request was
// admitted by, and that key's role. The server decides it once, at the
// door; the relay records the name, and the admin endpoints read the role.
package identity

import "context"

// Role is what a client key may do.
type Role string

const (
	// Admin reads and changes everything: every account, session, event,
	// the metrics and the usage of all keys.
	Admin Role = "admin"
	// User calls the API and sees (and clears) only its own sessions,
	// events and usage.
	User Role = "user"
)

// Caller is the client a request came from.
type Caller struct {
	// Name is the client key's name ("login:<account>" for a ChatGPT
	// login the proxy holds), "" when the proxy checks no keys.
	Name string
	// Role is the key's role; a request with no caller recorded (no keys
	// configured) is an admin's.
	Role Role
	// Login is true when the caller was admitted by the access token of a
	// ChatGPT account the proxy holds rather than by a client key: its
	// credential is then a ChatGPT login, which may be passed to the
	// ChatGPT backend, where a client key never is.
	Login bool
}

// KeyHolder reports whether the caller was admitted by a client key: a
// name and no login.
func (c Caller) KeyHolder() bool { return c.Name != "" && !c.Login }

// IsAdmin reports whether the caller may read and change everything.
func (c Caller) IsAdmin() bool { return c.Role != User }

// Owns reports whether the caller may see or clear what client recorded
// (a session, an event, usage): an admin everything, a user its own.
func (c Caller) Owns(client string) bool { return c.IsAdmin() || client == c.Name }

type callerKey struct{}

// With records c as ctx's caller.
func With(ctx context.Context, c Caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// From is ctx's caller; the zero Caller (an admin with no name) when none
// was recorded.
func From(ctx context.Context) Caller {
	c, _ := ctx.Value(callerKey{}).(Caller)
	return c
}
