package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/hellomdm/hellomdm/store"
)

// testPolicyConcurrent races policy writes of one tenant against each other: what each
// write checks must still hold when it commits (no group cycle, no assignment naming a
// deleted group), and every write bumps the tenant's version exactly once.
func testPolicyConcurrent(t *testing.T, open opener) {
	s := open(t)
	ctx := policyFixture(t, s)
	const pairs = 8
	for i := range pairs {
		for _, g := range []string{name("a", i), name("b", i), name("c", i)} {
			must(t, "CreateGroup", s.CreateGroup(ctx, store.Group{TenantID: "ta", ID: g, DisplayName: g}))
		}
		must(t, "CreateProfile", s.CreateProfile(ctx, store.Profile{TenantID: "ta", ID: name("p", i), Name: "p"}))
	}
	v0 := version(t, s, "ta")
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs = map[string][]error{}
	)
	run := func(key string, f func() error) {
		wg.Go(func() {
			err := f()
			mu.Lock()
			errs[key] = append(errs[key], err)
			mu.Unlock()
		})
	}
	for i := range pairs {
		a, b, c, p := name("a", i), name("b", i), name("c", i), name("p", i)
		// a in b and b in a: one of them must be refused as a cycle.
		run("cycle"+a, func() error { return s.AddMembers(ctx, "ta", b, store.Member{Kind: store.MemberGroup, ID: a}) })
		run("cycle"+a, func() error { return s.AddMembers(ctx, "ta", a, store.Member{Kind: store.MemberGroup, ID: b}) })
		// Assigning c and deleting c: never an assignment naming a deleted group.
		run("assign"+c, func() error {
			return s.SetAssignments(ctx, "ta", p, []store.Assignment{{Target: store.TargetGroup, GroupID: c}})
		})
		run("delete"+c, func() error { return s.DeleteGroup(ctx, "ta", c) })
	}
	// Tenant b's first policy writes, all at once: each bumps the version once.
	const firsts = 6
	for i := range firsts {
		g := name("first", i)
		run("first", func() error { return s.CreateGroup(ctx, store.Group{TenantID: "tb", ID: g, DisplayName: g}) })
	}
	wg.Wait()
	if n := countNil(errs["first"]); n != firsts {
		t.Errorf("concurrent first policy writes of a tenant: %v", errs["first"])
	}
	if v := version(t, s, "tb"); v != firsts {
		t.Errorf("policy version %d after %d concurrent first writes", v, firsts)
	}
	succeeded := uint64(0)
	for i := range pairs {
		a, c, p := name("a", i), name("c", i), name("p", i)
		cycle := errs["cycle"+a]
		if ok := countNil(cycle); ok != 1 || !slices.ContainsFunc(cycle, func(err error) bool { return errors.Is(err, store.ErrConflict) }) {
			t.Errorf("racing a in b and b in a (%s): %v, want one success and one ErrConflict", a, cycle)
		}
		assignErr, deleteErr := errs["assign"+c][0], errs["delete"+c][0]
		as, err := s.Assignments(ctx, "ta", p)
		must(t, "Assignments", err)
		_, gerr := s.Group(ctx, "ta", c)
		switch {
		case assignErr == nil && deleteErr == nil:
			t.Errorf("%s: both the assignment and the deletion of its group committed", c)
		case assignErr == nil && (gerr != nil || len(as) != 1):
			t.Errorf("%s: assignment committed, group %v, assignments %+v", c, gerr, as)
		case deleteErr == nil && (!errors.Is(gerr, store.ErrNotFound) || len(as) != 0):
			t.Errorf("%s: deletion committed, group %v, assignments %+v", c, gerr, as)
		}
		succeeded += uint64(countNil(cycle) + countNil(errs["assign"+c]) + countNil(errs["delete"+c]))
	}
	if v := version(t, s, "ta"); v != v0+succeeded {
		t.Errorf("policy version %d after %d successful writes from %d", v, succeeded, v0)
	}
}

func countNil(errs []error) int {
	n := 0
	for _, err := range errs {
		if err == nil {
			n++
		}
	}
	return n
}

// testSettingStatesPaging lists more setting states than fit a page of any reasonable size,
// in order, stopping where fn says.
func testSettingStatesPaging(t *testing.T, open opener) {
	s := open(t)
	ctx := policyFixture(t, s)
	const n = 700
	err := s.Checkin(ctx, "d-ta", func(tx store.DeviceTx) error {
		for i := range n {
			uri := fmt.Sprintf("./Device/Vendor/MSFT/Policy/Config/X/S%04d", i)
			if err := tx.PutSettingState(store.SettingState{LocURI: uri, State: store.SettingPending}); err != nil {
				return err
			}
		}
		return nil
	})
	must(t, "Checkin", err)
	var got []string
	must(t, "ListSettingStates", s.ListSettingStates(ctx, "ta", func(st store.SettingState) (bool, error) {
		if st.TenantID != "ta" || st.DeviceID != "d-ta" {
			t.Errorf("setting state %+v", st)
		}
		got = append(got, st.LocURI)
		return true, nil
	}))
	if len(got) != n || !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != n {
		t.Errorf("ListSettingStates gave %d states (sorted %v), want %d distinct in order", len(got), slices.IsSorted(got), n)
	}
	count := 0
	must(t, "ListSettingStates stop", s.ListSettingStates(ctx, "ta", func(store.SettingState) (bool, error) {
		count++
		return count < 300, nil
	}))
	if count != 300 {
		t.Errorf("ListSettingStates went on after false: %d calls", count)
	}
	errStop := errors.New("stop")
	err = s.ListSettingStates(context.Background(), "ta", func(store.SettingState) (bool, error) { return true, errStop })
	mustErr(t, "ListSettingStates error", err, errStop)
}
