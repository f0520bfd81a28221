package omadm

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/hellomdm/hellomdm/internal/payload"
	"github.com/hellomdm/hellomdm/policy"
	"github.com/hellomdm/hellomdm/store"
)

// PolicySource is the storage the policy hook reads, outside the check-in transaction.
type PolicySource interface {
	PolicySnapshot(ctx context.Context, tenantID string) (store.PolicySnapshot, error)
}

// policyHook is the PolicyHook over the policy engine: it reads what the engine plans from
// and keeps the only policy state of the process, a cache of tenant snapshots keyed by policy
// version, rebuilt from the store on a miss.
type policyHook struct {
	*policy.Engine
	src PolicySource

	mu    sync.Mutex
	cache map[string]*policy.Snapshot // tenant ID → latest snapshot
}

var _ PolicyHook = (*policyHook)(nil)

// NewPolicyHook builds the PolicyHook over the store's policy data.
func NewPolicyHook(src PolicySource, opts ...policy.Option) (PolicyHook, error) {
	if src == nil {
		return nil, errors.New("policy hook: nil source")
	}
	return &policyHook{Engine: policy.NewEngine(opts...), src: src, cache: map[string]*policy.Snapshot{}}, nil
}

// Cached returns the cached snapshot of the tenant if it is at version or later.
func (h *policyHook) Cached(tenantID string, version uint64) *policy.Snapshot {
	h.mu.Lock()
	s := h.cache[tenantID]
	h.mu.Unlock()
	if s != nil && s.Version() >= version {
		return s
	}
	return nil
}

// Load returns the tenant's snapshot at version or later: from the cache, or read from the
// store and cached.
func (h *policyHook) Load(ctx context.Context, tenantID string, version uint64) (*policy.Snapshot, error) {
	if s := h.Cached(tenantID, version); s != nil {
		return s, nil
	}
	ps, err := h.src.PolicySnapshot(ctx, tenantID)
	if err != nil {
		return nil, fmt.Errorf("loading policy of tenant %s: %w", tenantID, err)
	}
	s := policy.NewSnapshot(ps, h.Catalog())
	h.mu.Lock()
	if cur := h.cache[tenantID]; cur == nil || cur.Version() < s.Version() {
		h.cache[tenantID] = s
	}
	h.mu.Unlock()
	return s, nil
}

func deviceInfo(d store.Device) policy.DeviceInfo {
	return policy.DeviceInfo{ID: d.ID, TenantID: d.TenantID, UserID: d.UserID, OSVersion: d.OSVersion, OSEdition: d.OSEdition}
}

// deliveryOf is a command's state in the policy engine's terms; the zero Delivery for a state
// it does not know.
func deliveryOf(s store.CommandState) policy.Delivery {
	switch s {
	case store.CommandQueued, store.CommandSent:
		return policy.DeliveryWaiting
	case store.CommandRetry:
		return policy.DeliveryRetry
	case store.CommandAccepted:
		return policy.DeliveryAccepted
	case store.CommandSucceeded:
		return policy.DeliverySucceeded
	case store.CommandFailed:
		return policy.DeliveryFailed
	case store.CommandCancelled:
		return policy.DeliveryCancelled
	case store.CommandUnknown:
		return policy.DeliveryUnknown
	}
	return 0
}

// staleSnapshot decides, in the check-in's transaction, whether the device's desired state
// may have changed since it was last resolved (policy.Check.Stale) and, if so, returns the
// tenant snapshot to reconcile against: the one an earlier run loaded, or the hook's cached
// one. nil, nil when nothing can have changed; a *needSnapshot when the snapshot must be
// loaded outside the transaction first.
func (s *step) staleSnapshot() (*policy.Snapshot, error) {
	d := s.dev
	var version uint64
	if d.TenantID != "" {
		v, err := s.tx.PolicyVersion(d.TenantID)
		if err != nil {
			return nil, fmt.Errorf("reading the tenant's policy version: %w", err)
		}
		version = v
	}
	resolved, has, err := s.tx.DevicePolicy()
	if err != nil {
		return nil, fmt.Errorf("reading what the device was resolved from: %w", err)
	}
	c := policy.Check{Device: deviceInfo(d), Dirty: d.PolicyDirty, Resolved: resolved, HasResolved: has, TenantVersion: version}
	if !c.Stale() {
		return nil, nil
	}
	if s.prepared != nil && s.prepared.Version() >= version {
		return s.prepared, nil
	}
	if snap := s.e.policy.Cached(d.TenantID, version); snap != nil {
		return snap, nil
	}
	return nil, &needSnapshot{tenantID: d.TenantID, version: version}
}

