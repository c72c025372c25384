package tui

import (
	"time"

	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/status"
	"github.com/proxy-dev/proxy/pkg/usagereport"
)

// DecisionMsg carries one routing decision from /_proxy/events.
type DecisionMsg event.Decision

// StatusMsg carries a fresh /_proxy/status document, or why it could not
// be had (the last good one stays on screen).
type StatusMsg struct {
	Doc *status.Document
	Err error
}

// UsageMsg carries the last seven days of the usage ledger from
// /_proxy/usage, or why they could not be had.
type UsageMsg struct {
	Since string // the first day, 2006-01-02
	Lines []usagereport.Line
	Err   error
}

// ConnState is the state of the event stream.
type ConnState int

// Event stream states.
const (
	Connecting ConnState = iota
	Live
	Reconnecting
)

// ConnMsg reports the event stream connecting, live or lost.
type ConnMsg struct {
	State ConnState
	Err   string        // why the stream was lost, in words, for Reconnecting
	Retry time.Duration // how long until the next try, for Reconnecting
	// At is when the wait for the next try began, so the screen counts
	// Retry down on its clock; zero is the screen's time now.
	At time.Time
}

// TickMsg moves the model's clock; cooldown countdowns count down on it.
type TickMsg time.Time
