package bolt

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/hellomdm/hellomdm/store"
)

// Buckets of the policy engine, created on first write (db.go's list is left as it was).
const (
	bPolicyVersion = "policyVersion"     // tenant ID → uint64 version
	bGroups        = "policyGroups"      // prefix(tenant)+group ID → Group JSON
	bMembers       = "policyMembers"     // prefix(tenant)+prefix(group)+kind+0+member ID → nil
	bParents       = "policyParents"     // prefix(tenant)+prefix(kind+0+member ID)+group ID → nil
	bProfiles      = "policyProfiles"    // prefix(tenant)+profile ID → Profile JSON
	bAssignments   = "policyAssignments" // prefix(tenant)+profile ID → []Assignment JSON
	bSettings      = "policySettings"    // prefix(tenant)+prefix(device)+LocURI → SettingState JSON
	bDevicePolicy  = "policyDevices"     // device ID → DevicePolicy JSON
)

// wb returns a bucket for writing, creating it on first use.
func wb(tx *bbolt.Tx, name string) (*bbolt.Bucket, error) {
	b, err := tx.CreateBucketIfNotExists([]byte(name))
	if err != nil {
		return nil, fmt.Errorf("creating bucket %s: %w", name, err)
	}
	return b, nil
}

// rb returns a bucket for reading; nil (read as empty) until its first write.
func rb(tx *bbolt.Tx, name string) *bbolt.Bucket { return tx.Bucket([]byte(name)) }

// get reads a key of a possibly absent bucket.
func get(tx *bbolt.Tx, name string, key []byte) []byte {
	if b := rb(tx, name); b != nil {
		return b.Get(key)
	}
	return nil
}

// scan calls fn for each key with prefix p in a possibly absent bucket, until fn returns false.
func scan(tx *bbolt.Tx, name string, p []byte, fn func(k, v []byte) (bool, error)) error {
	b := rb(tx, name)
	if b == nil {
		return nil
	}
	c := b.Cursor()
	for k, v := c.Seek(p); k != nil && hasPrefix(k, p); k, v = c.Next() {
		more, err := fn(k, v)
		if err != nil || !more {
			return err
		}
	}
	return nil
}

// prefix2 is prefix(a) followed by prefix(b).
func prefix2(a, b string, extra int) []byte {
	k := prefix(a, 2+len(b)+extra)
	k = binary.BigEndian.AppendUint16(k, uint16(len(b)))
	return append(k, b...)
}

func memberRef(m store.Member) string { return m.Kind + "\x00" + m.ID }

func parseMemberRef(s string) store.Member {
	kind, id, _ := strings.Cut(s, "\x00")
	return store.Member{Kind: kind, ID: id}
}

// policyDone ends a policy write in tx: it bumps the tenant's policy version and appends the
// events of ctx's store.AuditFunc for stored, keeping them in *sealed to publish after the
// commit.
func policyDone(ctx context.Context, tx *bbolt.Tx, tenantID string, stored any, sealed *[]sealedEvent) error {
	if err := bumpVersion(tx, tenantID); err != nil {
		return err
	}
	var err error
	*sealed, err = writeAuditTx(ctx, tx, stored)
	return err
}

// bumpVersion increments the tenant's policy version in tx.
func bumpVersion(tx *bbolt.Tx, tenantID string) error {
	b, err := wb(tx, bPolicyVersion)
	if err != nil {
		return err
	}
	v := versionOf(tx, tenantID) + 1
	return b.Put([]byte(tenantID), binary.BigEndian.AppendUint64(nil, v))
}

func versionOf(tx *bbolt.Tx, tenantID string) uint64 {
	raw := get(tx, bPolicyVersion, []byte(tenantID))
	if len(raw) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(raw)
}

func tenantExists(tx *bbolt.Tx, tenantID string) error {
	if bucket(tx, bTenants).Get([]byte(tenantID)) == nil {
		return fmt.Errorf("tenant %s: %w", tenantID, store.ErrNotFound)
	}
	return nil
}

