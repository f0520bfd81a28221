package core

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// worstText is n bytes that lower-case (fold, strings.ToLower) to the longest string any n
// bytes do: invalid UTF-8, each byte of which becomes U+FFFD, three bytes.
func worstText(n int) string { return strings.Repeat("\xff", n) }

// tagsOf returns scope tags of exactly n bytes as store.ScopeTagsLen counts them: tags of
// 128 bytes (the admin API's longest) and a shorter last one.
func tagsOf(n int) []string {
	var tags []string
	for n > 0 {
		l := min(128, n)
		tags = append(tags, strings.Repeat(string(rune('a'+len(tags)%26)), l))
		n -= l + 1
	}
	return tags
}

// longestOf returns the longest of values.
func longestOf(values ...string) string {
	var l string
	for _, v := range values {
		if len(v) > len(l) {
			l = v
		}
	}
	return l
}

// TestKeyBudget: every key the store builds from more than one ID or text fits kv.MaxKeyLen
// (the longest key PostgreSQL's index takes) with every part at its limit, so that no write
// within the limits meets kv.CheckKey's refusal. The limits are the store's own where it
// enforces one: device, user, member, session and command IDs, LocURIs, idempotency scopes
// and keys at store.MaxIDLen; device texts at store.MaxDeviceTextLen, in the form that is
// longest once folded (worstText); scope tags at store.MaxDeviceScopeTagsLen; a UPN's
// lower-cased form at store.MaxIDLen; a group's display name at the admin API's 256 bytes.
// Tenant, group and profile IDs are GUIDs, 36 bytes: the admin API makes every one (a
// tenant's ID is uuid's 36-character form whatever form the request had, groups and
// profiles get uuid.NewString), and nothing else creates them. At
// store.MaxIDLen they would not fit (the last check below): a way to create them that takes
// longer IDs must refuse them over the length this test then needs.
func TestKeyBudget(t *testing.T) {
	long := func(n int) string { return strings.Repeat("x", n) }
	guid := uuid.NewString()
	maxID, text := long(store.MaxIDLen), worstText(store.MaxDeviceTextLen)
	state := longestOf(store.DeviceEnrolled, store.DeviceUnenrolled, store.DeviceRetired)
	setting := longestOf(store.SettingPending, store.SettingSucceeded, store.SettingError, store.SettingConflict,
		store.SettingNotApplicable, store.SettingRemoved)
	kind := longestOf(store.MemberUser, store.MemberDevice, store.MemberGroup)
	upn := worstText(store.MaxDeviceTextLen-1) + "@" // not the name: its own search entry
	sum := devSummary{Name: text, UPN: upn, CanReset: text, State: state, OSVersion: text, Seen: 1,
		Tags: tagsOf(store.MaxDeviceScopeTagsLen), WNS: true}
	if n := store.ScopeTagsLen(sum.Tags); n != store.MaxDeviceScopeTagsLen {
		t.Fatalf("tagsOf made %d bytes of tags", n)
	}
	if err := store.CheckDeviceText(store.Device{DeviceName: text, UPN: upn, OSVersion: text, ScopeTags: sum.Tags,
		Nodes: map[string]string{store.CanResetNode: text}}); err != nil {
		t.Fatalf("the worst case is over the limits: %v", err)
	}
	settingRest := append(prefix(maxID, store.MaxIDLen), maxID...) // a setting state's key after prefix(tenant)
	at := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	keys := map[string][]byte{
		"device count":  countKey(guid, sum, maxID),
		"device tenant": subKey(guid, maxID),
		"user":          subKey(guid, maxID),
		"user UPN":      upnKey(guid, maxID),
		"role holder":   roleKey(guid, maxID),
		// 256 bytes: the admin API's limit of a group's displayName (checkDisplayName).
		"group name":           groupNameKey(store.Group{TenantID: guid, ID: guid, DisplayName: worstText(256)}),
		"command":              seqKey(maxID, 1<<63),
		"command index":        subKey(maxID, maxID),
		"open command":         seqKey(maxID, 1<<63),
		"session":              subKey(maxID, maxID),
		"setting state":        append(prefix(guid, len(settingRest)), settingRest...),
		"trouble count":        troubleKey(guid, guid, setting, maxID),
		"profile status all":   profEntry(guid, guid, "", settingRest),
		"profile status state": profEntry(guid, guid, setting, settingRest),
		"profile count":        profCountKey(guid, guid, setting, maxID),
		"member":               memberKey(guid, guid, store.Member{Kind: kind, ID: maxID}),
		"parent":               parentKey(guid, guid, store.Member{Kind: kind, ID: maxID}),
		"member count":         subKey(guid, guid),
		"idempotency":          idemKey(maxID, maxID),
		"idempotency expiry":   expiryKey(at, idemKey(maxID, maxID)),
		"sign-in expiry":       expiryKey(at, []byte(maxID)),
		"redeemed expiry":      expiryKey(at, []byte(maxID)),
	}
	for k := range sum.entries(guid, maxID) {
		keys[fmt.Sprintf("device index %c %d", k[2+len(guid)], len(keys))] = []byte(k)
	}
	if len(keys) < 20+8 { // n, s (name), s (UPN), c, e, o, t, w
		t.Fatalf("only %d keys: %q", len(keys), slices.Sorted(maps.Keys(keys)))
	}
	for name, k := range keys {
		if err := kv.CheckKey(k); err != nil {
			t.Errorf("%s key: %v", name, err)
		}
	}
	// Tenant IDs at store.MaxIDLen would not fit: the GUID premise above is needed.
	if kv.CheckKey(profEntry(maxID, guid, setting, settingRest)) == nil {
		t.Error("a profile status key fits with a tenant ID of store.MaxIDLen: the premise is stale, the doc needs updating")
	}
}

