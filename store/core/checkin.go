package core

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// Checkin runs fn in one durable transaction scoped to deviceID. The transaction first reads
// the device's record with GetForUpdate (on a kv.Prefetcher backend: queued first, so it goes
// to the server before anything else fn reads or writes, with fn's first read), so two sessions of one device (on any servers, on a
// backend with concurrent writers) run one after the other, and an Enqueue for the device,
// which locks the same record, waits for the check-in or the check-in for it. Concurrent
// check-ins are grouped into one commit (kv Batch: bbolt's DB.Batch) or run again after a
// conflict between concurrent writers, so fn may run more than once: each run gets a fresh
// DeviceTx whose effects live only in that run's transaction. Audit events passed to
// DeviceTx.Audit receive their Seq, PrevHash and Hash once the transaction has committed
// (with a sequencer, sequencer.go: when they are sealed). An error from fn aborts the transaction and is returned as is.
func (s *Store) Checkin(ctx context.Context, deviceID string, fn func(tx store.DeviceTx) error) error {
	if err := checkID("device id", deviceID); err != nil {
		return fmt.Errorf("checking in: %w", err)
	}
	key := []byte(deviceID)
	var (
		fnErr error
		err   error
	)
	// A count row a concurrent check-in created first (the device, trouble or profile status
	// counts: an Insert of an absent row takes no lock) loses the race: the check-in runs
	// again and finds the row, as writeRetrying does for the other writes.
	for range createAttempts {
		err = s.batch(ctx, func(w *wtx) error {
			fnErr = nil
			t := &deviceTx{w: w, id: deviceID, key: key}
			if p, ok := w.Tx.(kv.Prefetcher); ok {
				// The lock is queued first, so it goes to the server first with the
				// transaction's first statement, before every read and write of fn, and in the
				// same round trip as the reads fn prefetches (Prefetch).
				p.Prefetch(kv.Read{Bucket: bDevices, Keys: [][]byte{key}, Lock: true})
				t.ahead = p
			} else {
				raw, err := w.GetForUpdate(bDevices, key)
				if err != nil {
					return fmt.Errorf("locking device %s: %w", deviceID, err)
				}
				t.raw, t.loaded = raw, true
			}
			fnErr = fn(t)
			return fnErr
		})
		if !errors.Is(err, errCreateRace) {
			break
		}
	}
	switch {
	case err != nil && err == fnErr:
		return err
	case err != nil:
		return fmt.Errorf("checking in device %s: %w", deviceID, err)
	}
	return nil
}

// deviceTx is a store.DeviceTx on one run of a Checkin transaction. raw is the device's
// record as read under its lock (nil when the device does not exist), valid until the
// transaction ends, once loaded (on a kv.Prefetcher backend the lock is read with fn's first
// read, ahead); stale marks that PutDevice replaced it, so the next read fetches it again.
// stored keeps, from the last decoding of raw, the fields of the stored device that
// writeDevice checks a write against (ID, TenantID, CertSerial, State: strings, which no
// caller can change through the copy it was given), so PutDevice after Device does not
// decode the record a second time.
type deviceTx struct {
	w      *wtx
	id     string
	key    []byte        // id as a key of bDevices
	ahead  kv.Prefetcher // the backend's, when it prefetches
	raw    []byte
	loaded bool
	stale  bool
	stored store.Device // valid when known
	// storedSum is the stored device's index summary (deviceindex.go), valid when known.
	storedSum devSummary
	known     bool
	// sessions records, for each session ID read by Session in this run, whether it was
	// stored, so that PutSession need not read it again to know whether it is new. seqs
	// holds the Seq of each command read in this run (Open, Command), so that PutCommand
	// need not look it up again in the command index. Both are valid for the whole run:
	// the device is locked, and only this transaction changes its sessions and commands.
	sessions map[string]bool
	seqs     map[string]uint64
}

var _ store.DeviceTx = (*deviceTx)(nil)