// CreateGroup stores a new group and bumps the tenant's policy version.
func (d *DB) CreateGroup(ctx context.Context, g store.Group) error {
	return createPolicyRecord(ctx, d, "group", bGroups, g.TenantID, g.ID, &g, func(now time.Time) {
		if g.CreatedAt.IsZero() {
			g.CreatedAt = now
		}
		g.UpdatedAt = now
	})
}

// Group returns one group of a tenant.
func (d *DB) Group(ctx context.Context, tenantID, id string) (store.Group, error) {
	return getPolicyRecord[store.Group](ctx, d, "group", bGroups, tenantID, id)
}

// ListGroups returns a tenant's groups by ID.
func (d *DB) ListGroups(ctx context.Context, tenantID string) ([]store.Group, error) {
	return listPolicyRecords[store.Group](ctx, d, "groups", bGroups, tenantID)
}

// createPolicyRecord stores rec as a new record of a tenant in bucket name: the tenant must
// exist and the ID be free (store.ErrExists otherwise). stamp sets the record's times inside
// the transaction; the tenant's policy version goes up and the events of ctx's
// store.AuditFunc are appended. kind names the record in errors.
func createPolicyRecord[T any](ctx context.Context, d *DB, kind, name, tenantID, id string, rec *T, stamp func(now time.Time)) error {
	if err := checkID("tenant id", tenantID); err != nil {
		return fmt.Errorf("creating %s: %w", kind, err)
	}
	if err := checkID(kind+" id", id); err != nil {
		return fmt.Errorf("creating %s: %w", kind, err)
	}
	var sealed []sealedEvent
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		if err := tenantExists(tx, tenantID); err != nil {
			return err
		}
		b, err := wb(tx, name)
		if err != nil {
			return err
		}
		k := subKey(tenantID, id)
		if b.Get(k) != nil {
			return store.ErrExists
		}
		stamp(d.now().UTC())
		if err := putJSON(b, k, rec); err != nil {
			return err
		}
		return policyDone(ctx, tx, tenantID, *rec, &sealed)
	})
	if err != nil {
		return fmt.Errorf("creating %s %s: %w", kind, id, err)
	}
	d.publish(sealed)
	return nil
}

// getPolicyRecord reads one record of a tenant from bucket name; store.ErrNotFound when
// absent. kind names the record in errors.
func getPolicyRecord[T any](ctx context.Context, d *DB, kind, name, tenantID, id string) (T, error) {
	var rec T
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		raw := get(tx, name, subKey(tenantID, id))
		if raw == nil {
			return store.ErrNotFound
		}
		return unmarshal(raw, &rec)
	})
	if err != nil {
		var zero T
		return zero, fmt.Errorf("getting %s %s: %w", kind, id, err)
	}
	return rec, nil
}

// listPolicyRecords reads a tenant's records of bucket name by ID; kinds names them in errors.
func listPolicyRecords[T any](ctx context.Context, d *DB, kinds, name, tenantID string) ([]T, error) {
	var out []T
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		var err error
		out, err = scanRecords[T](tx, name, prefix(tenantID, 0))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", kinds, err)
	}
	return out, nil
}

// scanRecords decodes the records under key prefix p of a possibly absent bucket, in key order.
func scanRecords[T any](tx *bbolt.Tx, name string, p []byte) ([]T, error) {
	var out []T
	err := scan(tx, name, p, func(_, v []byte) (bool, error) {
		var rec T
		if err := unmarshal(v, &rec); err != nil {
			return false, err
		}
		out = append(out, rec)
		return true, nil
	})
	return out, err
}

