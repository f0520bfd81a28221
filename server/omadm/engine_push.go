package omadm

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/internal/eventid"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

// WNS push provisioning (docs/protocol.md C.7). When the device's tenant has a PFN, the
// first session that sees it queues a Replace of DMClient Provider/{ProviderID}/Push/PFN and
// a Get of Push/ChannelURI and of Push/Status; the answers land on store.Device.WNS. The
// reads are queued again when the channel is missing or has under 15 days left (at most
// once a day), and at once after WNS answered 404/410 (NeedsRead). A PFN the admin cleared
// queues a Delete of Push/PFN and forgets the channel. The tenant's PFN is read outside
// the transaction at the first message of a session (Config.PushPFN), like the PIN reset
// truth.
const (
	pushSource     = "server:wnsPush"     // the Replace or Delete of Push/PFN
	pushReadSource = "server:wnsPushRead" // the Gets of Push/ChannelURI and Push/Status

	// ChannelLifetime is how long a WNS channel lasts after it is issued.
	ChannelLifetime = 30 * 24 * time.Hour
	// channelRenewWindow: a channel with less than this left is read again.
	channelRenewWindow = 15 * 24 * time.Hour
	// pushReadInterval is the least time between two reads the schedule queues.
	pushReadInterval = 24 * time.Hour
	// maxRefusedReason bounds the reason kept for a refused channel URI.
	maxRefusedReason = 300
)

// pushPFN reads, outside the check-in transaction, the PFN of the device's tenant at the
// first message of a session; ok false when push provisioning is off or not due now.
func (e *Engine) pushPFN(ctx context.Context, req Request, msgID int) (pfn string, ok bool, err error) {
	if e.cfg.PushPFN == nil || msgID != 1 || !req.Message.Final {
		return "", false, nil
	}
	pfn, err = e.cfg.PushPFN(ctx, req.DeviceID)
	if err != nil {
		return "", false, err
	}
	return pfn, true, nil
}

// pushNode is the device-scoped URI of a Push leaf of our provider.
func (e *Engine) pushNode(leaf string) string {
	return "./Device/Vendor/MSFT/DMClient/Provider/" + url.PathEscape(e.cfg.ProviderID) + "/Push/" + leaf
}

// provisionPush queues what the device's push state needs (the package comment's rule).
func (s *step) provisionPush() error {
	if !s.pushKnown {
		return nil
	}
	w, pfn := s.dev.WNS, s.pushPFN
	if pfn == "" {
		if w == nil || w.PFN == "" {
			return nil
		}
		if err := s.queuePush(pushSource, store.Payload{Verb: syncml.VerbDelete, Items: []store.Item{{Target: s.e.pushNode("PFN")}}}, 0); err != nil {
			return err
		}
		s.pushEvent("pfnRemoved", map[string]any{"pfn": w.PFN})
		s.dev.WNS, s.devDirty = nil, true
		return nil
	}
	provision, read := pushDue(w, pfn, s.now)
	if !provision && !read {
		return nil
	}
	open, err := s.tx.Open()
	if err != nil {
		return fmt.Errorf("loading open commands: %w", err)
	}
	for _, c := range open {
		if c.Source == pushSource || c.Source == pushReadSource {
			return nil // the last provisioning or read is still under way
		}
	}
	next := store.WNSChannel{PFN: pfn}
	if !provision {
		next = *w
		next.NeedsRead = false
	} else if err := s.queuePush(pushSource, store.Payload{Verb: syncml.VerbReplace,
		Items: []store.Item{{Target: s.e.pushNode("PFN"), Meta: &store.Meta{Format: "chr"}, Data: pfn}}}, 0); err != nil {
		return err
	}
	for _, leaf := range []string{"ChannelURI", "Status"} {
		// Sent once: a failed read is not retried; the schedule reads again.
		if err := s.queuePush(pushReadSource, store.Payload{Verb: syncml.VerbGet, Items: []store.Item{{Target: s.e.pushNode(leaf)}}}, 1); err != nil {
			return err
		}
	}
	next.ReadAt = s.now
	s.dev.WNS, s.devDirty = &next, true
	if provision {
		s.pushEvent("pfnSet", map[string]any{"pfn": pfn})
	}
	return nil
}

// pushDue decides, for a tenant PFN that is set, whether the device must be given it
// (provision, which reads too) or only read again: at once after a 404/410 (NeedsRead),
// else at most once a pushReadInterval while it has no channel or its channel has less
// than channelRenewWindow left.
func pushDue(w *store.WNSChannel, pfn string, now time.Time) (provision, read bool) {
	if w == nil || w.PFN != pfn {
		return true, true
	}
	if w.NeedsRead {
		return false, true
	}
	stale := now.Sub(w.ReadAt) >= pushReadInterval
	return false, stale && (w.ChannelURI == "" || w.ExpiresAt.Sub(now) < channelRenewWindow)
}

// queuePush queues one push command with its command.queued event; maxAttempts 0 takes
// the engine's.
func (s *step) queuePush(source string, p store.Payload, maxAttempts int) error {
	if maxAttempts == 0 {
		maxAttempts = s.e.cfg.MaxAttempts
	}
	cmd := store.Command{ID: uuid.NewString(), TenantID: s.dev.TenantID, DeviceID: s.dev.ID, Source: source, Payload: p,
		State: store.CommandQueued, MaxAttempts: maxAttempts, CreatedAt: s.now, UpdatedAt: s.now}
	if err := s.tx.Enqueue(cmd); err != nil {
		return fmt.Errorf("queueing %s of %s: %w", p.Verb, targetOf(p), err)
	}
	s.events = append(s.events, &audit.Event{ID: eventid.New(), Time: s.now, TenantID: s.dev.TenantID, Kind: audit.KindCommandQueued,
		Actor:   audit.Actor{Type: audit.ActorSystem, ID: source},
		Subject: audit.Subject{Type: audit.SubjectCommand, ID: cmd.ID}, DeviceID: s.dev.ID, Action: "queue",
		Details: detailsJSON(map[string]any{"verb": p.Verb, "locUri": targetOf(p), "data": dataOf(p), "reason": "WNS push provisioning (docs/protocol.md C.7)"})})
	return nil
}

