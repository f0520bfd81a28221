package policy

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/policy/model"
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

// Engine plans the reconciliation of devices with their tenant's profiles. It reads and
// writes nothing: the session engine (server/omadm) gives it a tenant's [Snapshot] and a
// device's confirmed state and applies the [Plan] it returns inside the check-in's
// transaction. Its only state is its catalog and its generator of IDs.
type Engine struct {
	cat   *csp.Catalog
	newID func() string
}

// Option configures an Engine.
type Option func(*Engine)

// WithCatalog replaces csp.Default().
func WithCatalog(c *csp.Catalog) Option { return func(e *Engine) { e.cat = c } }

// WithIDs sets the generator of command and audit event IDs (default: UUIDv7).
func WithIDs(f func() string) Option { return func(e *Engine) { e.newID = f } }

// NewEngine builds an engine.
func NewEngine(opts ...Option) *Engine {
	e := &Engine{}
	for _, o := range opts {
		o(e)
	}
	if e.cat == nil {
		e.cat = csp.Default()
	}
	if e.newID == nil {
		e.newID = func() string { return uuid.Must(uuid.NewV7()).String() }
	}
	return e
}

// Catalog is the engine's CSP catalog.
func (e *Engine) Catalog() *csp.Catalog { return e.cat }

// Check is what a check-in reads, before its transaction, to decide whether the device's
// desired state may have changed since it was last resolved.
type Check struct {
	Device        DeviceInfo
	Dirty         bool               // the device is marked for reconciliation
	Resolved      model.DevicePolicy // what the device was last resolved from
	HasResolved   bool               // false when the device was never resolved
	TenantVersion uint64             // the tenant's policy version now
}

// Stale reports whether the device must be reconciled: it is marked dirty, or it was last
// resolved at another policy version, OS version, edition or user than it has now, or it was
// never resolved and its tenant has had policy (a version above 0). An idle check-in is one
// where Stale is false.
func (c Check) Stale() bool {
	r, d := c.Resolved, c.Device
	switch {
	case c.Dirty:
		return true
	case !c.HasResolved:
		return c.TenantVersion != 0
	}
	return r.Version != c.TenantVersion || r.OSVersion != d.OSVersion || r.OSEdition != d.OSEdition || r.UserID != d.UserID
}

// Delivery is where one of the engine's commands stands in the device's queue, as the
// session engine recorded it. The zero value is a command that was not found.
type Delivery uint8

// Deliveries.
const (
	DeliveryWaiting   Delivery = iota + 1 // queued or sent, no Status yet
	DeliveryRetry                         // an error Status; it will be sent again
	DeliveryAccepted                      // 202: the verifying Get confirms it
	DeliverySucceeded                     // 200
	DeliveryFailed                        // an error Status, and the retries are spent
	DeliveryCancelled                     // withdrawn before delivery
	DeliveryUnknown                       // sent, and no Status came before its claim ran out
)

// Open reports whether the command still needs the device.
func (d Delivery) Open() bool { return d == DeliveryWaiting || d == DeliveryRetry }

// Command is a command the engine wants queued for the device.
type Command struct {
	ID      string
	Source  string // SourcePrefix + a profile ID
	Payload syncml.Command
}

// Plan is what the engine decided for one device. The session engine applies it inside the
// check-in's transaction in this order: Put, Commands, Resolved; Events go to the audit log
// with the message's other events.
type Plan struct {
	// Put are the setting states to write (the device's TenantID and DeviceID), in order.
	Put []model.SettingState
	// Commands are to be queued, in order.
	Commands []Command
	// Resolved, when set, is what the device's desired state was just resolved from: it is
	// recorded and the device's dirty mark cleared.
	Resolved *model.DevicePolicy
	// Events are the audit events of the setting state changes, one per change.
	Events []*audit.Event
}

// Awaited lists the commands whose Delivery Reconcile needs: the write and verify commands of
// the settings that are pending or being removed.
func Awaited(states []model.SettingState) []string {
	var ids []string
	for _, s := range states {
		if s.State != model.SettingPending && !s.Removing {
			continue
		}
		for _, id := range []string{s.WriteCommandID, s.VerifyCommandID} {
			if id != "" {
				ids = append(ids, id)
			}
		}
	}
	return ids
}

// Reconcile resolves the device against snap, diffs the result with the device's setting
// states and plans Add/Replace + a verifying Get for each change and a Delete for each setting
// no longer assigned. Conflicting and inapplicable settings get their state and no command.
// The plan records the device as resolved at the snapshot's version. cmds holds the Delivery
// of each command Awaited(states) names (a command not found is left out). Events are one per
// setting state change.
func (e *Engine) Reconcile(snap *Snapshot, dev DeviceInfo, states []model.SettingState, cmds map[string]Delivery, now time.Time) (Plan, error) {
	if snap.tenantID != dev.TenantID {
		return Plan{}, fmt.Errorf("reconciling device %s of tenant %s with tenant %s's policy: %w", dev.ID, dev.TenantID, snap.tenantID, ErrOtherTenant)
	}
	res := Resolve(snap, e.cat, dev)
	byURI := make(map[string]model.SettingState, len(states))
	for _, s := range states {
		byURI[s.LocURI] = s
	}
	r := &reconciler{e: e, dev: dev, cmds: cmds, now: now}
	for _, d := range res.Desired {
		st, ok := byURI[d.LocURI]
		delete(byURI, d.LocURI)
		r.desired(d, st, ok)
	}
	for _, c := range res.Conflicts {
		st, ok := byURI[c.LocURI]
		delete(byURI, c.LocURI)
		next := base(st, ok, dev, c.LocURI)
		next.State, next.Sources, next.ErrorCode = model.SettingConflict, c.Sources(), 0
		next.ErrorDetail = conflictDetail(c)
		r.put(st, ok, next)
	}
	for _, n := range res.NotApplicable {
		st, ok := byURI[n.LocURI]
		delete(byURI, n.LocURI)
		next := base(st, ok, dev, n.LocURI)
		next.State, next.Sources, next.ErrorCode, next.ErrorDetail = model.SettingNotApplicable, n.Sources, 0, n.Reason
		r.put(st, ok, next)
	}
	uris := make([]string, 0, len(byURI))
	for u := range byURI {
		uris = append(uris, u)
	}
	slices.Sort(uris)
	for _, u := range uris {
		r.remove(byURI[u])
	}
	r.plan.Resolved = &model.DevicePolicy{Version: snap.version, OSVersion: dev.OSVersion, OSEdition: dev.OSEdition, UserID: dev.UserID, ResolvedAt: now}
	return r.plan, nil
}

