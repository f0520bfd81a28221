package replicas

import (
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// balancer is a TCP load balancer on loopback: each new connection goes to a random live
// backend; a backend that refuses the dial is skipped for another.
type balancer struct {
	ln       net.Listener
	backends []string
	served   []atomic.Int64 // connections relayed per backend
	wg       sync.WaitGroup
	mu       sync.Mutex
	conns    map[net.Conn]struct{}
}

func newBalancer(ln net.Listener, backends []string) *balancer {
	b := &balancer{ln: ln, backends: backends, served: make([]atomic.Int64, len(backends)), conns: map[net.Conn]struct{}{}}
	b.wg.Go(b.accept)
	return b
}

func (b *balancer) accept() {
	for {
		c, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.wg.Go(func() { b.relay(c) })
	}
}

func (b *balancer) track(c net.Conn, add bool) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !add {
		delete(b.conns, c)
		return true
	}
	if b.conns == nil {
		return false // closed
	}
	b.conns[c] = struct{}{}
	return true
}

func (b *balancer) relay(client net.Conn) {
	if !b.track(client, true) {
		client.Close()
		return
	}
	defer b.track(client, false)
	defer client.Close()
	for _, i := range rand.Perm(len(b.backends)) {
		up, err := net.DialTimeout("tcp", b.backends[i], 2*time.Second)
		if err != nil {
			continue // dead replica: try another
		}
		b.track(up, true)
		defer b.track(up, false)
		b.served[i].Add(1)
		done := make(chan struct{}, 2)
		pipe := func(dst, src net.Conn) {
			_, _ = io.Copy(dst, src)
			if tc, ok := dst.(*net.TCPConn); ok {
				_ = tc.CloseWrite()
			}
			done <- struct{}{}
		}
		go pipe(up, client)
		go pipe(client, up)
		<-done
		// One side ended: give the other a moment to drain, then tear both down (a killed
		// replica's connections end with a reset; the client sees it).
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		up.Close()
		return
	}
}

// close stops accepting, cuts every relayed connection and waits for the relays.
func (b *balancer) close() {
	b.ln.Close()
	b.mu.Lock()
	for c := range b.conns {
		c.Close()
	}
	b.conns = nil
	b.mu.Unlock()
	b.wg.Wait()
}

func (b *balancer) counts() []int64 {
	out := make([]int64, len(b.served))
	for i := range b.served {
		out[i] = b.served[i].Load()
	}
	return out
}
