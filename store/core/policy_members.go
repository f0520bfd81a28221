package core

import (
	"context"
	"fmt"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// memberExists checks that a member lives in the tenant.
func memberExists(tx kv.Tx, tenantID string, m store.Member) error {
	var b kv.Bucket
	switch m.Kind {
	case store.MemberUser:
		b = bUsers
	case store.MemberDevice:
		b = bDeviceTenant
	case store.MemberGroup:
		b = bGroups
	default:
		return fmt.Errorf("member kind %q is not user, device or group: %w", m.Kind, store.ErrConflict)
	}
	return recordExists(tx, b, subKey(tenantID, m.ID), m.Kind+" "+m.ID)
}

// contains reports whether group from contains group target, itself or transitively.
func contains(tx kv.Tx, tenantID, from, target string) (bool, error) {
	seen := map[string]bool{}
	stack := []string{from}
	for len(stack) > 0 {
		g := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if g == target {
			return true, nil
		}
		if seen[g] {
			continue
		}
		seen[g] = true
		p := append(prefix2(tenantID, g, 0), store.MemberGroup+"\x00"...)
		err := tx.Scan(bMembers, kv.Span{Prefix: p, KeysOnly: true}, func(k, _ []byte) (bool, error) {
			stack = append(stack, string(k[len(p):]))
			return true, nil
		})
		if err != nil {
			return false, err
		}
	}
	return false, nil
}

// AddMembers adds members to a group: a Write of that one change (store.Writes).
func (s *Store) AddMembers(ctx context.Context, tenantID, groupID string, members ...store.Member) error {
	return s.adminWrite(ctx, false, func(w *wtx) error { return w.AddMembers(tenantID, groupID, members...) })
}

// AddMembers adds members to a group in w and bumps the policy version. The tenant's
// policy-version lock (policyChange) keeps the cycle check true until commit: two concurrent
// additions cannot each close half of a cycle.
func (w *wtx) AddMembers(tenantID, groupID string, members ...store.Member) error {
	for _, m := range members {
		if err := checkID("member id", m.ID); err != nil {
			return fmt.Errorf("adding members to group %s: %w", groupID, err)
		}
	}
	err := w.policyChange(tenantID, func() error {
		if err := recordExists(w, bGroups, subKey(tenantID, groupID), "group "+groupID); err != nil {
			return err
		}
		for _, m := range members {
			if err := memberExists(w, tenantID, m); err != nil {
				return err
			}
			if m.Kind == store.MemberGroup {
				cycle, err := contains(w, tenantID, m.ID, groupID)
				if err != nil {
					return err
				}
				if cycle {
					return fmt.Errorf("group %s already contains group %s, adding it would make a cycle: %w", m.ID, groupID, store.ErrConflict)
				}
			}
			if err := link(w, tenantID, groupID, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("adding members to group %s: %w", groupID, err)
	}
	return nil
}

// RemoveMember removes a direct member: a Write of that one change (store.Writes).
func (s *Store) RemoveMember(ctx context.Context, tenantID, groupID string, m store.Member) error {
	return s.adminWrite(ctx, false, func(w *wtx) error { return w.RemoveMember(tenantID, groupID, m) })
}

// RemoveMember removes a direct member in w and bumps the policy version.
func (w *wtx) RemoveMember(tenantID, groupID string, m store.Member) error {
	err := w.policyChange(tenantID, func() error {
		return unlink(w, tenantID, groupID, m)
	})
	if err != nil {
		return fmt.Errorf("removing %s %s from group %s: %w", m.Kind, m.ID, groupID, err)
	}
	return nil
}

// Members lists a group's direct members by kind then ID.
func (s *Store) Members(ctx context.Context, tenantID, groupID string) ([]store.Member, error) {
	var out []store.Member
	err := s.view(ctx, func(tx kv.Tx) error {
		if err := recordExists(tx, bGroups, subKey(tenantID, groupID), "group "+groupID); err != nil {
			return err
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