func conflictDetail(c Conflict) string {
	parts := make([]string, 0, len(c.Values))
	for _, v := range c.Values {
		parts = append(parts, fmt.Sprintf("%s=%q", v.ProfileID, clip(v.Value)))
	}
	return "profiles disagree: " + strings.Join(parts, ", ")
}

// base starts the next state of a setting from its current one.
func base(st model.SettingState, ok bool, dev DeviceInfo, uri string) model.SettingState {
	if !ok {
		return model.SettingState{TenantID: dev.TenantID, DeviceID: dev.ID, LocURI: uri}
	}
	return st
}

type reconciler struct {
	e    *Engine
	dev  DeviceInfo
	cmds map[string]Delivery
	now  time.Time
	plan Plan
}

// open reports whether a command is still waiting for the device (or, accepted with 202,
// for its verifying Get).
func (r *reconciler) open(id string) bool {
	if id == "" {
		return false
	}
	d := r.cmds[id]
	return d.Open() || d == DeliveryAccepted
}

func (r *reconciler) desired(d Desired, st model.SettingState, ok bool) {
	same := ok && !st.Removing && st.Value == d.Value && st.Format == d.Format
	if same && (st.State == model.SettingSucceeded || st.State == model.SettingPending && (r.open(st.WriteCommandID) || r.open(st.VerifyCommandID))) {
		if !slices.Equal(st.Sources, d.Sources) {
			st.Sources = d.Sources
			r.plan.Put = append(r.plan.Put, st) // no state change, no event
		}
		return
	}
	next := base(st, ok, r.dev, d.LocURI)
	next.Format, next.Value, next.Sources = d.Format, d.Value, d.Sources
	next.State, next.ErrorCode, next.ErrorDetail, next.Removing, next.Written = model.SettingPending, 0, "", false, true
	write, get := r.writeCommands(d)
	next.WriteCommandID, next.VerifyCommandID = write.ID, get.ID
	r.plan.Commands = append(r.plan.Commands, write, get)
	r.put(st, ok, next)
}

// writeCommands builds the write of a desired value (explicit Meta Format; Replace for Policy
// CSP and PassportForWork nodes, which exist once their CSP does; Add elsewhere, which the
// session engine resends as Replace on 418, docs/protocol.md B.6) and the Get that verifies it.
func (r *reconciler) writeCommands(d Desired) (Command, Command) {
	verb := syncml.VerbAdd
	if usesReplace(d.LocURI) {
		verb = syncml.VerbReplace
	}
	src := SourcePrefix + d.Sources[0]
	write := Command{ID: r.e.newID(), Source: src,
		Payload: syncml.Command{Verb: verb, Items: []syncml.Item{{Target: d.LocURI, Meta: &syncml.Meta{Format: d.Format}, Data: d.Value}}}}
	get := Command{ID: r.e.newID(), Source: src,
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
func (r *reconciler) remove(st model.SettingState) {
	switch {
	case st.State == model.SettingRemoved:
		return
	case st.Removing && (st.State == model.SettingError || r.open(st.WriteCommandID)):
		return // a Delete is on its way, or the device refused it (the admin was told)
	}
	next := st
	next.ErrorCode, next.ErrorDetail, next.VerifyCommandID = 0, "", ""
	if !st.Written {
		next.State, next.Removing, next.WriteCommandID = model.SettingRemoved, false, ""
		r.put(st, true, next)
		return
	}
	src := SourcePrefix + "removed"
	if len(st.Sources) > 0 {
		src = SourcePrefix + st.Sources[0]
	}
	del := Command{ID: r.e.newID(), Source: src,
		Payload: syncml.Command{Verb: syncml.VerbDelete, Items: []syncml.Item{{Target: st.LocURI}}}}
	r.plan.Commands = append(r.plan.Commands, del)
	next.State, next.Removing, next.WriteCommandID = model.SettingPending, true, del.ID
	r.put(st, true, next)
}

// put plans the write of next and records an audit event when the state changed.
func (r *reconciler) put(prev model.SettingState, existed bool, next model.SettingState) {
	if ev := transition(prev, existed, &next, r.now, r.e.newID); ev != nil {
		r.plan.Events = append(r.plan.Events, ev)
	}
	r.plan.Put = append(r.plan.Put, next)
}

// transition stamps next.LastChanged and returns the audit event of a state change (nil when
// the state, value and error did not change).
func transition(prev model.SettingState, existed bool, next *model.SettingState, now time.Time, newID func() string) *audit.Event {
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
