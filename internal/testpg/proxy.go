package testpg

import (
	"encoding/binary"
	"net"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"
)

// Proxy is a TCP relay on a loopback port in front of the PostgreSQL server of a DSN, which
// a test can stop (the database server is then gone for whoever connects through it: open
// connections are cut and new ones refused) and start again on the same port. It counts
// what it relays (Traffic), so a test can tell what a piece of work costs the database.
type Proxy struct {
	tb     testing.TB
	target string // host:port of the real server
	addr   string // the relay's own address, fixed by the first Start

	mu    sync.Mutex
	ln    net.Listener
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup

	roundTrips, statements atomic.Int64
}

// Traffic is what a Proxy relayed to the server, over every connection.
type Traffic struct {
	// RoundTrips counts the client's sends that follow an answer of the server on their
	// connection (or open it): how often a client waited for the server. A pipeline of
	// statements sent at once is one.
	RoundTrips int64
	// Statements counts the statements the client asked the server to run: extended
	// protocol Binds (each execution of a prepared or unnamed statement) and simple
	// protocol Queries. Preparing a statement (Parse, Describe) is not one.
	Statements int64
}

// Sub returns t minus u: the traffic between two readings.
func (t Traffic) Sub(u Traffic) Traffic {
	return Traffic{RoundTrips: t.RoundTrips - u.RoundTrips, Statements: t.Statements - u.Statements}
}

// Traffic returns what the relay has counted so far.
func (p *Proxy) Traffic() Traffic {
	return Traffic{RoundTrips: p.roundTrips.Load(), Statements: p.statements.Load()}
}

// NewProxy starts a relay to the server of dsn and returns it with dsn rewritten to go
// through it; the relay stops when tb ends.
func NewProxy(tb testing.TB, dsn string) (*Proxy, string) {
	tb.Helper()
	u, err := url.Parse(dsn)
	if err != nil {
		tb.Fatalf("parsing DSN: %v", err)
	}
	p := &Proxy{tb: tb, target: u.Host, addr: "127.0.0.1:0", conns: map[net.Conn]struct{}{}}
	p.Start()
	tb.Cleanup(p.Stop)
	u.Host = p.addr
	return p, u.String()
}

// Start (re)opens the relay's port.
func (p *Proxy) Start() {
	p.tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		return
	}
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.tb.Fatalf("proxy listening on %s: %v", p.addr, err)
	}
	p.ln, p.addr = ln, ln.Addr().String()
	p.wg.Add(1)
	go p.accept(ln)
}

// Stop closes the port and cuts every relayed connection: the server is gone.
func (p *Proxy) Stop() {
	p.mu.Lock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

func (p *Proxy) accept(ln net.Listener) {
	defer p.wg.Done()
	for {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		if p.ln != ln { // stopped meanwhile
			p.mu.Unlock()
			c.Close()
			s.Close()
			return
		}
		p.conns[c], p.conns[s] = struct{}{}, struct{}{}
		p.mu.Unlock()
		p.wg.Add(2)
		link := &link{p: p}
		link.answered.Store(true)
		go p.pipe(s, c, link.fromClient)
		go p.pipe(c, s, link.fromServer)
	}
}

// pipe copies one direction, showing each chunk to seen first, and closes both ends when it
// ends.
func (p *Proxy) pipe(dst, src net.Conn, seen func([]byte)) {
	defer p.wg.Done()
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			seen(buf[:n])
			if _, werr := dst.Write(buf[:n]); werr != nil {
				break
			}
		}
		if err != nil {
			break
		}
	}
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// link counts the traffic of one relayed connection.
type link struct {
	p *Proxy
	// answered: the server sent something since the client's last send.
	answered atomic.Bool
	// The client's stream as frontend messages (PostgreSQL protocol 3): untyped until the
	// StartupMessage (an SSLRequest or GSSENCRequest may come before it), then a type byte
	// and a length each.
	typed bool
	head  []byte // the header read so far
	skip  int    // bytes of the current message's body still to pass
}

func (l *link) fromServer([]byte) { l.answered.Store(true) }

func (l *link) fromClient(b []byte) {
	if l.answered.Swap(false) {
		l.p.roundTrips.Add(1)
	}
	for len(b) > 0 {
		if l.skip > 0 {
			n := min(l.skip, len(b))
			l.skip, b = l.skip-n, b[n:]
			continue
		}
		want := 8 // untyped: length, then the protocol or request code
		if l.typed {
			want = 5 // type, length
		}
		n := min(want-len(l.head), len(b))
		l.head, b = append(l.head, b[:n]...), b[n:]
		if len(l.head) < want {
			return
		}
		if l.typed {
			if t := l.head[0]; t == 'B' || t == 'Q' {
				l.p.statements.Add(1)
			}
			l.skip = int(binary.BigEndian.Uint32(l.head[1:])) - 4
		} else {
			l.skip = int(binary.BigEndian.Uint32(l.head)) - 8
			// 80877103 SSLRequest and 80877104 GSSENCRequest precede the StartupMessage.
			code := binary.BigEndian.Uint32(l.head[4:])
			l.typed = code != 80877103 && code != 80877104
		}
		l.head = l.head[:0]
	}
}
