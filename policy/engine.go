package policy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

// MismatchCode is the errorCode of a setting whose verifying Get returned another value than
// the one written; errorDetail starts with MismatchDetail. It is not a SyncML status.
const (
	MismatchCode   = -1
	MismatchDetail = "mismatch"
)

// SourcePrefix starts the Source of every command the engine queues: "policy:<profile ID>".
const SourcePrefix = "policy:"

// Source is the storage Prepare reads, outside the check-in transaction.
type Source interface {
	PolicyCheck(ctx context.Context, deviceID string) (store.PolicyCheck, error)
	PolicySnapshot(ctx context.Context, tenantID string) (store.PolicySnapshot, error)
}

// Engine reconciles devices with their tenant's profiles during check-ins. Its only memory is
// a cache of tenant snapshots keyed by policy version, rebuilt from the store on a miss.
type Engine struct {
	src   Source
	cat   *csp.Catalog
	newID func() string

	mu    sync.Mutex
	cache map[string]*Snapshot // tenant ID → latest snapshot
}

// Option configures an Engine.
type Option func(*Engine)

// WithCatalog replaces csp.Default().
func WithCatalog(c *csp.Catalog) Option { return func(e *Engine) { e.cat = c } }

// WithIDs sets the generator of command and audit event IDs (default: UUIDv7).
func WithIDs(f func() string) Option { return func(e *Engine) { e.newID = f } }

// NewEngine builds an engine over src.
func NewEngine(src Source, opts ...Option) (*Engine, error) {
	if src == nil {
		return nil, errors.New("policy engine: nil source")
	}
	e := &Engine{src: src, cache: map[string]*Snapshot{}}
	for _, o := range opts {
		o(e)
	}
	if e.cat == nil {
		e.cat = csp.Default()
	}
	if e.newID == nil {
		e.newID = func() string { return uuid.Must(uuid.NewV7()).String() }
	}
	return e, nil
}

// Catalog is the engine's CSP catalog.
func (e *Engine) Catalog() *csp.Catalog { return e.cat }

// Prepared is what Prepare hands to Reconcile.
type Prepared struct {
	Snapshot *Snapshot
}

// Prepare decides, with one read transaction, whether the device's desired state may have
// changed since it was last resolved (policy version, OS version, edition, user, or the
// device's PolicyDirty mark). It returns nil for an idle check-in; otherwise the tenant's
// snapshot, from the cache when the version matches.
func (e *Engine) Prepare(ctx context.Context, deviceID string) (*Prepared, error) {
	pc, err := e.src.PolicyCheck(ctx, deviceID)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil // the session engine refuses unknown devices itself
	}
	if err != nil {
		return nil, fmt.Errorf("checking device policy: %w", err)
	}
	d := pc.Device
	if d.State != store.DeviceEnrolled {
		return nil, nil
	}
	r := pc.Resolved
	switch {
	case d.PolicyDirty:
	case !pc.HasResolved:
		if pc.TenantVersion == 0 {
			return nil, nil // the tenant never had any policy
		}
	case r.Version == pc.TenantVersion && r.OSVersion == d.OSVersion && r.OSEdition == d.OSEdition && r.UserID == d.UserID:
		return nil, nil
	}
	snap, err := e.snapshot(ctx, d.TenantID, pc.TenantVersion)
	if err != nil {
		return nil, err
	}
	return &Prepared{Snapshot: snap}, nil
}

// snapshot returns the tenant's snapshot at version or later.
func (e *Engine) snapshot(ctx context.Context, tenantID string, version uint64) (*Snapshot, error) {
	e.mu.Lock()
	s := e.cache[tenantID]
	e.mu.Unlock()
	if s != nil && s.version >= version {
		return s, nil
	}
	ps, err := e.src.PolicySnapshot(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("loading policy of tenant %s: %w", tenantID, err)
	}
	s = NewSnapshot(ps, e.cat)
	e.mu.Lock()
	if cur := e.cache[tenantID]; cur == nil || cur.version < s.version {
		e.cache[tenantID] = s
	}
	e.mu.Unlock()
	return s, nil
}