func dataOf(p store.Payload) string {
	if len(p.Items) > 0 {
		return p.Items[0].Data
	}
	return ""
}

// pushEvent records a change of the device's push state (device.push, by the system).
func (s *step) pushEvent(action string, details map[string]any) {
	s.events = append(s.events, &audit.Event{ID: eventid.New(), Time: s.now, TenantID: s.dev.TenantID, Kind: audit.KindDevicePush,
		Actor:   audit.Actor{Type: audit.ActorSystem, ID: pushSource},
		Subject: audit.Subject{Type: audit.SubjectDevice, ID: s.dev.ID}, DeviceID: s.dev.ID, Action: action, Details: detailsJSON(details)})
}

// recordPushReads applies the answers of this message to the reads of Push/ChannelURI and
// Push/Status: a value read, or a failed read (no value: 404 and the like).
func (s *step) recordPushReads() {
	if s.dev.WNS == nil {
		return
	}
	for id := range s.dirty {
		c := s.cmds[id]
		if c == nil || c.Source != pushReadSource || c.State.Open() || len(c.Payload.Items) != 1 {
			continue
		}
		value, ok := "", c.State == store.CommandSucceeded
		if ok && len(c.Results) > 0 {
			value = c.Results[0].Data
		}
		switch target := c.Payload.Items[0].Target; {
		case strings.HasSuffix(target, "/Push/ChannelURI"):
			s.channelReported(value)
		case strings.HasSuffix(target, "/Push/Status"):
			s.statusReported(value, ok)
		}
	}
}

// channelReported records a reported channel URI on the device (reportChannel's rule),
// with its device.push event when something changed.
func (s *step) channelReported(uri string) {
	w, action, details := reportChannel(*s.dev.WNS, uri, s.channelAllowed, s.now)
	if action == "" {
		return
	}
	s.pushEvent(action, details)
	s.dev.WNS, s.devDirty = &w, true
}

// reportChannel applies a reported channel URI to w: one the allowlist accepts is kept (a
// new one expires ChannelLifetime after now), anything else is recorded as refused with
// the reason and not kept; "" is no channel. action names the change ("" none).
func reportChannel(w store.WNSChannel, uri string, allowed func(string) error, now time.Time) (store.WNSChannel, string, map[string]any) {
	uri = strings.TrimSpace(uri)
	switch {
	case uri == "":
		if w.ChannelURI == "" && w.Refused == "" {
			return w, "", nil
		}
		w.ChannelURI, w.ExpiresAt, w.Refused = "", time.Time{}, ""
		return w, "channelAbsent", map[string]any{"pfn": w.PFN}
	case uri == w.ChannelURI:
		return w, "", nil
	}
	if err := allowed(uri); err != nil {
		reason := err.Error()
		if len(reason) > maxRefusedReason {
			reason = reason[:maxRefusedReason]
		}
		if w.ChannelURI == "" && w.Refused == reason {
			return w, "", nil
		}
		w.ChannelURI, w.ExpiresAt, w.Refused = "", time.Time{}, reason
		return w, "channelRefused", map[string]any{"pfn": w.PFN, "reason": reason, "length": len(uri)}
	}
	w.ChannelURI, w.ExpiresAt, w.Refused = uri, now.Add(ChannelLifetime), ""
	return w, "channelReported", map[string]any{"pfn": w.PFN, "host": hostOf(uri), "expiresAt": w.ExpiresAt}
}

// channelAllowed applies Config.ChannelAllowed; without one no channel is kept.
func (s *step) channelAllowed(uri string) error {
	if s.e.cfg.ChannelAllowed == nil {
		return errors.New("this server sends no WNS notifications (no channel allowlist)")
	}
	return s.e.cfg.ChannelAllowed(uri)
}

// statusReported records Push/Status (nil when the read failed or the value is not a
// number).
func (s *step) statusReported(value string, ok bool) {
	w := *s.dev.WNS
	var st *int
	if n, err := strconv.Atoi(strings.TrimSpace(value)); ok && err == nil {
		st = &n
	}
	if (st == nil) == (w.Status == nil) && (st == nil || *st == *w.Status) {
		return
	}
	w.Status = st
	s.dev.WNS, s.devDirty = &w, true
}

func hostOf(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return ""
	}
	return u.Host
}

// StorePushPFN is the default Config.PushPFN: the PFN of the device's tenant as the store
// has it ("" when the tenant configured none).
func StorePushPFN(st interface {
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
		if d.State != store.DeviceEnrolled {
			return "", nil // refused by the engine too
		}
		t, err := st.Tenant(ctx, strings.ToLower(d.TenantID))
		if errors.Is(err, store.ErrNotFound) {
			return "", nil // a deleted tenant's devices are retired: the engine refuses them
		}
		if err != nil {
			return "", fmt.Errorf("loading tenant of device %s: %w", deviceID, err)
		}
		if t.WNS == nil {
			return "", nil
		}
		return t.WNS.PFN, nil
	}
}