// DeleteGroup removes a group with its members and memberships; ErrConflict while assigned.
func (d *DB) DeleteGroup(ctx context.Context, tenantID, id string) error {
	var sealed []sealedEvent
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		gb, err := wb(tx, bGroups)
		if err != nil {
			return err
		}
		k := subKey(tenantID, id)
		if gb.Get(k) == nil {
			return store.ErrNotFound
		}
		var assigned string
		err = scan(tx, bAssignments, prefix(tenantID, 0), func(k, v []byte) (bool, error) {
			var as []store.Assignment
			if err := unmarshal(v, &as); err != nil {
				return false, err
			}
			for _, a := range as {
				if a.GroupID == id {
					assigned = string(k[len(prefix(tenantID, 0)):])
					return false, nil
				}
			}
			return true, nil
		})
		if err != nil {
			return err
		}
		if assigned != "" {
			return fmt.Errorf("group is assigned to profile %s: %w", assigned, store.ErrConflict)
		}
		members, err := membersTx(tx, tenantID, id)
		if err != nil {
			return err
		}
		for _, m := range members {
			if err := unlink(tx, tenantID, id, m); err != nil {
				return err
			}
		}
		self := store.Member{Kind: store.MemberGroup, ID: id}
		for _, parent := range parentsTx(tx, tenantID, self) {
			if err := unlink(tx, tenantID, parent, self); err != nil {
				return err
			}
		}
		if err := gb.Delete(k); err != nil {
			return err
		}
		return policyDone(ctx, tx, tenantID, nil, &sealed)
	})
	if err != nil {
		return fmt.Errorf("deleting group %s: %w", id, err)
	}
	d.publish(sealed)
	return nil
}

func memberKey(tenantID, groupID string, m store.Member) []byte {
	ref := memberRef(m)
	return append(prefix2(tenantID, groupID, len(ref)), ref...)
}

func parentKey(tenantID, groupID string, m store.Member) []byte {
	return append(prefix2(tenantID, memberRef(m), len(groupID)), groupID...)
}

func unlink(tx *bbolt.Tx, tenantID, groupID string, m store.Member) error {
	mb, err := wb(tx, bMembers)
	if err != nil {
		return err
	}
	pb, err := wb(tx, bParents)
	if err != nil {
		return err
	}
	if err := mb.Delete(memberKey(tenantID, groupID, m)); err != nil {
		return err
	}
	return pb.Delete(parentKey(tenantID, groupID, m))
}

func membersTx(tx *bbolt.Tx, tenantID, groupID string) ([]store.Member, error) {
	p := prefix2(tenantID, groupID, 0)
	var out []store.Member
	err := scan(tx, bMembers, p, func(k, _ []byte) (bool, error) {
		out = append(out, parseMemberRef(string(k[len(p):])))
		return true, nil
	})
	return out, err
}

func parentsTx(tx *bbolt.Tx, tenantID string, m store.Member) []string {
	p := prefix2(tenantID, memberRef(m), 0)
	var out []string
	_ = scan(tx, bParents, p, func(k, _ []byte) (bool, error) {
		out = append(out, string(k[len(p):]))
		return true, nil
	})
	return out
}

// memberExists checks that a member lives in the tenant.
func memberExists(tx *bbolt.Tx, tenantID string, m store.Member) error {
	var found bool
	switch m.Kind {
	case store.MemberUser:
		found = bucket(tx, bUsers).Get(subKey(tenantID, m.ID)) != nil
	case store.MemberDevice:
		found = bucket(tx, bDeviceTenant).Get(subKey(tenantID, m.ID)) != nil
	case store.MemberGroup:
		found = get(tx, bGroups, subKey(tenantID, m.ID)) != nil
	default:
		return fmt.Errorf("member kind %q is not user, device or group: %w", m.Kind, store.ErrConflict)
	}
	if !found {
		return fmt.Errorf("%s %s: %w", m.Kind, m.ID, store.ErrNotFound)
	}
	return nil
}

// contains reports whether group from contains group target, itself or transitively.
func contains(tx *bbolt.Tx, tenantID, from, target string) bool {
	seen := map[string]bool{}
	stack := []string{from}
	for len(stack) > 0 {
		g := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if g == target {
			return true
		}
		if seen[g] {
			continue
		}
		seen[g] = true
		p := append(prefix2(tenantID, g, 0), store.MemberGroup+"\x00"...)
		_ = scan(tx, bMembers, p, func(k, _ []byte) (bool, error) {
			stack = append(stack, string(k[len(p):]))
			return true, nil
		})
	}
	return false
}