// Reconcile runs inside the device's check-in transaction: it resolves the device against
// the prepared snapshot, diffs the result with the device's setting states and queues
// Add/Replace + a verifying Get for each change and a Delete for each setting no longer
// assigned. Conflicting and inapplicable settings get their state and no command. The device
// is marked resolved at the snapshot's version (dev.PolicyDirty is cleared; the caller saves
// dev). It returns an audit event per setting state change.
func (e *Engine) Reconcile(tx store.DeviceTx, dev *store.Device, now time.Time, p *Prepared) ([]*audit.Event, error) {
	if p == nil || p.Snapshot == nil {
		return nil, nil
	}
	if p.Snapshot.tenantID != dev.TenantID {
		return nil, fmt.Errorf("reconciling device %s of tenant %s with tenant %s's policy: %w", dev.ID, dev.TenantID, p.Snapshot.tenantID, store.ErrConflict)
	}
	res := Resolve(p.Snapshot, e.cat, DeviceInfo{ID: dev.ID, UserID: dev.UserID, OSVersion: dev.OSVersion, OSEdition: dev.OSEdition})
	list, err := tx.SettingStates()
	if err != nil {
		return nil, fmt.Errorf("loading setting states: %w", err)
	}
	states := make(map[string]store.SettingState, len(list))
	for _, s := range list {
		states[s.LocURI] = s
	}
	r := &reconciler{e: e, tx: tx, dev: dev, now: now}
	for _, d := range res.Desired {
		st, ok := states[d.LocURI]
		delete(states, d.LocURI)
		if err := r.desired(d, st, ok); err != nil {
			return nil, err
		}
	}
	for _, c := range res.Conflicts {
		st, ok := states[c.LocURI]
		delete(states, c.LocURI)
		next := base(st, ok, dev, c.LocURI)
		next.State, next.Sources, next.ErrorCode = store.SettingConflict, c.Sources(), 0
		next.ErrorDetail = conflictDetail(c)
		if err := r.put(st, ok, next); err != nil {
			return nil, err
		}
	}
	for _, n := range res.NotApplicable {
		st, ok := states[n.LocURI]
		delete(states, n.LocURI)
		next := base(st, ok, dev, n.LocURI)
		next.State, next.Sources, next.ErrorCode, next.ErrorDetail = store.SettingNotApplicable, n.Sources, 0, n.Reason
		if err := r.put(st, ok, next); err != nil {
			return nil, err
		}
	}
	uris := make([]string, 0, len(states))
	for u := range states {
		uris = append(uris, u)
	}
	slices.Sort(uris)
	for _, u := range uris {
		if err := r.remove(states[u]); err != nil {
			return nil, err
		}
	}
	if len(r.cmds) > 0 {
		if err := tx.Enqueue(r.cmds...); err != nil {
			return nil, fmt.Errorf("queueing policy commands: %w", err)
		}
	}
	err = tx.PutDevicePolicy(store.DevicePolicy{Version: p.Snapshot.version, OSVersion: dev.OSVersion, OSEdition: dev.OSEdition, UserID: dev.UserID, ResolvedAt: now})
	if err != nil {
		return nil, fmt.Errorf("recording resolution: %w", err)
	}
	dev.PolicyDirty = false
	return r.events, nil
}

func conflictDetail(c Conflict) string {
	parts := make([]string, 0, len(c.Values))
	for _, v := range c.Values {
		parts = append(parts, fmt.Sprintf("%s=%q", v.ProfileID, clip(v.Value)))
	}
	return "profiles disagree: " + strings.Join(parts, ", ")
}

// base starts the next state of a setting from its current one.
func base(st store.SettingState, ok bool, dev *store.Device, uri string) store.SettingState {
	if !ok {
		return store.SettingState{TenantID: dev.TenantID, DeviceID: dev.ID, LocURI: uri}
	}
	return st
}

type reconciler struct {
	e      *Engine
	tx     store.DeviceTx
	dev    *store.Device
	now    time.Time
	cmds   []store.Command
	events []*audit.Event
}

// open reports whether a command is still waiting for the device (or, accepted with 202,
// for its verifying Get).
func (r *reconciler) open(id string) bool {
	if id == "" {
		return false
	}
	c, err := r.tx.Command(id)
	return err == nil && (c.State.Open() || c.State == store.CommandAccepted)
}

func (r *reconciler) desired(d Desired, st store.SettingState, ok bool) error {
	same := ok && !st.Removing && st.Value == d.Value && st.Format == d.Format
	if same && (st.State == store.SettingSucceeded || st.State == store.SettingPending && (r.open(st.WriteCommandID) || r.open(st.VerifyCommandID))) {
		if !slices.Equal(st.Sources, d.Sources) {
			st.Sources = d.Sources
			return r.tx.PutSettingState(st) // no state change, no event
		}
		return nil
	}
	next := base(st, ok, r.dev, d.LocURI)
	next.Format, next.Value, next.Sources = d.Format, d.Value, d.Sources
	next.State, next.ErrorCode, next.ErrorDetail, next.Removing, next.Written = store.SettingPending, 0, "", false, true
	write, get := r.writeCommands(d)
	next.WriteCommandID, next.VerifyCommandID = write.ID, get.ID
	r.cmds = append(r.cmds, write, get)
	return r.put(st, ok, next)
}

