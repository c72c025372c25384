package scheduler

import (
	"math/rand/v2"
	"sync"

	"github.com/proxy-dev/proxy/pkg/account"
)

// picker makes weighted random choices. Random rather than round-robin:
// choices are made once per conversation, not per request, so smoothness
// across requests matters less than independence across instances.
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

// choose picks among accounts in proportion to their weights. Accounts of
// weight 0 are standby: chosen, uniformly, only when no weighted account is
// among them. as must not be empty.
func (p *picker) choose(as []*account.Account) *account.Account {
	total := 0
	for _, a := range as {
		total += a.Weight
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if total == 0 {
		return as[p.rnd.IntN(len(as))]
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