// device decodes the device of the transaction; ErrNotFound when it does not exist.
func (t *deviceTx) device() (store.Device, error) {
	if !t.loaded {
		raw, err := t.w.GetForUpdate(bDevices, t.key)
		if err != nil {
			return store.Device{}, fmt.Errorf("locking device %s: %w", t.id, err)
		}
		t.raw, t.loaded = raw, true
	}
	if t.stale {
		raw, err := t.w.Get(bDevices, t.key)
		if err != nil {
			return store.Device{}, fmt.Errorf("getting device %s: %w", t.id, err)
		}
		t.raw, t.stale = raw, false
	}
	if t.raw == nil {
		return store.Device{}, fmt.Errorf("getting device %s: %w", t.id, store.ErrNotFound)
	}
	var dev store.Device
	if err := unmarshal(t.raw, &dev); err != nil {
		return store.Device{}, fmt.Errorf("getting device %s: %w", t.id, err)
	}
	t.stored = store.Device{ID: dev.ID, TenantID: dev.TenantID, CertSerial: dev.CertSerial, State: dev.State}
	t.storedSum = summarize(dev)
	t.known = true
	return dev, nil
}

// Prefetch queues, on a kv.Prefetcher backend, the reads a check-in message makes first after
// the device's: the session's record, the device's first open set entries and what f asks of
// policy, which go with the lock in one round trip, and the records of the commands those
// entries name, which go with the next statement. Nothing is written, and every read answers
// as it would have.
func (t *deviceTx) Prefetch(f store.Prefetch) {
	if t.ahead == nil {
		return
	}
	var reads []kv.Read
	if f.Policy {
		reads = append(reads, kv.Read{Bucket: bDevicePolicy, Keys: [][]byte{[]byte(t.id)}})
		if checkID("tenant id", f.TenantID) == nil {
			reads = append(reads, kv.Read{Bucket: bPolicyVersion, Keys: [][]byte{policyVersionKey(f.TenantID)}})
		}
	}
	if checkID("session id", f.SessionID) != nil {
		t.ahead.Prefetch(reads...)
		return
	}
	p := prefix(t.id, 0)
	unstored := false
	t.ahead.Prefetch(append(reads,
		kv.Read{Bucket: bSessions, Keys: [][]byte{subKey(t.id, f.SessionID)}, Then: func(keys, _ [][]byte) []kv.Read {
			unstored = len(keys) == 0
			return nil
		}},
		// Answered after the session's read (in the same round trip, in queue order).
		kv.Read{Bucket: bOpen, Prefix: p, Then: func(keys, _ [][]byte) []kv.Read {
			if len(keys) == 0 {
				return nil
			}
			// The records of the open commands, which openCommands reads under the entries'
			// keys; and, for a session not stored yet that will likely send one and be
			// stored, the device's sessions, which PutSession reads to evict the oldest.
			reads := []kv.Read{{Bucket: bCommands, Keys: keys}}
			if unstored {
				reads = append(reads, kv.Read{Bucket: bSessions, Prefix: p})
			}
			return reads
		}})...)
}

// Device returns the device of the transaction, as read under its lock.
func (t *deviceTx) Device() (store.Device, error) { return t.device() }

// PutDevice writes the device back with UpdatedAt set; a changed certificate serial revokes
// the old one. ErrNotFound when the device does not exist, ErrConflict when dev is another
// device or moves tenant.
func (t *deviceTx) PutDevice(dev store.Device) error {
	if dev.ID != t.id {
		return fmt.Errorf("putting device %s in a check-in of %s: %w", dev.ID, t.id, store.ErrConflict)
	}
	if t.stale || !t.known {
		if _, err := t.device(); err != nil {
			return err
		}
	}
	old, was := t.stored, t.storedSum
	dev.UpdatedAt = t.w.now
	t.stale, t.known = true, false
	if err := writeDeviceOver(t.w, &old, &was, dev); err != nil {
		return fmt.Errorf("putting device %s: %w", t.id, err)
	}
	return nil
}

// Session returns one stored OMA-DM session of the device.
func (t *deviceTx) Session(sessionID string) (store.Session, error) {
	var s store.Session
	if checkID("session id", sessionID) != nil {
		// No session with an ID that cannot be stored exists.
		return s, fmt.Errorf("getting session %q of device %s: %w", sessionID, t.id, store.ErrNotFound)
	}
	raw, err := t.w.Get(bSessions, subKey(t.id, sessionID))
	if err != nil {
		return s, fmt.Errorf("getting session %s of device %s: %w", sessionID, t.id, err)
	}
	if t.sessions == nil {
		t.sessions = make(map[string]bool, 1)
	}
	t.sessions[sessionID] = raw != nil
	if len(raw) < 8 {
		return s, fmt.Errorf("getting session %s of device %s: %w", sessionID, t.id, store.ErrNotFound)
	}
	if err := unmarshal(raw[8:], &s); err != nil {
		return store.Session{}, fmt.Errorf("getting session %s of device %s: %w", sessionID, t.id, err)
	}
	return s, nil
}

