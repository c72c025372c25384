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

// choose picks among accounts in proportion to their weights, by
// rendezvous on key when there is one. Accounts of weight 0 are standby:
// chosen only when no weighted account is among them. as must not be empty.
func (p *picker) choose(key string, as []*account.Account) *account.Account {
	weighted := as[:0:0]
	for _, a := range as {
		if a.Weight > 0 {
			weighted = append(weighted, a)
		}
	}
	standby := len(weighted) == 0
	if standby {
		weighted = as
	}
	if key == "" {
		return p.random(weighted, standby)
	}
	var best *account.Account
	bestScore := math.Inf(-1)
	for _, a := range weighted {
		w := float64(a.Weight)
		if standby {
			w = 1
		}
		// u is uniform in (0,1); w / -ln(u) is the weighted rendezvous
		// score: the highest wins with probability w / sum(w).
		u := (float64(stableHash(key, a.Name)>>11) + 0.5) / (1 << 53)
		if score := w / -math.Log(u); score > bestScore {
			best, bestScore = a, score
		}
	}
	return best
}

// random is a weighted random choice; uniform among standby accounts.
func (p *picker) random(as []*account.Account, uniform bool) *account.Account {
	p.mu.Lock()
	defer p.mu.Unlock()
	if uniform {
		return as[p.rnd.IntN(len(as))]
	}
	total := 0
	for _, a := range as {
		total += a.Weight
	}
	n := p.rnd.IntN(total)
	for _, a := range as {
		if n < a.Weight {
			return a
		}
		n -= a.Weight
	}
	panic("unreachable: weights changed during choice")
}
