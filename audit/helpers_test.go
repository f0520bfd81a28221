package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock for tests.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2025, 3, 14, 9, 26, 53, 589793238, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// seededRand is deterministic randomness.
func seededRand(seed uint64) *rand.ChaCha8 {
	var s [32]byte
	s[0] = byte(seed)
	return rand.NewChaCha8(s)
}

// memStore is an in-memory Store, Reader and Retainer whose segments are
// segSize consecutive seqs.
type memStore struct {
	mu      sync.Mutex
	segSize uint64
	events  map[string][]Event
	anchors map[string]Anchor
}

func newMemStore() *memStore {
	return &memStore{segSize: 10, events: map[string][]Event{}, anchors: map[string]Anchor{}}
}

func (m *memStore) head(tenant string) Anchor {
	if ev := m.events[tenant]; len(ev) > 0 {
		return ev[len(ev)-1].Head()
	}
	return m.anchors[tenant]
}

func (m *memStore) AppendAudit(_ context.Context, events ...*Event) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	staged := map[string][]Event{}
	heads := map[string]Anchor{}
	for _, e := range events {
		h, ok := heads[e.TenantID]
		if !ok {
			h = m.head(e.TenantID)
		}
		c := *e
		if err := SealAfter(h, &c); err != nil {
			return err
		}
		heads[c.TenantID] = c.Head()
		staged[c.TenantID] = append(staged[c.TenantID], c)
	}
	for t, ev := range staged {
		m.events[t] = append(m.events[t], ev...)
	}
	return nil
}

func (m *memStore) AuditAnchor(_ context.Context, tenant string) (Anchor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.anchors[tenant], nil
}

func (m *memStore) AuditEvents(_ context.Context, tenant string, _ Filter) (EventIterator, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return closingIter{NewSliceIterator(append([]Event(nil), m.events[tenant]...))}, nil
}

type closingIter struct{ *SliceIterator }

func (closingIter) Close() error { return nil }

func (m *memStore) DropAuditSegments(_ context.Context, tenant string, before time.Time,
	record func(uint64, Anchor) (*Event, error)) (Anchor, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	ev := m.events[tenant]
	// Keep at least the newest segment; drop whole older segments whose
	// newest event is before the cut-off.
	drop := 0
	for drop < len(ev) {
		end := drop
		for end < len(ev) && (ev[end].Seq-1)/m.segSize == (ev[drop].Seq-1)/m.segSize {
			end++
		}
		if end == len(ev) || !ev[end-1].Time.Before(before) {
			break
		}
		drop = end
	}
	if drop == 0 {
		return m.anchors[tenant], nil
	}
	upTo := ev[drop-1].Head()
	rec, err := record(uint64(drop), upTo)
	if err != nil {
		return Anchor{}, err
	}
	c := *rec
	if err := SealAfter(ev[len(ev)-1].Head(), &c); err != nil {
		return Anchor{}, err
	}
	m.events[tenant] = append(append([]Event(nil), ev[drop:]...), c)
	m.anchors[tenant] = upTo
	return upTo, nil
}

// sampleEvent returns the i-th of a varied set of unsealed events.
func sampleEvent(i int, tenant string, t time.Time) Event {
	kinds := Kinds()
	d, _ := json.Marshal(map[string]any{"status": 200 + i%5, "loc_uri": fmt.Sprintf("./Device/Vendor/MSFT/PassportForWork/%d/Policies/EnablePinRecovery", i)})
	return Event{
		ID:        fmt.Sprintf("0195ee3e-0000-7000-8000-%012d", i),
		Time:      t,
		TenantID:  tenant,
		Kind:      kinds[i%len(kinds)],
		Actor:     Actor{Type: ActorAdmin, ID: fmt.Sprintf("admin%d@contoso.com", i%3), TokenID: "tok-1", Role: "owner", SourceAddr: "192.0.2.7"},
		Subject:   Subject{Type: SubjectDevice, ID: fmt.Sprintf("dev-%d", i%4)},
		DeviceID:  fmt.Sprintf("dev-%d", i%4),
		ProfileID: fmt.Sprintf("prof-%d", i%2),
		Action:    "update",
		Details:   d,
	}
}

// sealedChain returns n sealed events of one tenant, one second apart.
func sealedChain(tb testing.TB, n int) []Event {
	tb.Helper()
	t0 := time.Date(2025, 1, 2, 3, 4, 5, 6000, time.UTC)
	out := make([]Event, 0, n)
	var prev *Event
	for i := 0; i < n; i++ {
		e := sampleEvent(i, "tenant-a", t0.Add(time.Duration(i)*time.Second))
		if err := Seal(prev, &e); err != nil {
			tb.Fatalf("sealing event %d: %v", i, err)
		}
		out = append(out, e)
		prev = &out[len(out)-1]
	}
	return out
}
