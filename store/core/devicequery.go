package core

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// deviceScan is one QueryDevices: the index span it walks and the filters it applies.
type deviceScan struct {
	q      store.DeviceQuery
	span   kv.Span
	search string // folded Search
	limit  int
	chunk  int // summaries read at a time: the page size when few entries are filtered out
	page   store.DevicePage
	ids    [][]byte // matched, in order
	last   []byte   // the last key read
	stop   bool
}

// QueryDevices walks the index whose order and selection fit the query best (search terms,
// OS version, a single CanReset, the state, else the names), reads the summaries of the
// entries in chunks, and keeps the devices every filter accepts, until the page is full or
// store.MaxDeviceScan entries were read.
func (s *Store) QueryDevices(ctx context.Context, q store.DeviceQuery) (store.DevicePage, error) {
	sc, err := newDeviceScan(q)
	if err != nil {
		return store.DevicePage{}, fmt.Errorf("listing devices: %w", err)
	}
	err = s.view(ctx, func(tx kv.Tx) error {
		sc.reset()
		return sc.run(tx)
	})
	if err != nil {
		return store.DevicePage{}, fmt.Errorf("listing devices of tenant %s: %w", q.TenantID, err)
	}
	return sc.page, nil
}

func newDeviceScan(q store.DeviceQuery) (*deviceScan, error) {
	if err := checkID("tenant id", q.TenantID); err != nil {
		return nil, err
	}
	sc := &deviceScan{q: q, limit: q.Limit, search: fold(q.Search)}
	if sc.limit <= 0 {
		sc.limit = store.DefaultDevicePage
	}
	sc.limit = min(sc.limit, store.MaxDevicePage)
	sc.chunk = listChunk
	if q.CanReset == nil && q.State == "" && q.OSEdition == 0 && q.SeenSince.IsZero() && q.NotSeenSince.IsZero() && q.Visible == nil {
		sc.chunk = sc.limit + 1
	}
	p := prefix(q.TenantID, 64)
	switch {
	case q.Search != "":
		p = append(append(p, kindSearch), sc.search...)
	case q.OSVersion != "":
		p = append(append(p, kindOS), fold(q.OSVersion)...)
	case len(q.CanReset) == 1:
		p = append(append(append(p, kindCanReset), q.CanReset[0]...), 0)
	case q.State != "":
		p = append(append(append(p, kindState), q.State...), 0)
	default:
		p = append(p, kindName)
	}
	sc.span = kv.Span{Prefix: p, KeysOnly: true}
	if q.After != "" {
		k, err := base64.RawURLEncoding.DecodeString(q.After)
		if err != nil || !bytes.HasPrefix(k, p) {
			return nil, store.ErrInvalidCursor
		}
		sc.span.Start = append(k, 0) // the first key after it
	}
	return sc, nil
}

func (sc *deviceScan) reset() {
	sc.page, sc.ids, sc.last, sc.stop = store.DevicePage{}, nil, nil, false
}

func (sc *deviceScan) run(tx kv.Tx) error {
	var chunk [][]byte
	var keys [][]byte
	flush := func() error {
		err := sc.filter(tx, keys, chunk)
		chunk, keys = chunk[:0], keys[:0]
		return err
	}
	err := tx.Scan(bDevIndex, sc.span, func(k, _ []byte) (bool, error) {
		i := bytes.LastIndexByte(k, 0)
		if i < 0 {
			return false, fmt.Errorf("malformed device index key %x", k)
		}
		keys = append(keys, cloneBytes(k))
		chunk = append(chunk, cloneBytes(k[i+1:]))
		sc.page.Scanned++
		if len(chunk) == sc.chunk || sc.page.Scanned >= store.MaxDeviceScan {
			if err := flush(); err != nil {
				return false, err
			}
		}
		return !sc.stop && sc.page.Scanned < store.MaxDeviceScan, nil
	})
	if err == nil && len(chunk) > 0 && !sc.stop {
		err = flush()
	}
	if err != nil {
		return err
	}
	if sc.stop || sc.page.Scanned >= store.MaxDeviceScan {
		sc.page.Next = base64.RawURLEncoding.EncodeToString(sc.last)
	}
	return sc.load(tx)
}

// filter reads the summaries of the chunk's devices and keeps those that match, in order,
// stopping once the page is full.
func (sc *deviceScan) filter(tx kv.Tx, keys, ids [][]byte) error {
	if sc.stop {
		return nil
	}
	vals, err := tx.GetMany(bDevSummary, ids)
	if err != nil {
		return err
	}
	for i, raw := range vals {
		sc.last = keys[i]
		if raw == nil {
			return fmt.Errorf("device %s: no summary", ids[i])
		}
		var sum devSummary
		if err := json.Unmarshal(raw, &sum); err != nil {
			return fmt.Errorf("device %s summary: %w", ids[i], err)
		}
		if !sc.matches(sum, keys[i]) {
			continue
		}
		sc.ids = append(sc.ids, ids[i])
		if len(sc.ids) == sc.limit {
			sc.stop = true
			return nil
		}
	}
	return nil
}

