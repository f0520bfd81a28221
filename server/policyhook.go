package server

import (
	"context"
	"fmt"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/policy"
	"github.com/hellomdm/hellomdm/store"
)

// policyHook adapts the policy engine to the session engine's PolicyHook.
type policyHook struct{ e *policy.Engine }

var _ PolicyHook = policyHook{}

// NewPolicyHook builds the PolicyHook over the store's policy data.
func NewPolicyHook(st policy.Source, opts ...policy.Option) (PolicyHook, error) {
	e, err := policy.NewEngine(st, opts...)
	if err != nil {
		return nil, fmt.Errorf("policy engine: %w", err)
	}
	return policyHook{e: e}, nil
}

func (h policyHook) Prepare(ctx context.Context, deviceID string) (any, error) {
	p, err := h.e.Prepare(ctx, deviceID)
	if err != nil || p == nil {
		return nil, err // a typed nil would look like work to do
	}
	return p, nil
}

func (h policyHook) Reconcile(_ context.Context, tx store.DeviceTx, dev *store.Device, now time.Time, prepared any) ([]*audit.Event, error) {
	p, ok := prepared.(*policy.Prepared)
	if !ok {
		return nil, fmt.Errorf("reconciling policy: unexpected prepared value %T", prepared)
	}
	return h.e.Reconcile(tx, dev, now, p)
}

func (h policyHook) Outcome(_ context.Context, tx store.DeviceTx, dev *store.Device, cmd *store.Command, now time.Time) ([]*audit.Event, error) {
	return h.e.Outcome(tx, dev, cmd, now)
}