// AddMembers adds members to a group in one transaction and bumps the policy version.
func (d *DB) AddMembers(ctx context.Context, tenantID, groupID string, members ...store.Member) error {
	for _, m := range members {
		if err := checkID("member id", m.ID); err != nil {
			return fmt.Errorf("adding members to group %s: %w", groupID, err)
		}
	}
	var sealed []sealedEvent
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		if get(tx, bGroups, subKey(tenantID, groupID)) == nil {
			return fmt.Errorf("group %s: %w", groupID, store.ErrNotFound)
		}
		mb, err := wb(tx, bMembers)
		if err != nil {
			return err
		}
		pb, err := wb(tx, bParents)
		if err != nil {
			return err
		}
		for _, m := range members {
			if err := memberExists(tx, tenantID, m); err != nil {
				return err
			}
			if m.Kind == store.MemberGroup && contains(tx, tenantID, m.ID, groupID) {
				return fmt.Errorf("group %s already contains group %s, adding it would make a cycle: %w", m.ID, groupID, store.ErrConflict)
			}
			if err := mb.Put(memberKey(tenantID, groupID, m), nil); err != nil {
				return err
			}
			if err := pb.Put(parentKey(tenantID, groupID, m), nil); err != nil {
				return err
			}
		}
		return policyDone(ctx, tx, tenantID, nil, &sealed)
	})
	if err != nil {
		return fmt.Errorf("adding members to group %s: %w", groupID, err)
	}
	d.publish(sealed)
	return nil
}

// RemoveMember removes a direct member and bumps the policy version.
func (d *DB) RemoveMember(ctx context.Context, tenantID, groupID string, m store.Member) error {
	var sealed []sealedEvent
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		if get(tx, bMembers, memberKey(tenantID, groupID, m)) == nil {
			// A present key holds nil, so tell "absent" from "empty value" with a cursor.
			found := false
			_ = scan(tx, bMembers, memberKey(tenantID, groupID, m), func(k, _ []byte) (bool, error) {
				found = bytes.Equal(k, memberKey(tenantID, groupID, m))
				return false, nil
			})
			if !found {
				return store.ErrNotFound
			}
		}
		if err := unlink(tx, tenantID, groupID, m); err != nil {
			return err
		}
		return policyDone(ctx, tx, tenantID, nil, &sealed)
	})
	if err != nil {
		return fmt.Errorf("removing %s %s from group %s: %w", m.Kind, m.ID, groupID, err)
	}
	d.publish(sealed)
	return nil
}

// Members lists a group's direct members by kind then ID.
func (d *DB) Members(ctx context.Context, tenantID, groupID string) ([]store.Member, error) {
	var out []store.Member
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		if get(tx, bGroups, subKey(tenantID, groupID)) == nil {
			return store.ErrNotFound
		}
		var err error
		out, err = membersTx(tx, tenantID, groupID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing members of group %s: %w", groupID, err)
	}
	return out, nil
}

// CreateProfile stores a new profile at Version 1 and bumps the policy version.
func (d *DB) CreateProfile(ctx context.Context, p store.Profile) error {
	return createPolicyRecord(ctx, d, "profile", bProfiles, p.TenantID, p.ID, &p, func(now time.Time) {
		p.Version = 1
		if p.CreatedAt.IsZero() {
			p.CreatedAt = now
		}
		p.UpdatedAt = now
	})
}

// Profile returns one profile of a tenant.
func (d *DB) Profile(ctx context.Context, tenantID, id string) (store.Profile, error) {
	return getPolicyRecord[store.Profile](ctx, d, "profile", bProfiles, tenantID, id)
}

// ListProfiles returns a tenant's profiles by ID.
func (d *DB) ListProfiles(ctx context.Context, tenantID string) ([]store.Profile, error) {
	return listPolicyRecords[store.Profile](ctx, d, "profiles", bProfiles, tenantID)
}

