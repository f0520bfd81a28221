package core

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// Policy writes and the tenant's policy version.
//
// Every policy write of a tenant (groups, members, profiles, assignments, and a user's
// removal from its groups) starts by locking the tenant's policy-version record
// (lockPolicyVersion, GetForUpdate), which it bumps anyway. On a backend with concurrent
// writers (PostgreSQL, several servers) a tenant's policy writes therefore run one at a
// time, and what each checks stays true until it commits: the group-cycle check of
// AddMembers, "group in use by an assignment" of DeleteGroup against SetAssignments, the
// existence of the groups an assignment names, and a version bumped exactly once per
// write. Check-ins only read the version (PolicyCheck, a plain Get): one tenant's check-ins
// never wait on it.

// policyVersionKey is the key of a tenant's policy version in bPolicyVersion.
func policyVersionKey(tenantID string) []byte { return []byte(tenantID) }

// decodeVersion reads a policy-version record (8 bytes, big-endian); 0 when absent or
// malformed, as earlier releases read it.
func decodeVersion(raw []byte) uint64 {
	if len(raw) != 8 {
		return 0
	}
	return binary.BigEndian.Uint64(raw)
}

// versionOf reads the tenant's policy version without locking it.
func versionOf(tx kv.Tx, tenantID string) (uint64, error) {
	raw, err := tx.Get(bPolicyVersion, policyVersionKey(tenantID))
	if err != nil {
		return 0, fmt.Errorf("reading policy version: %w", err)
	}
	return decodeVersion(raw), nil
}

// lockPolicyVersion locks the tenant's policy-version record until w ends and returns the
// version. A record that does not exist yet (the tenant's first policy write) is created at
// 0 (lockOrCreate), so concurrent first writes serialise too.
func lockPolicyVersion(w *wtx, tenantID string) (uint64, error) {
	raw, err := lockOrCreate(w, bPolicyVersion, policyVersionKey(tenantID), binary.BigEndian.AppendUint64(nil, 0))
	if err != nil {
		return 0, fmt.Errorf("locking policy version of tenant %s: %w", tenantID, err)
	}
	return decodeVersion(raw), nil
}

// bumpPolicyVersion locks (lockPolicyVersion) and increments the tenant's policy version in
// w. Policy writes call it first, before reading what they check.
func bumpPolicyVersion(w *wtx, tenantID string) error {
	if err := checkID("tenant id", tenantID); err != nil {
		return err
	}
	v, err := lockPolicyVersion(w, tenantID)
	if err != nil {
		return err
	}
	if err := w.Put(bPolicyVersion, policyVersionKey(tenantID), binary.BigEndian.AppendUint64(nil, v+1)); err != nil {
		return fmt.Errorf("bumping policy version: %w", err)
	}
	if !slices.Contains(w.bumped, tenantID) {
		w.bumped = append(w.bumped, tenantID)
	}
	return nil
}

// policyChange makes one policy change of a tenant in w: it bumps the tenant's policy
// version first (serialising the tenant's policy writes, see above), then runs change.
func (w *wtx) policyChange(tenantID string, change func() error) error {
	if err := bumpPolicyVersion(w, tenantID); err != nil {
		return err
	}
	return change()
}

// tenantExists checks that the tenant exists (an ID that cannot be a key does not).
func tenantExists(tx kv.Tx, tenantID string) error {
	if checkID("tenant id", tenantID) != nil {
		return fmt.Errorf("tenant %q: %w", tenantID, store.ErrNotFound)
	}
	return recordExists(tx, bTenants, []byte(tenantID), "tenant "+tenantID)
}