// reconcile lets the policy engine plan what the device's profiles now require, from the
// device's setting states and the commands they await, and applies the plan.
func (s *step) reconcile() error {
	if s.e.policy == nil {
		return nil
	}
	snap, err := s.staleSnapshot()
	if err != nil || snap == nil {
		return err
	}
	states, err := s.tx.SettingStates()
	if err != nil {
		return fmt.Errorf("reconciling policy: loading setting states: %w", err)
	}
	cmds := map[string]policy.Delivery{}
	for _, id := range policy.Awaited(states) {
		c, err := s.tx.Command(id)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return fmt.Errorf("reconciling policy: loading command %s: %w", id, err)
		default:
			cmds[id] = deliveryOf(c.State)
		}
	}
	plan, err := s.e.policy.Reconcile(snap, deviceInfo(s.dev), states, cmds, s.now)
	if err != nil {
		return fmt.Errorf("reconciling policy: %w", err)
	}
	if err := s.applyPlan(plan); err != nil {
		return fmt.Errorf("reconciling policy: %w", err)
	}
	return nil
}

// outcome lets the policy engine move the setting a command writes, deletes or verifies once
// the command reached a recorded Status or Results.
func (s *step) outcome(cmd *store.Command) error {
	if s.e.policy == nil {
		return nil
	}
	r := policy.CommandResult{ID: cmd.ID, Source: cmd.Source, Payload: payload.ToSyncML(cmd.Payload), Delivery: deliveryOf(cmd.State),
		StatusCode: cmd.StatusCode, Results: payload.ItemsToSyncML(cmd.Results)}
	if !policy.Follows(r) {
		return nil
	}
	states, err := s.tx.SettingStates()
	if err != nil {
		return fmt.Errorf("policy outcome of command %s: loading setting states: %w", cmd.ID, err)
	}
	if err := s.applyPlan(s.e.policy.Outcome(states, r, s.now)); err != nil {
		return fmt.Errorf("policy outcome of command %s: %w", cmd.ID, err)
	}
	return nil
}

// applyPlan writes a policy plan in the check-in's transaction, in the plan's order: setting
// states, queued commands, what the device was resolved from (clearing its dirty mark; the
// device is saved with the message). Its events join the message's.
func (s *step) applyPlan(p policy.Plan) error {
	for _, st := range p.Put {
		if err := s.tx.PutSettingState(st); err != nil {
			return fmt.Errorf("saving setting state %s: %w", st.LocURI, err)
		}
	}
	if len(p.Commands) > 0 {
		cmds := make([]store.Command, len(p.Commands))
		for i, c := range p.Commands {
			cmds[i] = store.Command{ID: c.ID, TenantID: s.dev.TenantID, DeviceID: s.dev.ID, Source: c.Source, Payload: payload.FromSyncML(c.Payload)}
		}
		if err := s.tx.Enqueue(cmds...); err != nil {
			return fmt.Errorf("queueing policy commands: %w", err)
		}
	}
	if p.Resolved != nil {
		if err := s.tx.PutDevicePolicy(*p.Resolved); err != nil {
			return fmt.Errorf("recording resolution: %w", err)
		}
		s.dev.PolicyDirty = false
		s.devDirty = true
	}
	s.events = append(s.events, p.Events...)
	return nil
}
