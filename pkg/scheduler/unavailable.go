package scheduler

import (
	"fmt"
	"time"

	"github.com/proxy-dev/proxy/pkg/account"
)

// UnavailableError means accounts could serve the request but every one is
// cooling down. It unwraps to ErrNoAccount.
type UnavailableError struct {
	// AllQuota is true when every account is out of quota: the client
	// should be told when to come back, not to retry.
	AllQuota bool
	// Until is the earliest time an account comes back; zero when none
	// will by itself (every one is invalid).
	Until time.Time
	// Reasons counts the accounts by why they are out.
	Reasons map[string]int
}

func (e *UnavailableError) Error() string {
	if e.AllQuota {
		return fmt.Sprintf("all accounts are limited until %s", e.Until.Format(time.RFC3339))
	}
	return fmt.Sprintf("no available account: %v", e.Reasons)
}

// Unwrap makes errors.Is(err, ErrNoAccount) hold.
func (e *UnavailableError) Unwrap() error { return ErrNoAccount }

// unavailable explains why none of eligible can serve now.
func (s *Scheduler) unavailable(eligible []*account.Account) error {
	e := &UnavailableError{AllQuota: true, Reasons: map[string]int{}}
	for _, a := range eligible {
		cd, cooling := s.avail.Cooldown(a)
		if !cooling {
			// Tried and failed without a cooldown (a single 5xx): nothing
			// to say about when to come back.
			return ErrNoAccount
		}
		e.Reasons[cd.Reason]++
		if cd.Reason != "quota" {
			e.AllQuota = false
		}
		if !cd.Until.IsZero() && (e.Until.IsZero() || cd.Until.Before(e.Until)) {
			e.Until = cd.Until
		}
	}
	if len(eligible) == 0 {
		return ErrNoAccount
	}
	return e
}
