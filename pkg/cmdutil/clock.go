package cmdutil

import (
	"time"
)

// ClockOf is now and loc, with time.Now and time.Local for the ones not
// given.
func ClockOf(now func() time.Time, loc *time.Location) (func() time.Time, *time.Location) {
	if now == nil {
		now = time.Now
	}
	if loc == nil {
		loc = time.Local
	}
	return now, loc
}