// recordExists checks that key is present in b; ErrNotFound naming what otherwise.
func recordExists(tx kv.Tx, b kv.Bucket, key []byte, what string) error {
	raw, err := tx.Get(b, key)
	if err != nil {
		return err
	}
	if raw == nil {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}

// deletePrefix deletes every key of b that starts with p (collected first: a scan does not
// write to the bucket it walks).
func deletePrefix(w *wtx, b kv.Bucket, p []byte) error {
	var keys [][]byte
	err := w.Scan(b, kv.Span{Prefix: p, KeysOnly: true}, func(k, _ []byte) (bool, error) {
		keys = append(keys, cloneBytes(k))
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("listing %s: %w", b, err)
	}
	for _, k := range keys {
		if err := w.Delete(b, k); err != nil {
			return fmt.Errorf("deleting from %s: %w", b, err)
		}
	}
	return nil
}

// deleteTenantPolicy removes the tenant's groups, members, profiles, assignments, setting
// states and policy version in w (DeleteTenant). It locks the version record first, so a
// policy write of the tenant racing the deletion either commits before it (and its records
// are removed here) or runs after it and finds the tenant gone.
func deleteTenantPolicy(w *wtx, tenantID string) error {
	if err := checkID("tenant id", tenantID); err != nil {
		return err
	}
	if _, err := lockPolicyVersion(w, tenantID); err != nil {
		return err
	}
	tp := prefix(tenantID, 0)
	for _, b := range []kv.Bucket{bGroups, bGroupNames, bMembers, bMemberCounts, bParents, bProfiles, bAssignments, bSettings, bTroubles, bProfStatus, bProfCounts} {
		if err := deletePrefix(w, b, tp); err != nil {
			return err
		}
	}
	if err := w.Delete(bPolicyVersion, policyVersionKey(tenantID)); err != nil {
		return fmt.Errorf("deleting policy version: %w", err)
	}
	return nil
}

// createPolicyRecord stores rec in w as a new record of a tenant in bucket b and returns it
// as stored: the tenant must exist and the ID be free (store.ErrExists otherwise). stamp
// sets the record's times; the tenant's policy version goes up. kind names the record in
// errors.
func createPolicyRecord[T any](w *wtx, kind string, b kv.Bucket, tenantID, id string, rec *T, stamp func(now time.Time)) (stored T, err error) {
	if err := checkID("tenant id", tenantID); err != nil {
		return stored, fmt.Errorf("creating %s: %w", kind, err)
	}
	if err := checkID(kind+" id", id); err != nil {
		return stored, fmt.Errorf("creating %s: %w", kind, err)
	}
	defer failed(&stored, &err, "creating "+kind+" "+id)
	err = w.policyChange(tenantID, func() error {
		if err := tenantExists(w, tenantID); err != nil {
			return err
		}
		stamp(w.now.UTC())
		err := insertJSON(w, b, subKey(tenantID, id), rec)
		if errors.Is(err, store.ErrExists) {
			return store.ErrExists
		}
		return err
	})
	return *rec, err
}

// getPolicyRecord reads one record of a tenant from bucket b; store.ErrNotFound when
// absent. kind names the record in errors.
func getPolicyRecord[T any](ctx context.Context, s *Store, kind string, b kv.Bucket, tenantID, id string) (T, error) {
	var rec T
	err := s.view(ctx, func(tx kv.Tx) error {
		return getJSON(tx, b, subKey(tenantID, id), &rec)
	})
	if err != nil {
		var zero T
		return zero, fmt.Errorf("getting %s %s: %w", kind, id, err)
	}
	return rec, nil
}

// listPolicyRecords reads a tenant's records of bucket b by ID; kinds names them in errors.
func listPolicyRecords[T any](ctx context.Context, s *Store, kinds string, b kv.Bucket, tenantID string) ([]T, error) {
	var out []T
	err := s.view(ctx, func(tx kv.Tx) error {
		var err error
		out, err = scanRecords[T](tx, b, prefix(tenantID, 0))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listing %s: %w", kinds, err)
	}
	return out, nil
}

// scanRecords decodes the records under key prefix p of bucket b, in key order.
func scanRecords[T any](tx kv.Tx, b kv.Bucket, p []byte) ([]T, error) {
	var out []T
	err := tx.Scan(b, kv.Span{Prefix: p}, func(_, v []byte) (bool, error) {
		var rec T
		if err := unmarshal(v, &rec); err != nil {
			return false, err
		}
		out = append(out, rec)
		return true, nil
	})
	return out, err
}

// CreateGroup stores a new group: a Write of that one change (store.Writes).
func (s *Store) CreateGroup(ctx context.Context, g store.Group) error {
	return s.adminWrite(ctx, false, func(w *wtx) error {
		_, err := w.CreateGroup(g)
		return err
	})
}

// CreateGroup stores a new group in w, bumps the tenant's policy version and returns the
// group as stored.
func (w *wtx) CreateGroup(g store.Group) (store.Group, error) {
	stored, err := createPolicyRecord(w, "group", bGroups, g.TenantID, g.ID, &g, func(now time.Time) {
		if g.CreatedAt.IsZero() {
			g.CreatedAt = now
		}
		g.UpdatedAt = now
	})
	if err != nil {
		return stored, err
	}
	if err := w.Put(bGroupNames, groupNameKey(stored), []byte(stored.ID)); err != nil {
		return store.Group{}, fmt.Errorf("creating group %s: indexing its name: %w", stored.ID, err)
	}
	return stored, nil
}

// Group returns one group of a tenant.
func (s *Store) Group(ctx context.Context, tenantID, id string) (store.Group, error) {
	return getPolicyRecord[store.Group](ctx, s, "group", bGroups, tenantID, id)
}

// ListGroups returns a tenant's groups by ID.
func (s *Store) ListGroups(ctx context.Context, tenantID string) ([]store.Group, error) {
	return listPolicyRecords[store.Group](ctx, s, "groups", bGroups, tenantID)
}

// DeleteGroup removes a group: a Write of that one change (store.Writes).
func (s *Store) DeleteGroup(ctx context.Context, tenantID, id string) error {
	return s.adminWrite(ctx, false, func(w *wtx) error { return w.DeleteGroup(tenantID, id) })
}

// DeleteGroup removes a group with its members and memberships in w and bumps the tenant's
// policy version; ErrConflict while assigned.
func (w *wtx) DeleteGroup(tenantID, id string) error {
	err := w.policyChange(tenantID, func() error {
		k := subKey(tenantID, id)
		var g store.Group
		if err := getJSON(w, bGroups, k, &g); err != nil {
			return fmt.Errorf("group %s: %w", id, err)
		}
		if profile, err := assignedTo(w, tenantID, id); err != nil {
			return err
		} else if profile != "" {
			return fmt.Errorf("group is assigned to profile %s: %w", profile, store.ErrConflict)
		}
		members, err := membersTx(w, tenantID, id)
		if err != nil {
			return err
		}
		for _, m := range members {
			if err := unlinkEntries(w, tenantID, id, m); err != nil {
				return err
			}
		}
		if err := w.Delete(bMemberCounts, subKey(tenantID, id)); err != nil {
			return err
		}
		if err := forgetMemberships(w, tenantID, store.Member{Kind: store.MemberGroup, ID: id}); err != nil {
			return err
		}
		g.TenantID, g.ID = tenantID, id // the key's, as the index has them
		if err := w.Delete(bGroupNames, groupNameKey(g)); err != nil {
			return err
		}
		return w.Delete(bGroups, k)
	})
	if err != nil {
		return fmt.Errorf("deleting group %s: %w", id, err)
	}
	return nil
}

// assignedTo returns the first profile (by ID) with an assignment naming the group; "" when
// none does.
func assignedTo(tx kv.Tx, tenantID, groupID string) (string, error) {
	tp := prefix(tenantID, 0)
	var assigned string
	err := tx.Scan(bAssignments, kv.Span{Prefix: tp}, func(k, v []byte) (bool, error) {
		var as []store.Assignment
		if err := unmarshal(v, &as); err != nil {
			return false, err
		}
		for _, a := range as {
			if a.GroupID == groupID {
				assigned = string(k[len(tp):])
				return false, nil
			}
		}
		return true, nil
	})
	return assigned, err
}

func memberRef(m store.Member) string { return m.Kind + "\x00" + m.ID }

func parseMemberRef(s string) store.Member {
	kind, id, _ := strings.Cut(s, "\x00")
	return store.Member{Kind: kind, ID: id}
}

func memberKey(tenantID, groupID string, m store.Member) []byte {
	ref := memberRef(m)
	return append(prefix2(tenantID, groupID, len(ref)), ref...)
}

func parentKey(tenantID, groupID string, m store.Member) []byte {
	return append(prefix2(tenantID, memberRef(m), len(groupID)), groupID...)
}

// unlink removes m from the direct members of the group, both index entries, and counts
// it out of the group's member count; store.ErrNotFound when m is not a direct member.
func unlink(w *wtx, tenantID, groupID string, m store.Member) error {
	v, err := w.Get(bMembers, memberKey(tenantID, groupID, m))
	if err != nil {
		return err
	}
	if v == nil {
		return store.ErrNotFound
	}
	if err := unlinkEntries(w, tenantID, groupID, m); err != nil {
		return err
	}
	return addMemberCount(w, tenantID, groupID, -1)
}

// unlinkEntries deletes both index entries of m's membership, leaving the count (the
// group's deletion drops the count itself).
func unlinkEntries(w *wtx, tenantID, groupID string, m store.Member) error {
	if err := w.Delete(bMembers, memberKey(tenantID, groupID, m)); err != nil {
		return err
	}
	return w.Delete(bParents, parentKey(tenantID, groupID, m))
}

// link makes m a direct member of the group, both index entries, and counts it in the
// group's member count unless it already was one.
func link(w *wtx, tenantID, groupID string, m store.Member) error {
	k := memberKey(tenantID, groupID, m)
	v, err := w.Get(bMembers, k)
	if err != nil || v != nil {
		return err
	}
	if err := w.Put(bMembers, k, memberMark); err != nil {
		return err
	}
	if err := w.Put(bParents, parentKey(tenantID, groupID, m), nil); err != nil {
		return err
	}
	return addMemberCount(w, tenantID, groupID, 1)
}

func membersTx(tx kv.Tx, tenantID, groupID string) ([]store.Member, error) {
	p := prefix2(tenantID, groupID, 0)
	var out []store.Member
	err := tx.Scan(bMembers, kv.Span{Prefix: p, KeysOnly: true}, func(k, _ []byte) (bool, error) {
		out = append(out, parseMemberRef(string(k[len(p):])))
		return true, nil
	})
	return out, err
}

// parentsTx lists the groups m is a direct member of.
func parentsTx(tx kv.Tx, tenantID string, m store.Member) ([]string, error) {
	p := prefix2(tenantID, memberRef(m), 0)
	var out []string
	err := tx.Scan(bParents, kv.Span{Prefix: p, KeysOnly: true}, func(k, _ []byte) (bool, error) {
		out = append(out, string(k[len(p):]))
		return true, nil
	})
	return out, err
}

// forgetMemberships removes m from every group it is a direct member of.
func forgetMemberships(w *wtx, tenantID string, m store.Member) error {
	parents, err := parentsTx(w, tenantID, m)
	if err != nil {
		return err
	}
	for _, g := range parents {
		if err := unlink(w, tenantID, g, m); err != nil {
			return err
		}
	}
	return nil
}

// forgetMember removes m from every group of the tenant, bumping the tenant's policy
// version (DeleteUser). The bump comes first, so it is serialised with the tenant's other
// policy writes (an AddMembers of m racing it commits before, and its membership is
// removed here).
func forgetMember(w *wtx, tenantID string, m store.Member) error {
	if err := bumpPolicyVersion(w, tenantID); err != nil {
		return err
	}
	if err := forgetMemberships(w, tenantID, m); err != nil {
		return fmt.Errorf("removing %s %s from its groups: %w", m.Kind, m.ID, err)
	}
	return nil
}
