package scheduler

import (
	"math"
	"math/rand/v2"
	"sync"

	"github.com/proxy-dev/proxy/pkg/account"
)

// picker makes weighted choices. A request with a session key gets weighted
// rendezvous hashing: each session ranks the accounts in an order of its
// own, in proportion to their weights, so that
//   - a failover or a move always lands on the session's same second choice
//     (a conversation never spreads over more accounts than it must), and
//   - every instance, even one cut off from Redis, picks the same account
//     for a new conversation.
//
// A request without a session key gets a plain weighted random choice.
type picker struct {
	mu  sync.Mutex
	rnd *rand.Rand
}

func newPicker(seed uint64) *picker {
	if seed == 0 {
		seed = rand.Uint64()
	}
	return &picker{rnd: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// start begins one choice among as (not empty), in proportion to their
// weights, by rendezvous on key when there is one: the tier it is made in
// (accounts of weight 0 are standby: chosen only when no weighted account is
// among as) and, for a keyless request, its one random draw, so that a
// choice made by other weights within it (headroom) differs from the plain
// one only where the weights do.
func (p *picker) start(key string, as []*account.Account) choice {
	c := choice{key: key}
	for _, a := range as {
		if a.Weight > 0 {
			c.as = append(c.as, a)
		}
	}
	if len(c.as) == 0 {
		c.as, c.standby = as, true
	}
	if key == "" {
		p.mu.Lock()
		c.u = p.rnd.Float64()
		p.mu.Unlock()
	}
	return c
}

// choice is one weighted choice in the making.
type choice struct {
	key     string
	as      []*account.Account // the tier chosen among
	standby bool               // as are standbys, weighted alike
	u       float64            // the random draw of a keyless choice, in [0,1)
}

// weight is a's configured weight in the choice; standbys weigh 1 each.
func (c choice) weight(a *account.Account) float64 {
	if c.standby {
		return 1
	}
	return float64(a.Weight)
}

// pick chooses among as (not empty) in proportion to w: by rendezvous on
// the key, else where the draw falls. Accounts of weight 0 or less are
// never picked unless all are.
func (c choice) pick(as []*account.Account, w func(*account.Account) float64) *account.Account {
	if c.key == "" {
		total := 0.0
		for _, a := range as {
			total += max(w(a), 0)
		}
		if total <= 0 {
			return as[int(c.u*float64(len(as)))%len(as)]
		}
		x := c.u * total
		for _, a := range as {
			if x < max(w(a), 0) {
				return a
			}
			x -= max(w(a), 0)
		}
		return as[len(as)-1] // rounding at the top end
	}
	var best *account.Account
	bestScore := math.Inf(-1)
	for _, a := range as {
		// u is uniform in (0,1); w / -ln(u) is the weighted rendezvous
		// score: the highest wins with probability w / sum(w).
		u := (float64(stableHash(c.key, a.Name)>>11) + 0.5) / (1 << 53)
		if score := max(w(a), 0) / -math.Log(u); best == nil || score > bestScore {
			best, bestScore = a, score
		}
	}
	return best
}
