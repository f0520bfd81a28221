package store

import "fmt"

// Limits every backend applies the same way (the conformance suite checks them).
const (
	// MaxSessions is how many OMA-DM sessions are kept per device; writing a new one
	// deletes the least recently updated beyond this many.
	MaxSessions = 8
	// AuditSegmentSize is the retention unit of an audit chain, in sequence numbers: a
	// segment is dropped only when it is complete and every event in it is old enough.
	AuditSegmentSize = 1000
	// MaxIDLen bounds identifiers (tenant, device, user, command IDs) in bytes.
	MaxIDLen = 1024
	// MaxDeviceTextLen bounds, in bytes, what a device reports that the device index keys
	// (store/core deviceindex.go): its name, UPN, OS version and reported CanReset. An index
	// key holds two of them (lower-cased, up to three times as long) besides the tenant ID (a
	// GUID) and the device ID, so with these limits every key fits kv.MaxKeyLen (store/core
	// TestKeyBudget); a device write with a longer one is refused (CheckDeviceText).
	// Windows' own are far shorter: a computer name is at most 63 characters, a UPN 113 in
	// Entra ID, an OS version like 10.0.26100.2605.
	MaxDeviceTextLen = 256
	// MaxDeviceScopeTagsLen bounds a device's scope tags, in bytes all together with one
	// byte between two tags: the device count key holds them (store/core deviceCounts), so
	// with this limit it fits kv.MaxKeyLen (TestKeyBudget); a device write bringing longer
	// ones is refused (CheckDeviceText). It is less than the admin API lets a token or user
	// hold (50 tags of 128 characters): an edge that gives devices scope tags must refuse
	// more than this with its own error.
	MaxDeviceScopeTagsLen = 2048
)

// CheckDeviceText refuses a device whose name, UPN, OS version or reported CanReset is
// longer than MaxDeviceTextLen, or whose scope tags are longer than MaxDeviceScopeTagsLen,
// naming the field.
func CheckDeviceText(d Device) error {
	for _, f := range []struct{ name, v string }{{"device name", d.DeviceName}, {"UPN", d.UPN}, {"OS version", d.OSVersion},
		{"reported CanReset", d.ReportedCanReset()}} {
		if len(f.v) > MaxDeviceTextLen {
			return fmt.Errorf("%s of %d bytes, longer than %d", f.name, len(f.v), MaxDeviceTextLen)
		}
	}
	if n := ScopeTagsLen(d.ScopeTags); n > MaxDeviceScopeTagsLen {
		return fmt.Errorf("scope tags of %d bytes, longer than %d", n, MaxDeviceScopeTagsLen)
	}
	return nil
}

// ScopeTagsLen is the length MaxDeviceScopeTagsLen bounds: the tags' bytes and one byte
// between two tags.
func ScopeTagsLen(tags []string) int {
	n := max(len(tags)-1, 0)
	for _, t := range tags {
		n += len(t)
	}
	return n
}

// CheckID refuses an empty identifier or one longer than MaxIDLen; what names it in the
// error ("device id").
func CheckID(what, id string) error {
	switch {
	case id == "":
		return fmt.Errorf("empty %s", what)
	case len(id) > MaxIDLen:
		return fmt.Errorf("%s longer than %d bytes", what, MaxIDLen)
	}
	return nil
}
