package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/internal/eventid"
	"github.com/hellomdm/hellomdm/server/push"
	"github.com/hellomdm/hellomdm/server/push/wns"
	"github.com/hellomdm/hellomdm/store"
)

// ErrNoWNSChannel: the device has no usable WNS channel (none reported, refused, expired,
// dropped after WNS answered 404/410), or its tenant no WNS credentials; nothing was sent.
// It is the hub's push.ErrNoChannel: the hub counts such a wake-up neither sent nor failed.
var ErrNoWNSChannel = push.ErrNoChannel

// WNSSender wakes devices through WNS (docs/protocol.md C.7) for the push hub
// (push.WNSSender and push.WNSChannelChecker; Open sets it with Hub.SetWNS): it reads the
// device's channel and its tenant's credentials from the store, sends through the WNS
// client, and records the outcome on the device (LastWakeAt, LastWakeResult). A channel WNS
// calls gone is dropped in the same write, with its device.push event, and read again at
// the device's next session.
type WNSSender struct {
	st     store.Store
	client *wns.Client
	now    func() time.Time
	log    *slog.Logger
}

// NewWNSSender builds a sender over a store and a WNS client.
func NewWNSSender(st store.Store, client *wns.Client, now func() time.Time, log *slog.Logger) *WNSSender {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &WNSSender{st: st, client: client, now: now, log: log}
}

// Client is the sender's WNS client.
func (s *WNSSender) Client() *wns.Client { return s.client }

// ChannelAllowed is the session engine's check of a reported channel URI (the client's
// allowlist; omadm.Config.ChannelAllowed).
func (s *WNSSender) ChannelAllowed(uri string) error {
	_, err := s.client.Allowlist().ValidateChannelURI(uri)
	return err
}

// HasWNSChannel reports, from the record alone, whether Wake would send anything.
func (s *WNSSender) HasWNSChannel(d store.Device) bool {
	return d.State == store.DeviceEnrolled && d.WNS.Usable(s.now())
}

// Wake sends one wake-up to the device's WNS channel. An error wrapping ErrNoWNSChannel means
// nothing was sent; any other is a failed wake-up (wns's errors: ErrChannelGone,
// *ThrottledError, ...).
func (s *WNSSender) Wake(ctx context.Context, tenantID, deviceID string) error {
	d, err := s.st.Device(ctx, deviceID)
	if err != nil {
		return fmt.Errorf("waking %s through WNS: %w", deviceID, err)
	}
	if !strings.EqualFold(d.TenantID, tenantID) {
		return fmt.Errorf("waking %s through WNS: %w", deviceID, store.ErrNotFound)
	}
	if !s.HasWNSChannel(d) {
		return ErrNoWNSChannel
	}
	cred, err := s.credentials(ctx, d.TenantID)
	if err != nil {
		return err
	}
	uri := d.WNS.ChannelURI
	sendErr := s.client.Send(ctx, cred, uri)
	if err := s.record(ctx, d, uri, sendErr); err != nil {
		s.log.Warn("recording a WNS wake-up", "device", deviceID, "err", err)
	}
	if sendErr != nil {
		return fmt.Errorf("waking %s through WNS: %w", deviceID, sendErr)
	}
	return nil
}

// credentials are the tenant's package SID and client secret; ErrNoWNSChannel when either
// is missing.
func (s *WNSSender) credentials(ctx context.Context, tenantID string) (wns.Credentials, error) {
	t, err := s.st.Tenant(ctx, strings.ToLower(tenantID))
	if err != nil {
		return wns.Credentials{}, fmt.Errorf("loading tenant %s: %w", tenantID, err)
	}
	if t.WNS == nil || t.WNS.PackageSID == "" {
		return wns.Credentials{}, fmt.Errorf("%w: tenant %s has no WNS package SID", ErrNoWNSChannel, tenantID)
	}
	secret, err := s.st.GetConfig(ctx, store.ConfigWNSSecretKey(t.ID))
	if errors.Is(err, store.ErrNotFound) {
		return wns.Credentials{}, fmt.Errorf("%w: tenant %s has no WNS client secret", ErrNoWNSChannel, tenantID)
	}
	if err != nil {
		return wns.Credentials{}, fmt.Errorf("loading the WNS client secret of tenant %s: %w", tenantID, err)
	}
	return wns.Credentials{PackageSID: t.WNS.PackageSID, Secret: string(secret)}, nil
}

// maxWakeResult bounds the wake-up result kept on the device.
const maxWakeResult = 200

// record writes the wake-up's outcome on the device, if its channel is still uri; a gone
// channel is dropped (NeedsRead: the next session reads a new one) with a device.push event.
func (s *WNSSender) record(ctx context.Context, d store.Device, uri string, sendErr error) error {
	now := s.now().UTC()
	result := "accepted"
	if sendErr != nil {
		result = sendErr.Error()
		if len(result) > maxWakeResult {
			result = result[:maxWakeResult]
		}
	}
	gone := errors.Is(sendErr, wns.ErrChannelGone)
	return s.st.Write(ctx, func(w store.Writer) error {
		dropped := false
		_, err := w.UpdateDevice(d.ID, func(cur *store.Device) error {
			if cur.WNS == nil || cur.WNS.ChannelURI != uri {
				return nil // a new channel arrived meanwhile: this outcome is about the old one
			}
			cur.WNS.LastWakeAt, cur.WNS.LastWakeResult = now, result
			if gone {
				cur.WNS.ChannelURI, cur.WNS.ExpiresAt, cur.WNS.NeedsRead = "", time.Time{}, true
				dropped = true
			}
			return nil
		})
		if err != nil || !dropped {
			return err
		}
		return w.Audit(&audit.Event{ID: eventid.New(), Time: now, TenantID: d.TenantID, Kind: audit.KindDevicePush,
			Actor: audit.Actor{Type: audit.ActorSystem, ID: "server:wnsPush"}, Subject: audit.Subject{Type: audit.SubjectDevice, ID: d.ID},
			DeviceID: d.ID, Action: "channelGone", Details: goneDetails(result)})
	})
}

func goneDetails(result string) json.RawMessage {
	b, _ := json.Marshal(map[string]any{"result": result, "next": "read a new channel at the next session"})
	return b
}

// The hub's interfaces.
var (
	_ push.WNSSender         = (*WNSSender)(nil)
	_ push.WNSChannelChecker = (*WNSSender)(nil)
)
