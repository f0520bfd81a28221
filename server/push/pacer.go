package push

import (
	"context"
	"sync"
	"time"
)

// paced is one wake-up a policy change queued.
type paced struct {
	tenant, device string
	reason         Reason
	wns            bool // through WNS instead of the built-in channel
}

// pacer sends queued wake-ups at most rate per second, in ticks of pacerTick, oldest first.
type pacer struct {
	rate int

	mu     sync.Mutex
	queue  []paced
	signal chan struct{}
}

const pacerTick = 10 * time.Millisecond

func newPacer(rate int) *pacer { return &pacer{rate: rate, signal: make(chan struct{}, 1)} }

func (p *pacer) add(w paced) {
	p.mu.Lock()
	p.queue = append(p.queue, w)
	p.mu.Unlock()
	select {
	case p.signal <- struct{}{}:
	default:
	}
}

// len is how many wake-ups wait.
func (p *pacer) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// run sends the queue until ctx is done: each tick sends rate×tick wake-ups (the fraction
// carried over), so the rate holds for any rate, and a tick sends nothing more than that.
func (p *pacer) run(ctx context.Context, send func(paced)) {
	perTick := float64(p.rate) * pacerTick.Seconds()
	for {
		select {
		case <-ctx.Done():
			return
		case <-p.signal:
		}
		credit := 1.0 // the first wake-up of a burst goes at once
		t := time.NewTicker(pacerTick)
		for {
			p.mu.Lock()
			n := min(int(credit), len(p.queue))
			batch := append([]paced(nil), p.queue[:n]...)
			p.queue = p.queue[n:]
			if len(p.queue) == 0 {
				p.queue = nil
			}
			left := len(p.queue)
			p.mu.Unlock()
			credit -= float64(n)
			for _, w := range batch {
				send(w)
			}
			if left == 0 {
				break
			}
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			credit = min(credit+perTick, perTick+1)
		}
		t.Stop()
	}
}