// PutSession stores a session of the device (an empty DeviceID means this device): the
// stamp (UpdatedAt, now when zero; 8 bytes, Unix nanoseconds) followed by the session
// (sessionrecord.go). Writing a new session keeps only the store.MaxSessions most recently
// updated ones.
func (t *deviceTx) PutSession(s store.Session) error {
	if s.DeviceID == "" {
		s.DeviceID = t.id
	}
	if s.DeviceID != t.id {
		return fmt.Errorf("putting session of device %s in a check-in of %s: %w", s.DeviceID, t.id, store.ErrConflict)
	}
	if err := checkID("session id", s.SessionID); err != nil {
		return fmt.Errorf("putting session: %w", err)
	}
	stamp := s.UpdatedAt
	if stamp.IsZero() {
		stamp = t.w.now
	}
	raw := binary.BigEndian.AppendUint64(make([]byte, 0, 8+sessionSize(&s)), uint64(stamp.UnixNano()))
	raw, ok := appendSession(raw, &s)
	if !ok {
		js, err := json.Marshal(&s)
		if err != nil {
			return fmt.Errorf("putting session %s: encoding record: %w", s.SessionID, err)
		}
		raw = append(raw, js...)
	}
	k := subKey(t.id, s.SessionID)
	stored, known := t.sessions[s.SessionID]
	if !known {
		old, err := t.w.Get(bSessions, k)
		if err != nil {
			return fmt.Errorf("putting session %s: %w", s.SessionID, err)
		}
		stored = old != nil
	}
	if !stored {
		// Before the Put, so that the scan of the device's sessions is the one Prefetch
		// may have read (a write to the bucket drops prefetched answers); it leaves k out
		// either way.
		if err := evictSessions(t.w, t.id, k); err != nil {
			return fmt.Errorf("evicting old sessions of device %s: %w", t.id, err)
		}
	}
	if err := t.w.Put(bSessions, k, raw); err != nil {
		return fmt.Errorf("putting session %s: %w", s.SessionID, err)
	}
	if t.sessions == nil {
		t.sessions = make(map[string]bool, 1)
	}
	t.sessions[s.SessionID] = true
	return nil
}