// TestDeviceTextLimits: store.CheckDeviceText takes each text and the scope tags at their
// limits and refuses one byte more, naming the field.
func TestDeviceTextLimits(t *testing.T) {
	text, over := worstText(store.MaxDeviceTextLen), worstText(store.MaxDeviceTextLen+1)
	for _, c := range []struct {
		name string
		dev  store.Device
		want string // "" accepted, else a word of the refusal
	}{
		{"all at the limit", store.Device{DeviceName: text, UPN: text, OSVersion: text, ScopeTags: tagsOf(store.MaxDeviceScopeTagsLen),
			Nodes: map[string]string{store.CanResetNode: text}}, ""},
		{"device name", store.Device{DeviceName: over}, "device name"},
		{"UPN", store.Device{UPN: over}, "UPN"},
		{"OS version", store.Device{OSVersion: over}, "OS version"},
		{"CanReset", store.Device{Nodes: map[string]string{store.CanResetNode: over}}, "CanReset"},
		{"CanReset unscoped", store.Device{Nodes: map[string]string{store.CanResetNodeUnscoped: over}}, "CanReset"},
		{"scope tags", store.Device{ScopeTags: tagsOf(store.MaxDeviceScopeTagsLen + 1)}, "scope tags"},
		{"one tag too long", store.Device{ScopeTags: []string{strings.Repeat("t", store.MaxDeviceScopeTagsLen+1)}}, "scope tags"},
		{"admin API's most tags", store.Device{ScopeTags: slices.Repeat([]string{strings.Repeat("t", 128)}, 50)}, "scope tags"},
	} {
		err := store.CheckDeviceText(c.dev)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want a refusal naming %s", c.name, err, c.want)
		}
	}
}

