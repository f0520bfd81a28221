package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
)

// pingAfter is how long a connection may sit idle before it is pinged on acquire, so a
// connection the server dropped meanwhile is replaced instead of failing a request.
const pingAfter = time.Second

// errPoolClosed is returned by acquire after close.
var errPoolClosed = errors.New("connection pool closed")

// pool is a bounded pool of pgx connections. (pgxpool needs github.com/jackc/puddle/v2,
// which is not a dependency of this module; this pool does the little the store needs.)
type pool struct {
	cfg  *pgx.ConnConfig
	sem  chan struct{} // one token per connection in use or being dialled
	mu   sync.Mutex
	idle []idleConn
	done bool
}

type idleConn struct {
	c     *pgx.Conn
	since time.Time
}

func newPool(cfg *pgx.ConnConfig, maxConns int) *pool {
	return &pool{cfg: cfg, sem: make(chan struct{}, maxConns)}
}

// acquire returns an idle connection (pinged when it idled long) or dials a new one.
func (p *pool) acquire(ctx context.Context) (*pgx.Conn, error) {
	select {
	case p.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	for {
		p.mu.Lock()
		if p.done {
			p.mu.Unlock()
			<-p.sem
			return nil, errPoolClosed
		}
		n := len(p.idle)
		if n == 0 {
			p.mu.Unlock()
			break
		}
		ic := p.idle[n-1]
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		if ic.c.IsClosed() {
			continue
		}
		if time.Since(ic.since) > pingAfter {
			pctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := ic.c.Ping(pctx)
			cancel()
			if err != nil {
				closeConn(ic.c)
				if ctx.Err() != nil {
					<-p.sem
					return nil, ctx.Err()
				}
				continue
			}
		}
		return ic.c, nil
	}
	c, err := pgx.ConnectConfig(ctx, p.cfg)
	if err != nil {
		<-p.sem
		return nil, fmt.Errorf("connecting to postgres at %s:%d: %w", p.cfg.Host, p.cfg.Port, err)
	}
	return c, nil
}

// release returns c to the pool, or closes it when it is broken, inside a transaction, or
// the pool is closed.
func (p *pool) release(c *pgx.Conn) {
	defer func() { <-p.sem }()
	if c.IsClosed() {
		// The connection died in use: the server may have dropped every connection (a
		// restart, a failover, an administrator's kill), so the idle ones are pinged before
		// their next use instead of failing the request that takes them.
		p.suspectIdle()
	}
	if c.IsClosed() || c.PgConn().TxStatus() != 'I' {
		closeConn(c)
		return
	}
	p.mu.Lock()
	if p.done {
		p.mu.Unlock()
		closeConn(c)
		return
	}
	p.idle = append(p.idle, idleConn{c: c, since: time.Now()})
	p.mu.Unlock()
}

// suspectIdle makes acquire ping every idle connection before handing it out.
func (p *pool) suspectIdle() {
	p.mu.Lock()
	for i := range p.idle {
		p.idle[i].since = time.Time{}
	}
	p.mu.Unlock()
}

// close closes the idle connections; connections in use close when released.
func (p *pool) close() {
	p.mu.Lock()
	idle := p.idle
	p.idle, p.done = nil, true
	p.mu.Unlock()
	for _, ic := range idle {
		closeConn(ic.c)
	}
}

func closeConn(c *pgx.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = c.Close(ctx)
}
