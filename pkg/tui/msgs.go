package tui

import (
	"time"

	"github.com/proxy-dev/proxy/pkg/event"
	"github.com/proxy-dev/proxy/pkg/status"
)

// DecisionMsg carries one routing decision from /_proxy/events.
type DecisionMsg event.Decision

// StatusMsg carries a fresh /_proxy/status document, or why it could not
// be had (the last good one stays on screen).
type StatusMsg struct {
	Doc *status.Document
	Err error
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
	Err   string        // why the stream was lost, for Reconnecting
	Retry time.Duration // how long until the next try, for Reconnecting
}

// TickMsg moves the model's clock; cooldown countdowns count down on it.
type TickMsg time.Time