// writeCommands builds the write of a desired value (explicit Meta Format; Replace for Policy
// CSP and PassportForWork nodes, which exist once their CSP does; Add elsewhere, which the
// session engine resends as Replace on 418, protocol.md B.6) and the Get that verifies it.
func (r *reconciler) writeCommands(d Desired) (store.Command, store.Command) {
	verb := syncml.VerbAdd
	if usesReplace(d.LocURI) {
		verb = syncml.VerbReplace
	}
	src := SourcePrefix + d.Sources[0]
	write := store.Command{ID: r.e.newID(), TenantID: r.dev.TenantID, DeviceID: r.dev.ID, Source: src,
		Payload: syncml.Command{Verb: verb, Items: []syncml.Item{{Target: d.LocURI, Meta: &syncml.Meta{Format: d.Format}, Data: d.Value}}}}
	get := store.Command{ID: r.e.newID(), TenantID: r.dev.TenantID, DeviceID: r.dev.ID, Source: src,
		Payload: syncml.Command{Verb: syncml.VerbGet, Items: []syncml.Item{{Target: d.LocURI}}}}
	return write, get
}

func usesReplace(uri string) bool {
	for _, p := range []string{"./Device/Vendor/MSFT/Policy/", "./User/Vendor/MSFT/Policy/", "./Device/Vendor/MSFT/PassportForWork/", "./User/Vendor/MSFT/PassportForWork/"} {
		if strings.HasPrefix(uri, p) {
			return true
		}
	}
	return false
}

// remove handles a setting no longer assigned: Delete on the device if something was written,
// else the state becomes removed at once.
func (r *reconciler) remove(st store.SettingState) error {
	switch {
	case st.State == store.SettingRemoved:
		return nil
	case st.Removing && (st.State == store.SettingError || r.open(st.WriteCommandID)):
		return nil // a Delete is on its way, or the device refused it (the admin was told)
	}
	next := st
	next.ErrorCode, next.ErrorDetail, next.VerifyCommandID = 0, "", ""
	if !st.Written {
		next.State, next.Removing, next.WriteCommandID = store.SettingRemoved, false, ""
		return r.put(st, true, next)
	}
	src := SourcePrefix + "removed"
	if len(st.Sources) > 0 {
		src = SourcePrefix + st.Sources[0]
	}
	del := store.Command{ID: r.e.newID(), TenantID: r.dev.TenantID, DeviceID: r.dev.ID, Source: src,
		Payload: syncml.Command{Verb: syncml.VerbDelete, Items: []syncml.Item{{Target: st.LocURI}}}}
	r.cmds = append(r.cmds, del)
	next.State, next.Removing, next.WriteCommandID = store.SettingPending, true, del.ID
	return r.put(st, true, next)
}

// put writes next and records an audit event when the state changed.
func (r *reconciler) put(prev store.SettingState, existed bool, next store.SettingState) error {
	ev := transition(prev, existed, &next, r.now, r.e.newID)
	if err := r.tx.PutSettingState(next); err != nil {
		return fmt.Errorf("saving setting state %s: %w", next.LocURI, err)
	}
	if ev != nil {
		r.events = append(r.events, ev)
	}
	return nil
}

// transition stamps next.LastChanged and returns the audit event of a state change (nil when
// the state, value and error did not change).
func transition(prev store.SettingState, existed bool, next *store.SettingState, now time.Time, newID func() string) *audit.Event {
	from := ""
	if existed {
		from = prev.State
		if prev.State == next.State && prev.Value == next.Value && prev.ErrorCode == next.ErrorCode && prev.Removing == next.Removing {
			return nil
		}
	}
	next.LastChanged = now
	details, err := json.Marshal(map[string]any{
		"from": from, "to": next.State, "locUri": next.LocURI, "errorCode": next.ErrorCode,
		"errorDetail": next.ErrorDetail, "profiles": next.Sources, "removing": next.Removing,
	})
	if err != nil {
		details = nil
	}
	ev := &audit.Event{ID: newID(), Time: now, TenantID: next.TenantID, Kind: audit.KindSettingState,
		Actor:    audit.Actor{Type: audit.ActorSystem, ID: "policy"},
		Subject:  audit.Subject{Type: audit.SubjectSetting, ID: next.LocURI},
		DeviceID: next.DeviceID, Action: next.State, Details: details}
	if len(next.Sources) > 0 {
		ev.ProfileID = next.Sources[0]
	}
	return ev
}
