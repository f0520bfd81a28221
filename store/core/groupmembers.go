package core

import (
	"context"
	"encoding/binary"
	"fmt"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// A group's direct members are read a page at a time, counted and checked by ID, so the
// console's group page costs the same for a group of ten members as for one of every user
// of the tenant (store.Memberships):
//
//   - bMembers: prefix(tenant)+prefix(group)+kind+0+member ID → memberMark. The keys sort
//     by kind then ID, the order of a page; MembersPage scans from the key after its after,
//     no further than the page. The value is not empty, so GetMany tells a member from an
//     absent key (MembersAmong).
//   - bMemberCounts: prefix(tenant)+group ID → the group's direct member count (8 bytes,
//     big-endian). link and unlink keep it with the entries they write (AddMembers,
//     RemoveMember, a user's, device's or group's deletion removing it from its groups);
//     DeleteGroup and the tenant's deletion drop it with the members.
//
// Every membership write holds the tenant's policy-version lock (policyChange,
// forgetMember), so two writes never lose each other's count change. Format version 10
// marks the member entries of a database of an earlier version and counts them
// (buildMemberCounts).

// memberMark is the value of a member entry.
var memberMark = []byte{1}

// addMemberCount adds delta to the group's member count, deleting the record at zero.
func addMemberCount(w *wtx, tenantID, groupID string, delta int64) error {
	k := subKey(tenantID, groupID)
	v, err := w.Get(bMemberCounts, k)
	if err != nil {
		return err
	}
	n := int64(0)
	if len(v) == 8 {
		n = int64(binary.BigEndian.Uint64(v))
	}
	n += delta
	if n < 0 {
		return fmt.Errorf("member count of group %s below zero", groupID)
	}
	if n == 0 {
		return w.Delete(bMemberCounts, k)
	}
	return w.Put(bMemberCounts, k, binary.BigEndian.AppendUint64(nil, uint64(n)))
}

// memberCountTx reads the group's member count.
func memberCountTx(tx kv.Tx, tenantID, groupID string) (int, error) {
	v, err := tx.Get(bMemberCounts, subKey(tenantID, groupID))
	switch {
	case err != nil:
		return 0, err
	case v == nil:
		return 0, nil
	case len(v) != 8:
		return 0, fmt.Errorf("member count of group %s: %d-byte record", groupID, len(v))
	}
	return int(binary.BigEndian.Uint64(v)), nil
}

// MembersPage returns up to limit direct members of the group after after (the memberRef
// of the last member of the previous page, "" for the first), by kind then ID, with the
// group's member count; next is "" on the last page. It reads limit+1 member keys.
func (s *Store) MembersPage(ctx context.Context, tenantID, groupID, after string, limit int) (page store.MemberPage, err error) {
	if limit < 1 {
		return page, fmt.Errorf("listing members of group %s: a page of %d", groupID, limit)
	}
	err = s.view(ctx, func(tx kv.Tx) error {
		page = store.MemberPage{}
		if err := recordExists(tx, bGroups, subKey(tenantID, groupID), "group "+groupID); err != nil {
			return err
		}
		var err error
		if page.Count, err = memberCountTx(tx, tenantID, groupID); err != nil {
			return err
		}
		p := prefix2(tenantID, groupID, 0)
		span := kv.Span{Prefix: p, KeysOnly: true}
		if after != "" {
			span.Start = append(append(prefix2(tenantID, groupID, len(after)+1), after...), 0)
		}
		return tx.Scan(bMembers, span, func(k, _ []byte) (bool, error) {
			if len(page.Members) == limit {
				page.Next = memberRef(page.Members[limit-1])
				return false, nil
			}
			page.Members = append(page.Members, parseMemberRef(string(k[len(p):])))
			return true, nil
		})
	})
	if err != nil {
		return store.MemberPage{}, fmt.Errorf("listing members of group %s: %w", groupID, err)
	}
	return page, nil
}

// MembersAmong reports which of candidates are direct members of the group, in their order:
// one GetMany of their member keys, however large the group.
func (s *Store) MembersAmong(ctx context.Context, tenantID, groupID string, candidates []store.Member) ([]bool, error) {
	out := make([]bool, len(candidates))
	err := s.view(ctx, func(tx kv.Tx) error {
		if err := recordExists(tx, bGroups, subKey(tenantID, groupID), "group "+groupID); err != nil {
			return err
		}
		if len(candidates) == 0 {
			return nil
		}
		keys := make([][]byte, len(candidates))
		for i, m := range candidates {
			if err := checkID("member id", m.ID); err != nil {
				return err
			}
			keys[i] = memberKey(tenantID, groupID, m)
		}
		vals, err := tx.GetMany(bMembers, keys)
		if err != nil {
			return err
		}
		for i, v := range vals {
			out[i] = v != nil
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("checking members of group %s: %w", groupID, err)
	}
	return out, nil
}

// buildMemberCounts marks every member entry and writes every group's member count (the
// migration to format 10).
func buildMemberCounts(w *wtx) error {
	var keys [][]byte
	counts := map[string]uint64{}
	err := w.Scan(bMembers, kv.Span{KeysOnly: true}, func(k, _ []byte) (bool, error) {
		tenantID, rest, ok := splitOwner(k)
		if !ok {
			return false, fmt.Errorf("malformed member key %x", k)
		}
		groupID, _, ok := splitOwner([]byte(rest))
		if !ok {
			return false, fmt.Errorf("malformed member key %x", k)
		}
		keys = append(keys, cloneBytes(k))
		counts[string(subKey(tenantID, groupID))]++
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := w.Put(bMembers, k, memberMark); err != nil {
			return err
		}
	}
	if err := deletePrefix(w, bMemberCounts, nil); err != nil {
		return err
	}
	for k, n := range counts {
		if err := w.Put(bMemberCounts, []byte(k), binary.BigEndian.AppendUint64(nil, n)); err != nil {
			return err
		}
	}
	return nil
}
