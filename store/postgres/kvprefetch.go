package postgres

import (
	"bytes"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/hellomdm/hellomdm/store/kv"
)

// prefetch is a read queued by Prefetch (kv.Prefetcher) and, once its round trip is made,
// its answer.
type prefetch struct {
	read kv.Read
	done bool // answered
	// stale: the transaction wrote to the bucket after the read was queued, so its answer may
	// predate the write and answers nothing.
	stale bool
	// The answer: for Keys, vals[i] is the value at read.Keys[i] (nil when absent); for a
	// scan, the keys found and their values (nil when KeysOnly).
	keys, vals [][]byte
}

var _ kv.Prefetcher = (*pgTx)(nil)

// Prefetch queues reads to go with the transaction's next statement (kv.Prefetcher). A read
// of a bucket that cannot name a table is left out: the read it would answer fails itself.
func (t *pgTx) Prefetch(reads ...kv.Read) {
	for _, r := range reads {
		tb, err := t.k.table(r.Bucket)
		if err != nil || (len(r.Prefix) == 0 && len(r.Keys) == 0) {
			continue
		}
		p := &prefetch{read: r}
		q := queued{op: "reading", b: r.Bucket, pf: p}
		lock := r.Lock && t.writable
		switch {
		case len(r.Prefix) > 0:
			variant := 0
			if r.KeysOnly {
				variant |= scanKeysOnly
			}
			until := prefixEnd(r.Prefix)
			q.args = []any{r.Prefix}
			if until != nil {
				variant |= scanBounded
				q.args = append(q.args, until)
			}
			q.sql = tb.scans[0][variant]
		case len(r.Keys) == 1 && lock:
			q.sql, q.args = tb.getLocked, []any{r.Keys[0]}
		case len(r.Keys) == 1:
			q.sql, q.args = tb.get, []any{r.Keys[0]}
		case lock:
			q.sql, q.args = tb.getManyLocked, []any{r.Keys}
		default:
			q.sql, q.args = tb.getMany, []any{r.Keys}
		}
		t.pending = append(t.pending, q)
		t.ahead = append(t.ahead, p)
	}
}

// receive reads the answer of p from br and appends to then the reads its Then asks for.
func (p *prefetch) receive(br pgx.BatchResults, then []kv.Read) ([]kv.Read, error) {
	rows, err := br.Query()
	if err != nil {
		return then, err
	}
	r := p.read
	if len(r.Prefix) == 0 {
		p.vals = make([][]byte, len(r.Keys))
	}
	for rows.Next() {
		var k, v []byte
		switch {
		case len(r.Prefix) > 0 && r.KeysOnly:
			err = rows.Scan(&k)
		case len(r.Keys) == 1 && len(r.Prefix) == 0:
			k = r.Keys[0]
			err = rows.Scan(&v)
		default:
			err = rows.Scan(&k, &v)
		}
		if err != nil {
			rows.Close()
			return then, err
		}
		if v == nil && !(len(r.Prefix) > 0 && r.KeysOnly) {
			v = []byte{}
		}
		if len(r.Prefix) > 0 {
			p.keys, p.vals = append(p.keys, k), append(p.vals, v)
		} else if i := slices.IndexFunc(r.Keys, func(x []byte) bool { return bytes.Equal(x, k) }); i >= 0 {
			p.vals[i] = v
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return then, err
	}
	p.done = true
	if r.Then != nil && !p.stale {
		keys, vals := p.keys, p.vals
		if len(r.Prefix) == 0 {
			keys, vals = nil, nil
			for i, v := range p.vals {
				if v != nil {
					keys, vals = append(keys, r.Keys[i]), append(vals, v)
				}
			}
		}
		then = append(then, r.Then(keys, vals)...)
	}
	return then, nil
}

// await makes sure p is answered: while it is queued, the queue goes to the server.
func (t *pgTx) await(p *prefetch) error {
	if p.done {
		return nil
	}
	br, err := t.send(nil)
	if err != nil {
		return err
	}
	return t.close(br)
}

// covering returns a prefetched read of b, not stale, whose Keys hold key (at index i), locked
// when lock is set in a writable transaction; nil when there is none. The latest queued wins.
func (t *pgTx) covering(b kv.Bucket, key []byte, lock bool) (p *prefetch, i int) {
	for j := len(t.ahead) - 1; j >= 0; j-- {
		p := t.ahead[j]
		if p.stale || p.read.Bucket != b || len(p.read.Prefix) > 0 || (lock && t.writable && !p.read.Lock) {
			continue
		}
		if i := slices.IndexFunc(p.read.Keys, func(x []byte) bool { return bytes.Equal(x, key) }); i >= 0 {
			return p, i
		}
	}
	return nil, 0
}

// fromAhead answers a GetMany of keys of b into out when prefetched reads cover every key,
// reporting whether they did.
func (t *pgTx) fromAhead(b kv.Bucket, keys, out [][]byte) (bool, error) {
	if len(t.ahead) == 0 {
		return false, nil
	}
	ps := make([]*prefetch, len(keys))
	at := make([]int, len(keys))
	for i, k := range keys {
		if ps[i], at[i] = t.covering(b, k, false); ps[i] == nil {
			return false, nil
		}
	}
	for i, p := range ps {
		if err := t.await(p); err != nil {
			return false, err
		}
		out[i] = p.vals[at[i]]
	}
	return true, nil
}

// scanAhead returns the prefetched scan, not stale, that answers the first keys of a Scan of
// span in b: same prefix, from its start, no SkipLocked, with values when the Scan wants them.
func (t *pgTx) scanAhead(b kv.Bucket, span kv.Span) *prefetch {
	if len(span.Prefix) == 0 || span.Start != nil || span.SkipLocked {
		return nil
	}
	for j := len(t.ahead) - 1; j >= 0; j-- {
		p := t.ahead[j]
		if !p.stale && p.read.Bucket == b && bytes.Equal(p.read.Prefix, span.Prefix) && (span.KeysOnly || !p.read.KeysOnly) {
			return p
		}
	}
	return nil
}

// dropAhead marks stale every prefetched read of b: the transaction is writing to b.
func (t *pgTx) dropAhead(b kv.Bucket) {
	for _, p := range t.ahead {
		if p.read.Bucket == b {
			p.stale = true
		}
	}
}

// trimAhead takes out of the queue, before COMMIT, the prefetched reads that no queued write
// follows: nobody will use their answers. One that a write follows stays, so a lock queued
// before writes is taken before them.
func (t *pgTx) trimAhead() {
	n := len(t.pending)
	for n > 0 && t.pending[n-1].pf != nil {
		n--
	}
	t.pending = t.pending[:n]
}