// TestDeviceTextKeptOverLimit: a device stored before store.MaxDeviceTextLen existed, with a
// longer name, keeps working (a check-in's write that leaves the name as it is succeeds and
// the index still finds it); a write that brings a new over-long text is refused and changes
// nothing; shortening it is accepted.
func TestDeviceTextKeptOverLimit(t *testing.T) {
	ctx := t.Context()
	s := openTestStore(t)
	if err := s.CreateTenant(ctx, store.Tenant{ID: "t1", AuthPolicy: store.AuthOnPremise}); err != nil {
		t.Fatal(err)
	}
	oldName := strings.Repeat("n", store.MaxDeviceTextLen+200)
	// The record as a store before the limit wrote it: the same writes as a first
	// registration, without the check that now refuses the name.
	err := s.Write(ctx, func(sw store.Writer) error {
		w := sw.(*wtx)
		dev := store.Device{ID: "d1", TenantID: "t1", State: store.DeviceEnrolled, DeviceName: oldName, EnrolledAt: w.now, UpdatedAt: w.now}
		if err := insertJSON(w, bDevices, []byte(dev.ID), &dev); err != nil {
			return err
		}
		if err := indexDevice(w, nil, dev); err != nil {
			return err
		}
		return w.Put(bDeviceTenant, subKey(dev.TenantID, dev.ID), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	seen := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	if err := s.UpdateDevice(ctx, "d1", func(d *store.Device) error { d.LastSeenAt = seen; d.OSVersion = "10.0.26100.1"; return nil }); err != nil {
		t.Fatalf("write keeping the stored long name: %v", err)
	}
	page, err := s.QueryDevices(ctx, store.DeviceQuery{TenantID: "t1", Search: "nnnn", Limit: 10})
	if err != nil || len(page.Devices) != 1 || page.Devices[0].OSVersion != "10.0.26100.1" {
		t.Fatalf("search after the write: %+v, %v", page, err)
	}
	other := strings.Repeat("m", store.MaxDeviceTextLen+1)
	if err := s.UpdateDevice(ctx, "d1", func(d *store.Device) error { d.DeviceName = other; return nil }); err == nil {
		t.Fatal("a new over-long name was accepted")
	}
	if d, err := s.Device(ctx, "d1"); err != nil || d.DeviceName != oldName {
		t.Fatalf("refused write changed the device: %q, %v", d.DeviceName, err)
	}
	if err := s.UpdateDevice(ctx, "d1", func(d *store.Device) error { d.DeviceName = "DESKTOP-1"; return nil }); err != nil {
		t.Fatalf("shortening the name: %v", err)
	}
}

// TestLongFormsRefused: a device write bringing scope tags over store.MaxDeviceScopeTagsLen,
// and a user whose UPN lower-cases to more than store.MaxIDLen bytes, are refused with an
// error naming them (not kv.CheckKey's) and change nothing; at the limits they are stored.
func TestLongFormsRefused(t *testing.T) {
	ctx := t.Context()
	s := openTestStore(t)
	if err := s.CreateTenant(ctx, store.Tenant{ID: "t1", AuthPolicy: store.AuthOnPremise}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.RegisterDevice(ctx, store.Device{ID: "d1", TenantID: "t1", State: store.DeviceEnrolled, DeviceName: "PC"}); err != nil {
		t.Fatal(err)
	}
	atLimit := tagsOf(store.MaxDeviceScopeTagsLen)
	for _, c := range []struct {
		name string
		tags []string
		ok   bool
	}{
		{"at the limit", atLimit, true},
		{"one byte over", tagsOf(store.MaxDeviceScopeTagsLen + 1), false},
		{"one tag more", append(slices.Clone(atLimit), "x"), false},
		{"the admin API's most", slices.Repeat([]string{strings.Repeat("t", 128)}, 50), false},
	} {
		err := s.UpdateDevice(ctx, "d1", func(d *store.Device) error { d.ScopeTags = c.tags; return nil })
		if c.ok != (err == nil) || err != nil && !strings.Contains(err.Error(), "scope tags of") {
			t.Errorf("scope tags %s: %v", c.name, err)
		}
		if d, err := s.Device(ctx, "d1"); err != nil || !slices.Equal(d.ScopeTags, atLimit) {
			t.Errorf("after scope tags %s: %d tags, %v", c.name, len(d.ScopeTags), err)
		}
	}

	grows := strings.Repeat("\u023a", store.MaxIDLen/3) // 682 bytes, 1023 lower-cased
	for i, c := range []struct {
		name, upn string
		ok        bool
	}{
		{"ASCII at MaxIDLen", strings.Repeat("a", store.MaxIDLen-12) + "@contoso.com", true},
		{"lower-cased to MaxIDLen", grows + "@", true},
		{"lower-cased one byte over", grows + "@x", false},
		{"invalid UTF-8 lower-cased to MaxIDLen", worstText(store.MaxIDLen/3) + "@", true},
		{"invalid UTF-8 lower-cased over", worstText(store.MaxIDLen/3 + 1), false},
	} {
		id := fmt.Sprint("u", i)
		err := s.CreateUser(ctx, store.User{TenantID: "t1", ID: id, UPN: c.upn})
		if c.ok != (err == nil) || err != nil && !strings.Contains(err.Error(), "once lower-cased") {
			t.Errorf("creating a user with UPN %s: %v", c.name, err)
		}
		if _, err := s.User(ctx, "t1", id); c.ok != (err == nil) {
			t.Errorf("user with UPN %s: %v", c.name, err)
		}
		if !c.ok {
			if err := s.CreateUser(ctx, store.User{TenantID: "t1", ID: id, UPN: id + "@contoso.com"}); err != nil {
				t.Fatal(err)
			}
			err := s.UpdateUser(ctx, "t1", id, func(u *store.User) error { u.UPN = c.upn; return nil })
			if u, _ := s.User(ctx, "t1", id); err == nil || u.UPN != id+"@contoso.com" {
				t.Errorf("renaming a user to UPN %s: %v, UPN now %q", c.name, err, u.UPN)
			}
		}
	}
}