// evictSessions deletes a device's least recently updated sessions beyond
// store.MaxSessions, never the one at keep. The keys are deleted after the scan (kv.Tx.Scan
// forbids writing the scanned bucket); they stay valid until the transaction ends.
func evictSessions(w *wtx, deviceID string, keep []byte) error {
	type entry struct {
		key   []byte
		stamp int64 // UnixNano
	}
	all := make([]entry, 0, store.MaxSessions)
	err := w.Scan(bSessions, kv.Span{Prefix: prefix(deviceID, 0)}, func(k, v []byte) (bool, error) {
		if string(k) != string(keep) && len(v) >= 8 {
			all = append(all, entry{k, int64(binary.BigEndian.Uint64(v))})
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	extra := len(all) + 1 - store.MaxSessions
	if extra <= 0 {
		return nil
	}
	slices.SortFunc(all, func(a, b entry) int {
		if a.stamp != b.stamp {
			if a.stamp < b.stamp {
				return -1
			}
			return 1
		}
		return slices.Compare(a.key, b.key)
	})
	for _, e := range all[:extra] {
		if err := w.Delete(bSessions, e.key); err != nil {
			return err
		}
	}
	return nil
}

// HasPending reports with one short scan (stopped at the device's first key in the open
// set) whether the device has open commands.
func (t *deviceTx) HasPending() (bool, error) {
	err := t.w.Scan(bOpen, kv.Span{Prefix: prefix(t.id, 0), KeysOnly: true}, stopAtFirst)
	switch {
	case err == nil:
		return false, nil
	case errors.Is(err, errFirstKey):
		return true, nil
	}
	return false, fmt.Errorf("checking pending commands of device %s: %w", t.id, err)
}

// errFirstKey is how stopAtFirst ends a scan at its first key: a static function and a
// sentinel instead of a closure that records the key, so the check-in's probe of the open
// set allocates nothing for it.
var errFirstKey = errors.New("first key found")

func stopAtFirst(_, _ []byte) (bool, error) { return false, errFirstKey }

// Open returns the device's open commands in Seq order.
func (t *deviceTx) Open() ([]store.Command, error) {
	cmds, err := openCommands(t.w, t.id, nil)
	if err != nil {
		return nil, fmt.Errorf("listing open commands of device %s: %w", t.id, err)
	}
	for i := range cmds {
		t.knowSeq(cmds[i].ID, cmds[i].Seq)
	}
	return cmds, nil
}

// OpenDue returns the device's open commands in Seq order but those whose open set entry
// (openEntry) says they wait past now, unless their Seq is in also.
func (t *deviceTx) OpenDue(now time.Time, also []uint64) ([]store.Command, error) {
	cmds, err := openCommands(t.w, t.id, func(seq uint64, v []byte) bool {
		return openWaits(v, now) && !slices.Contains(also, seq)
	})
	if err != nil {
		return nil, fmt.Errorf("listing due commands of device %s: %w", t.id, err)
	}
	for i := range cmds {
		t.knowSeq(cmds[i].ID, cmds[i].Seq)
	}
	return cmds, nil
}

// knowSeq records the Seq of a command read in this run.
func (t *deviceTx) knowSeq(id string, seq uint64) {
	if seq == 0 {
		return
	}
	if t.seqs == nil {
		t.seqs = make(map[string]uint64, 4)
	}
	t.seqs[id] = seq
}

// Command returns one command of the device.
func (t *deviceTx) Command(id string) (store.Command, error) {
	c, err := commandTx(t.w, t.id, id)
	if err != nil {
		return store.Command{}, fmt.Errorf("getting command of device %s: %w", t.id, err)
	}
	t.knowSeq(c.ID, c.Seq)
	return c, nil
}

// PutCommand writes back a command of the device (an empty DeviceID means this device); a
// final State takes it out of the open set. ErrNotFound when it was never enqueued,
// ErrConflict when its Seq differs from the stored one.
func (t *deviceTx) PutCommand(c store.Command) error {
	if c.DeviceID == "" {
		c.DeviceID = t.id
	}
	if c.DeviceID != t.id {
		return fmt.Errorf("putting command of device %s in a check-in of %s: %w", c.DeviceID, t.id, store.ErrConflict)
	}
	if seq, ok := t.seqs[c.ID]; ok {
		// Read in this run: it exists, and its Seq is seq.
		if c.Seq != 0 && c.Seq != seq {
			return fmt.Errorf("putting command of device %s: command %s seq %d, stored %d: %w", t.id, c.ID, c.Seq, seq, store.ErrConflict)
		}
		c.Seq = seq
		if err := writeCommand(t.w, c); err != nil {
			return fmt.Errorf("putting command of device %s: %w", t.id, err)
		}
		return nil
	}
	if err := putCommandTx(t.w, c); err != nil {
		return fmt.Errorf("putting command of device %s: %w", t.id, err)
	}
	return nil
}

// Enqueue appends commands to this device's queue, after its current highest Seq. Defaults
// are those of Store.Enqueue; ErrNotFound when the device does not exist. The device is
// already locked by the check-in.
func (t *deviceTx) Enqueue(cmds ...store.Command) error {
	if len(cmds) == 0 {
		return nil
	}
	prepared := make([]store.Command, len(cmds))
	for i, c := range cmds {
		if c.DeviceID == "" {
			c.DeviceID = t.id
		}
		if c.DeviceID != t.id {
			return fmt.Errorf("enqueueing a command of device %s in a check-in of %s: %w", c.DeviceID, t.id, store.ErrConflict)
		}
		c, err := prepareCommand(c)
		if err != nil {
			return fmt.Errorf("enqueueing: %w", err)
		}
		prepared[i] = c
	}
	dev, err := t.device()
	if err != nil {
		return fmt.Errorf("enqueueing: %w", err)
	}
	if err := enqueueDevice(t.w, t.id, dev.TenantID, prepared); err != nil {
		return fmt.Errorf("enqueueing for device %s: %w", t.id, err)
	}
	return nil
}