func (sc *deviceScan) matches(s devSummary, key []byte) bool {
	q := sc.q
	if q.Search != "" {
		// A device is listed under its name when the name matches, else under its UPN.
		name := fold(s.Name)
		term := key[len(prefix(q.TenantID, 0))+1 : bytes.LastIndexByte(key, 0)]
		if string(term) != name && strings.HasPrefix(name, sc.search) {
			return false
		}
	}
	switch {
	case q.CanReset != nil && !slices.Contains(q.CanReset, s.CanReset):
	case q.State != "" && s.State != q.State:
	case q.OSVersion != "" && !strings.HasPrefix(fold(s.OSVersion), fold(q.OSVersion)):
	case q.OSEdition != 0 && s.OSEdition != q.OSEdition:
	case !q.SeenSince.IsZero() && (s.Seen == 0 || s.Seen < seenMinute(q.SeenSince)):
	case !q.NotSeenSince.IsZero() && s.Seen != 0 && s.Seen >= seenMinute(q.NotSeenSince):
	case q.Visible != nil && !q.Visible(s.Tags):
	default:
		return true
	}
	return false
}

// load reads the matched devices' records.
func (sc *deviceScan) load(tx kv.Tx) error {
	if len(sc.ids) == 0 {
		return nil
	}
	vals, err := tx.GetMany(bDevices, sc.ids)
	if err != nil {
		return err
	}
	for i, raw := range vals {
		if raw == nil {
			return fmt.Errorf("device %s: %w", sc.ids[i], store.ErrNotFound)
		}
		var d store.Device
		if err := unmarshal(raw, &d); err != nil {
			return fmt.Errorf("device %s: %w", sc.ids[i], err)
		}
		sc.page.Devices = append(sc.page.Devices, d)
	}
	return nil
}

// CountDevices adds up the tenant's count rows and its check-ins since then.
func (s *Store) CountDevices(ctx context.Context, tenantID string, since time.Time, visible func([]string) bool) (store.DeviceCounts, error) {
	if err := checkID("tenant id", tenantID); err != nil {
		return store.DeviceCounts{}, fmt.Errorf("counting devices: %w", err)
	}
	var c store.DeviceCounts
	err := s.view(ctx, func(tx kv.Tx) error {
		c = store.DeviceCounts{ByState: map[string]int{}, ByCanReset: map[string]int{}}
		p := prefix(tenantID, 0)
		err := tx.Scan(bDevCounts, kv.Span{Prefix: p}, func(k, v []byte) (bool, error) {
			// tags 0 state 0 canReset 0 shard
			body := k[len(p):]
			if len(body) < 4 || body[len(body)-2] != 0 || len(v) != 8 {
				return false, fmt.Errorf("malformed device count %x", k)
			}
			parts := bytes.Split(body[:len(body)-2], []byte{0})
			if len(parts) != 3 {
				return false, fmt.Errorf("malformed device count %x", k)
			}
			var tags []string
			if len(parts[0]) > 0 {
				tags = strings.Split(string(parts[0]), "\x1f")
			}
			if visible != nil && !visible(tags) {
				return true, nil
			}
			n := int(binary.BigEndian.Uint64(v))
			c.ByState[string(parts[1])] += n
			if string(parts[1]) == store.DeviceEnrolled {
				c.ByCanReset[string(parts[2])] += n
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		tp := append(prefix(tenantID, 9), kindSeen)
		start := binary.BigEndian.AppendUint64(bytes.Clone(tp), uint64(seenMinute(since)))
		if visible == nil {
			// Every device counts: the store counts the index entries where they are (one
			// statement on PostgreSQL), without reading them out.
			c.SeenSince, err = kv.Count(tx, bDevIndex, kv.Span{Prefix: tp, Start: start})
			return err
		}
		return tx.Scan(bDevIndex, kv.Span{Prefix: tp, Start: start}, func(_, v []byte) (bool, error) {
			var tags []string
			if len(v) > 0 {
				tags = strings.Split(string(v), "\x00")
			}
			if visible(tags) {
				c.SeenSince++
			}
			return true, nil
		})
	})
	if err != nil {
		return store.DeviceCounts{}, fmt.Errorf("counting devices of tenant %s: %w", tenantID, err)
	}
	return c, nil
}
