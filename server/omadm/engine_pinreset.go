package omadm

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/google/uuid"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/internal/eventid"
	"github.com/hellomdm/hellomdm/pinreset"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

// The server tells a device what it cannot see for itself about its tenant's PIN reset
// service: whether an admin consented to both enterprise applications and whether the tenant
// is in a government cloud (Learn "PIN reset": the service needs both consents and is not
// available in Azure Government). Both decide the device's CanReset (device/pinreset/canreset.go).
//
// The rule: a device with a Hello container reports, among the hellomdm status items of its
// package 1 Replace, what it believes at
// ./Vendor/MSFT/hellomdm/PinResetService/Availability. When that differs from the truth the
// server queues, in the same transaction, a Replace of the device-scoped node with the truth
// (an ordinary command: listed, audited, retried like any other), which goes out in the
// same session. A device that reports nothing (no Hello container) costs no extra read.
const (
	pinResetServiceNode         = "./Device/Vendor/MSFT/hellomdm/PinResetService/Availability"
	pinResetServiceNodeUnscoped = "./Vendor/MSFT/hellomdm/PinResetService/Availability"
	pinResetServiceSource       = "server:pinResetService"
)

// tenantPinResetAvailability is the truth for a tenant, in the node's values.
func tenantPinResetAvailability(t store.Tenant) string {
	return pinreset.Availability(t.GovCloud, t.PinResetServiceConsentAt != nil, t.PinResetClientConsentAt != nil)
}

// reportsPinResetService reports whether the message carries the device's belief.
func reportsPinResetService(m *syncml.Message) bool {
	for _, c := range m.Body {
		if c.Verb != syncml.VerbReplace && c.Verb != syncml.VerbAdd {
			continue
		}
		for _, it := range c.Items {
			if it.Source == pinResetServiceNodeUnscoped || it.Source == pinResetServiceNode {
				return true
			}
		}
	}
	return false
}

// pinResetTruth reads, outside the check-in transaction, the truth for a device whose
// message reports its belief; "" when there is nothing to compare.
func (e *Engine) pinResetTruth(ctx context.Context, req Request) (string, error) {
	if e.cfg.PinResetAvailability == nil || !req.Message.Final || !reportsPinResetService(req.Message) {
		return "", nil
	}
	return e.cfg.PinResetAvailability(ctx, req.DeviceID)
}

// correctPinResetService queues the Replace that tells the device the truth, when what it
// reported in this message differs and no open command already carries the truth.
func (s *step) correctPinResetService() error {
	if s.pinResetTruth == "" {
		return nil
	}
	reported, ok := s.dev.Nodes[pinResetServiceNodeUnscoped]
	if v, scoped := s.dev.Nodes[pinResetServiceNode]; scoped && !ok {
		reported = v
	}
	if reported == s.pinResetTruth {
		return nil
	}
	open, err := s.tx.Open()
	if err != nil {
		return fmt.Errorf("loading open commands: %w", err)
	}
	for _, c := range open {
		if c.Source == pinResetServiceSource && len(c.Payload.Items) == 1 && c.Payload.Items[0].Data == s.pinResetTruth {
			return nil
		}
	}
	cmd := store.Command{ID: uuid.NewString(), TenantID: s.dev.TenantID, DeviceID: s.dev.ID, Source: pinResetServiceSource,
		Payload: store.Payload{Verb: syncml.VerbReplace, Items: []store.Item{{Target: pinResetServiceNode,
			Meta: &store.Meta{Format: "chr"}, Data: s.pinResetTruth}}},
		State: store.CommandQueued, MaxAttempts: s.e.cfg.MaxAttempts, CreatedAt: s.now, UpdatedAt: s.now}
	if err := s.tx.Enqueue(cmd); err != nil {
		return fmt.Errorf("queueing the PIN reset service state: %w", err)
	}
	s.events = append(s.events, &audit.Event{ID: eventid.New(), Time: s.now, TenantID: s.dev.TenantID, Kind: audit.KindCommandQueued,
		Actor:   audit.Actor{Type: audit.ActorSystem, ID: pinResetServiceSource},
		Subject: audit.Subject{Type: audit.SubjectCommand, ID: cmd.ID}, DeviceID: s.dev.ID, Action: "queue",
		Details: detailsJSON(map[string]any{"locUri": pinResetServiceNode, "data": s.pinResetTruth, "reported": reported,
			"reason": "the device's view of its tenant's PIN reset service is not the truth"})})
	return nil
}

// StorePinResetAvailability is the default Config.PinResetAvailability: the device's
// tenant as the store has it.
func StorePinResetAvailability(st interface {
	Device(ctx context.Context, id string) (store.Device, error)
	Tenant(ctx context.Context, id string) (store.Tenant, error)
}) func(ctx context.Context, deviceID string) (string, error) {
	return func(ctx context.Context, deviceID string) (string, error) {
		d, err := st.Device(ctx, deviceID)
		if errors.Is(err, store.ErrNotFound) {
			return "", nil // the session engine refuses unknown devices itself
		}
		if err != nil {
			return "", fmt.Errorf("loading device %s: %w", deviceID, err)
		}
		t, err := st.Tenant(ctx, strings.ToLower(d.TenantID))
		if err != nil {
			return "", fmt.Errorf("loading tenant of device %s: %w", deviceID, err)
		}
		return tenantPinResetAvailability(t), nil
	}
}

// detailsJSON is an audit event's details; nil when v cannot be encoded.
func detailsJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		return nil
	}
	return b
}