// UpdateProfile applies fn, increments Version and bumps the policy version.
func (d *DB) UpdateProfile(ctx context.Context, tenantID, id string, fn func(*store.Profile) error) error {
	var sealed []sealedEvent
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		b, err := wb(tx, bProfiles)
		if err != nil {
			return err
		}
		k := subKey(tenantID, id)
		var old store.Profile
		if err := getJSON(b, k, &old); err != nil {
			return err
		}
		p := old
		p.ScopeTags = slices.Clone(old.ScopeTags)
		p.Settings = slices.Clone(old.Settings)
		p.Raw = cloneBytes(old.Raw)
		if err := fn(&p); err != nil {
			return err
		}
		if p.ID != old.ID || p.TenantID != old.TenantID {
			return fmt.Errorf("changing profile id or tenant: %w", store.ErrConflict)
		}
		p.Version = old.Version + 1
		p.CreatedAt = old.CreatedAt
		p.UpdatedAt = d.now().UTC()
		if err := putJSON(b, k, &p); err != nil {
			return err
		}
		return policyDone(ctx, tx, tenantID, p, &sealed)
	})
	if err != nil {
		return fmt.Errorf("updating profile %s: %w", id, err)
	}
	d.publish(sealed)
	return nil
}

// DeleteProfile removes a profile and its assignments and bumps the policy version.
func (d *DB) DeleteProfile(ctx context.Context, tenantID, id string) error {
	var sealed []sealedEvent
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		b, err := wb(tx, bProfiles)
		if err != nil {
			return err
		}
		k := subKey(tenantID, id)
		if b.Get(k) == nil {
			return store.ErrNotFound
		}
		if err := b.Delete(k); err != nil {
			return err
		}
		ab, err := wb(tx, bAssignments)
		if err != nil {
			return err
		}
		if err := ab.Delete(k); err != nil {
			return err
		}
		return policyDone(ctx, tx, tenantID, nil, &sealed)
	})
	if err != nil {
		return fmt.Errorf("deleting profile %s: %w", id, err)
	}
	d.publish(sealed)
	return nil
}

// SetAssignments replaces a profile's assignments: one record written and the policy version
// bumped, whatever the size of the groups.
func (d *DB) SetAssignments(ctx context.Context, tenantID, profileID string, as []store.Assignment) error {
	var sealed []sealedEvent
	err := d.update(ctx, func(tx *bbolt.Tx) error {
		k := subKey(tenantID, profileID)
		if get(tx, bProfiles, k) == nil {
			return fmt.Errorf("profile %s: %w", profileID, store.ErrNotFound)
		}
		for _, a := range as {
			switch a.Target {
			case store.TargetGroup, store.TargetExclusionGroup:
				if get(tx, bGroups, subKey(tenantID, a.GroupID)) == nil {
					return fmt.Errorf("group %s: %w", a.GroupID, store.ErrNotFound)
				}
			case store.TargetAllDevices, store.TargetAllLicensedUsers:
			default:
				return fmt.Errorf("assignment target %q: %w", a.Target, store.ErrConflict)
			}
		}
		b, err := wb(tx, bAssignments)
		if err != nil {
			return err
		}
		if as == nil {
			as = []store.Assignment{}
		}
		if err := putJSON(b, k, as); err != nil {
			return err
		}
		return policyDone(ctx, tx, tenantID, as, &sealed)
	})
	if err != nil {
		return fmt.Errorf("assigning profile %s: %w", profileID, err)
	}
	d.publish(sealed)
	return nil
}

// Assignments returns a profile's assignments (empty when never assigned).
func (d *DB) Assignments(ctx context.Context, tenantID, profileID string) ([]store.Assignment, error) {
	var out []store.Assignment
	err := d.view(ctx, func(tx *bbolt.Tx) error {
		k := subKey(tenantID, profileID)
		if get(tx, bProfiles, k) == nil {
			return store.ErrNotFound
		}
		if raw := get(tx, bAssignments, k); raw != nil {
			return unmarshal(raw, &out)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("getting assignments of profile %s: %w", profileID, err)
	}
	return out, nil
}
