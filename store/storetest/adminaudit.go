package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
)

// adminWrite is one change of a store.Writer.
type adminWrite struct {
	name string
	// setup prepares what the change needs, on top of policyFixture.
	setup func(ctx context.Context, s store.Store) error
	// write makes the change through w and checks the record it returns as stored.
	write func(w store.Writer) error
	// applied reports whether the change is in the store.
	applied func(ctx context.Context, s store.Store) (bool, error)
	// fail is the same change failing with failErr.
	fail    func(w store.Writer) error
	failErr error
}

// storedAs checks that a change succeeded and returned a record satisfying ok.
func storedAs[T any](x T, err error, ok func(T) bool) error {
	if err != nil {
		return err
	}
	if !ok(x) {
		return fmt.Errorf("stored %T %+v is not the written record", x, x)
	}
	return nil
}

// errOf is the error of a change, its record left aside.
func errOf[T any](_ T, err error) error { return err }

// gone reports err as ErrNotFound → true, nil → false.
func gone(err error) (bool, error) {
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	return false, err
}

// present reports err as ErrNotFound → false, nil → true.
func present(err error) (bool, error) {
	ok, err := gone(err)
	return !ok, err
}

func testProfile(id string) store.Profile {
	return store.Profile{TenantID: "ta", ID: id, Kind: store.ProfileCustom, Name: "x", ScopeTags: []string{"0"},
		Raw:      json.RawMessage(`{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"x"}`),
		Settings: []store.ProfileSetting{{LocURI: "./Device/Vendor/MSFT/X", Format: "chr", Value: "v"}}}
}

func adminWrites() []adminWrite {
	member := store.Member{Kind: store.MemberUser, ID: "u-ta"}
	withGroup := func(ctx context.Context, s store.Store) error {
		return s.CreateGroup(ctx, store.Group{TenantID: "ta", ID: "g1", DisplayName: "g1"})
	}
	withProfile := func(ctx context.Context, s store.Store) error {
		if err := withGroup(ctx, s); err != nil {
			return err
		}
		return s.CreateProfile(ctx, testProfile("p1"))
	}
	rename := func(t *store.Tenant) error { t.DisplayName = "Renamed"; return nil }
	return []adminWrite{
		{
			name: "CreateTenant",
			write: func(w store.Writer) error {
				x, err := w.CreateTenant(tenant("tn", "tn.example"))
				return storedAs(x, err, func(x store.Tenant) bool { return x.ID == "tn" && !x.CreatedAt.IsZero() })
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				_, err := s.Tenant(ctx, "tn")
				return present(err)
			},
			fail:    func(w store.Writer) error { return errOf(w.CreateTenant(tenant("ta", "other.example"))) },
			failErr: store.ErrExists,
		},
		{
			name: "UpdateTenant",
			write: func(w store.Writer) error {
				x, err := w.UpdateTenant("ta", rename)
				return storedAs(x, err, func(x store.Tenant) bool { return x.ID == "ta" && x.DisplayName == "Renamed" && x.UpdatedAt.After(t0) })
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				t, err := s.Tenant(ctx, "ta")
				return t.DisplayName == "Renamed", err
			},
			fail:    func(w store.Writer) error { return errOf(w.UpdateTenant("nope", rename)) },
			failErr: store.ErrNotFound,
		},
		{
			name: "DeleteTenant",
			setup: func(ctx context.Context, s store.Store) error {
				return s.UpdateDevice(ctx, "d-ta", func(d *store.Device) error { d.State = store.DeviceRetired; return nil })
			},
			write: func(w store.Writer) error {
				x, err := w.DeleteTenant("ta")
				return storedAs(x, err, func(x store.Tenant) bool { return x.ID == "ta" && x.DisplayName != "" })
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				_, err := s.Tenant(ctx, "ta")
				return gone(err)
			},
			fail:    func(w store.Writer) error { return errOf(w.DeleteTenant("tb")) }, // its device is enrolled
			failErr: store.ErrConflict,
		},
		{
			name: "CreateUser",
			write: func(w store.Writer) error {
				x, err := w.CreateUser(user("ta", "u2", "u2@ta.example"))
				return storedAs(x, err, func(x store.User) bool { return x.ID == "u2" && x.UPN == "u2@ta.example" })
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				_, err := s.User(ctx, "ta", "u2")
				return present(err)
			},
			fail:    func(w store.Writer) error { return errOf(w.CreateUser(user("ta", "u3", "U@ta.example"))) },
			failErr: store.ErrExists,
		},
		{
			name: "UpdateUser",
			write: func(w store.Writer) error {
				x, err := w.UpdateUser("ta", "u-ta", func(u *store.User) error { u.TOTPSecret = []byte("secret"); return nil })
				return storedAs(x, err, func(x store.User) bool { return x.ID == "u-ta" && string(x.TOTPSecret) == "secret" })
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				u, err := s.User(ctx, "ta", "u-ta")
				return string(u.TOTPSecret) == "secret", err
			},
			fail: func(w store.Writer) error {
				return errOf(w.UpdateUser("ta", "nope", func(u *store.User) error { u.DisplayName = "x"; return nil }))
			},
			failErr: store.ErrNotFound,
		},
		{
			name: "DeleteUser",
			write: func(w store.Writer) error {
				x, err := w.DeleteUser("ta", "u-ta")
				return storedAs(x, err, func(x store.User) bool { return x.ID == "u-ta" && x.UPN == "u@ta.example" })
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				_, err := s.User(ctx, "ta", "u-ta")
				return gone(err)
			},
			fail:    func(w store.Writer) error { return errOf(w.DeleteUser("ta", "nope")) },
			failErr: store.ErrNotFound,
		},
		{
			name: "RegisterDevice",
			write: func(w store.Writer) error {
				x, err := w.RegisterDevice(device("ta", "d-new", "0abc"))
				return storedAs(x, err, func(x store.DeviceRegistration) bool {
					return x.Device.ID == "d-new" && x.Device.CertSerial == "0ABC" && !x.Device.EnrolledAt.IsZero() && x.Previous == nil
				})
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				_, err := s.Device(ctx, "d-new")
				return present(err)
			},
			fail:    func(w store.Writer) error { return errOf(w.RegisterDevice(device("tb", "d-ta", "0abd"))) },
			failErr: store.ErrConflict,
		},
		{
			// A re-enrollment replaces the certificate: the new serial and the old one's
			// revocation commit with the events, or neither does.
			name: "RegisterDeviceAgain",
			write: func(w store.Writer) error {
				x, err := w.RegisterDevice(device("ta", "d-ta", "0new"))
				return storedAs(x, err, func(x store.DeviceRegistration) bool {
					return x.Device.ID == "d-ta" && x.Device.CertSerial == "0NEW" && x.Previous != nil && x.Previous.CertSerial == "0TA"
				})
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				d, err := s.Device(ctx, "d-ta")
				if err != nil {
					return false, err
				}
				revoked, err := s.CertRevoked(ctx, "0TA")
				return d.CertSerial == "0NEW" || revoked, err
			},
			fail:    func(w store.Writer) error { return errOf(w.RegisterDevice(device("tb", "d-ta", "0new"))) },
			failErr: store.ErrConflict,
		},
		{
			name: "UpdateDevice",
			write: func(w store.Writer) error {
				x, err := w.UpdateDevice("d-ta", func(d *store.Device) error { d.PolicyDirty = true; return nil })
				return storedAs(x, err, func(x store.Device) bool { return x.ID == "d-ta" && x.PolicyDirty && x.UpdatedAt.After(t0) })
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				d, err := s.Device(ctx, "d-ta")
				return d.PolicyDirty, err
			},
			fail: func(w store.Writer) error {
				return errOf(w.UpdateDevice("nope", func(d *store.Device) error { d.PolicyDirty = true; return nil }))
			},
			failErr: store.ErrNotFound,
		},
		{
			name: "CreateToken",
			setup: func(ctx context.Context, s store.Store) error {
				return s.CreateToken(ctx, store.AdminToken{ID: "tok0", Hash: "ab12", Role: store.RoleAdmin, CreatedAt: t0})
			},
			write: func(w store.Writer) error {
				x, err := w.CreateToken(store.AdminToken{ID: "tok1", Hash: "CD34", Role: store.RoleReader, TenantID: "ta"})
				return storedAs(x, err, func(x store.AdminToken) bool { return x.ID == "tok1" && x.Hash == "cd34" && !x.CreatedAt.IsZero() })
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				_, err := s.TokenByHash(ctx, "cd34")
				return present(err)
			},
			fail: func(w store.Writer) error {
				return errOf(w.CreateToken(store.AdminToken{ID: "tok0", Hash: "ef56", Role: store.RoleAdmin}))
			},
			failErr: store.ErrExists,
		},
		{
			name: "DeleteToken",
			setup: func(ctx context.Context, s store.Store) error {
				return s.CreateToken(ctx, store.AdminToken{ID: "tok0", Hash: "ab12", Role: store.RoleReader, TenantID: "ta", CreatedAt: t0})
			},
			write: func(w store.Writer) error {
				x, err := w.DeleteToken("tok0")
				return storedAs(x, err, func(x store.AdminToken) bool { return x.ID == "tok0" && x.TenantID == "ta" && x.Hash == "ab12" })
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				_, err := s.TokenByHash(ctx, "ab12")
				return gone(err)
			},
			fail:    func(w store.Writer) error { return errOf(w.DeleteToken("nope")) },
			failErr: store.ErrNotFound,
		},
		{
			name: "CreateGroup",
			write: func(w store.Writer) error {
				x, err := w.CreateGroup(store.Group{TenantID: "ta", ID: "g9", DisplayName: "g9"})
				return storedAs(x, err, func(x store.Group) bool { return x.ID == "g9" && !x.UpdatedAt.IsZero() })
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				_, err := s.Group(ctx, "ta", "g9")
				return present(err)
			},
			fail:    func(w store.Writer) error { return errOf(w.CreateGroup(store.Group{TenantID: "nope", ID: "g9"})) },
			failErr: store.ErrNotFound,
		},
		{
			name:  "DeleteGroup",
			setup: withGroup,
			write: func(w store.Writer) error { return w.DeleteGroup("ta", "g1") },
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				_, err := s.Group(ctx, "ta", "g1")
				return gone(err)
			},
			fail:    func(w store.Writer) error { return w.DeleteGroup("ta", "nope") },
			failErr: store.ErrNotFound,
		},
		{
			name:  "AddMembers",
			setup: withGroup,
			write: func(w store.Writer) error { return w.AddMembers("ta", "g1", member) },
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				ms, err := s.Members(ctx, "ta", "g1")
				return slices.Contains(ms, member), err
			},
			fail: func(w store.Writer) error {
				return w.AddMembers("ta", "g1", store.Member{Kind: store.MemberUser, ID: "nope"})
			},
			failErr: store.ErrNotFound,
		},
		{
			name: "RemoveMember",
			setup: func(ctx context.Context, s store.Store) error {
				if err := withGroup(ctx, s); err != nil {
					return err
				}
				return s.AddMembers(ctx, "ta", "g1", member)
			},
			write: func(w store.Writer) error { return w.RemoveMember("ta", "g1", member) },
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				ms, err := s.Members(ctx, "ta", "g1")
				return len(ms) == 0, err
			},
			fail: func(w store.Writer) error {
				return w.RemoveMember("ta", "g1", store.Member{Kind: store.MemberUser, ID: "nope"})
			},
			failErr: store.ErrNotFound,
		},
		{
			name: "CreateProfile",
			write: func(w store.Writer) error {
				x, err := w.CreateProfile(testProfile("p9"))
				return storedAs(x, err, func(x store.Profile) bool { return x.ID == "p9" && x.Version == 1 && !x.UpdatedAt.IsZero() })
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				_, err := s.Profile(ctx, "ta", "p9")
				return present(err)
			},
			fail: func(w store.Writer) error {
				p := testProfile("p9")
				p.TenantID = "nope"
				return errOf(w.CreateProfile(p))
			},
			failErr: store.ErrNotFound,
		},
		{
			name:  "UpdateProfile",
			setup: withProfile,
			write: func(w store.Writer) error {
				x, err := w.UpdateProfile("ta", "p1", func(p *store.Profile) error { p.Name = "Renamed"; return nil })
				return storedAs(x, err, func(x store.Profile) bool { return x.ID == "p1" && x.Name == "Renamed" && x.Version == 2 })
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				p, err := s.Profile(ctx, "ta", "p1")
				return p.Name == "Renamed", err
			},
			fail: func(w store.Writer) error {
				return errOf(w.UpdateProfile("ta", "nope", func(p *store.Profile) error { p.Name = "Renamed"; return nil }))
			},
			failErr: store.ErrNotFound,
		},
		{
			name:  "DeleteProfile",
			setup: withProfile,
			write: func(w store.Writer) error { return w.DeleteProfile("ta", "p1") },
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				_, err := s.Profile(ctx, "ta", "p1")
				return gone(err)
			},
			fail:    func(w store.Writer) error { return w.DeleteProfile("ta", "nope") },
			failErr: store.ErrNotFound,
		},
		{
			name:  "SetAssignments",
			setup: withProfile,
			write: func(w store.Writer) error {
				x, err := w.SetAssignments("ta", "p1", []store.Assignment{{Target: store.TargetGroup, GroupID: "g1"}})
				return storedAs(x, err, func(x []store.Assignment) bool { return len(x) == 1 && x[0].GroupID == "g1" })
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				as, err := s.Assignments(ctx, "ta", "p1")
				return len(as) == 1, err
			},
			fail: func(w store.Writer) error {
				return errOf(w.SetAssignments("ta", "p1", []store.Assignment{{Target: store.TargetGroup, GroupID: "nope"}}))
			},
			failErr: store.ErrNotFound,
		},
		{
			name:  "SetAssignmentsNone",
			setup: withProfile,
			write: func(w store.Writer) error {
				x, err := w.SetAssignments("ta", "p1", nil)
				return storedAs(x, err, func(x []store.Assignment) bool { return x != nil && len(x) == 0 })
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				v, err := s.PolicyVersion(ctx, "ta")
				return v == 3, err // the group, the profile, and the assignments
			},
			fail: func(w store.Writer) error {
				return errOf(w.SetAssignments("ta", "nope", nil))
			},
			failErr: store.ErrNotFound,
		},
	}
}

// adminEvents are the events of a write: one in each fixture tenant's chain.
func adminEvents() []*audit.Event {
	mk := func(tenantID string) *audit.Event {
		return &audit.Event{ID: uuid.NewString(), Time: t0, TenantID: tenantID, Kind: audit.KindAdminWrite,
			Actor:   audit.Actor{Type: audit.ActorAdmin, ID: "admin"},
			Subject: audit.Subject{Type: audit.SubjectTenant, ID: tenantID}, Action: "test",
			Details: []byte(`{"before":null,"after":{"x":1}}`)}
	}
	return []*audit.Event{mk("ta"), mk("tb")}
}

// testAdminAudit checks store.Writes.Write with every change of a store.Writer: the change
// and the events appended after it commit together, in valid chains, the caller's events
// getting their Seq and Hash (on a store that seals later, their ID only); an error from the
// function after the change, or an append that fails, rolls the change back; a failing
// change appends nothing; a Write without Audit appends nothing.
func testAdminAudit(t *testing.T, open opener) {
	for _, c := range adminWrites() {
		t.Run(c.name, func(t *testing.T) {
			t.Run("EventsCommitWithTheChange", func(t *testing.T) { adminWriteEventsCommitWithTheChange(t, open, c) })
			t.Run("ErrorAfterTheChangeRollsBack", func(t *testing.T) { adminWriteErrorAfterTheChangeRollsBack(t, open, c) })
			t.Run("AppendFailureRollsBack", func(t *testing.T) { adminWriteAppendFailureRollsBack(t, open, c) })
			t.Run("FailedChangeAppendsNothing", func(t *testing.T) { adminWriteFailedChangeAppendsNothing(t, open, c) })
			t.Run("WithoutAuditAppendsNothing", func(t *testing.T) { adminWriteWithoutAuditAppendsNothing(t, open, c) })
		})
	}
	t.Run("SeveralChanges", func(t *testing.T) { adminWriteSeveralChanges(t, open) })
}

// prepareAdminWrite opens a store with the fixture and the case's setup, and returns the
// tenants' chain heads after it.
func prepareAdminWrite(t *testing.T, open opener, c adminWrite) (store.Store, context.Context, map[string]uint64) {
	t.Helper()
	s := open(t)
	ctx := policyFixture(t, s)
	if c.setup != nil {
		must(t, "setup", c.setup(ctx, s))
	}
	heads := map[string]uint64{}
	for _, tn := range []string{"ta", "tb"} {
		if evs := auditEvents(t, s, tn, 0); len(evs) > 0 {
			heads[tn] = evs[len(evs)-1].Seq
		}
	}
	return s, ctx, heads
}

// noNewEvents fails if either fixture tenant's chain grew past heads.
func noNewEvents(t *testing.T, s store.Store, heads map[string]uint64) {
	t.Helper()
	for _, tn := range []string{"ta", "tb"} {
		if evs := auditEvents(t, s, tn, heads[tn]); len(evs) != 0 {
			t.Fatalf("tenant %s: %d events appended, want none: %+v", tn, len(evs), evs)
		}
	}
}

// isApplied reports whether the case's change is in the store.
func isApplied(t *testing.T, ctx context.Context, s store.Store, c adminWrite) bool {
	t.Helper()
	ok, err := c.applied(ctx, s)
	must(t, "reading the change back", err)
	return ok
}

func adminWriteEventsCommitWithTheChange(t *testing.T, open opener, c adminWrite) {
	s, ctx, heads := prepareAdminWrite(t, open, c)
	var built []*audit.Event
	err := s.Write(ctx, func(w store.Writer) error {
		if err := c.write(w); err != nil {
			return err
		}
		built = adminEvents()
		return w.Audit(built...)
	})
	must(t, c.name, err)
	if !isApplied(t, ctx, s, c) {
		t.Fatal("the change is not stored")
	}
	for i, tn := range []string{"ta", "tb"} {
		evs := auditEvents(t, s, tn, 0)
		verifyChain(t, audit.Anchor{}, evs)
		if len(evs) == 0 || evs[len(evs)-1].ID != built[i].ID || evs[len(evs)-1].Seq != heads[tn]+1 {
			t.Fatalf("tenant %s: last event %+v, want %s at Seq %d", tn, evs, built[i].ID, heads[tn]+1)
		}
		callerEvent(t, s, built[i], evs[len(evs)-1])
	}
}

func adminWriteErrorAfterTheChangeRollsBack(t *testing.T, open opener, c adminWrite) {
	s, ctx, heads := prepareAdminWrite(t, open, c)
	var built []*audit.Event
	err := s.Write(ctx, func(w store.Writer) error {
		if err := c.write(w); err != nil {
			return err
		}
		built = adminEvents()
		if err := w.Audit(built...); err != nil {
			return err
		}
		return errBoom
	})
	if err != errBoom {
		t.Fatalf("Write = %v, want the function's error as it is", err)
	}
	if isApplied(t, ctx, s, c) {
		t.Fatal("the change was stored although the function failed")
	}
	noNewEvents(t, s, heads)
	if built[0].Seq != 0 || built[0].Hash != "" {
		t.Fatalf("an event of a rolled-back write was sealed: Seq %d Hash %q", built[0].Seq, built[0].Hash)
	}
}

func adminWriteAppendFailureRollsBack(t *testing.T, open opener, c adminWrite) {
	s, ctx, heads := prepareAdminWrite(t, open, c)
	var built []*audit.Event
	err := s.Write(ctx, func(w store.Writer) error {
		if err := c.write(w); err != nil {
			return err
		}
		built = adminEvents()
		built[1].TenantID = "" // no chain to append to
		return w.Audit(built...)
	})
	if err == nil {
		t.Fatal("the write succeeded although its audit event could not be appended")
	}
	if isApplied(t, ctx, s, c) {
		t.Fatal("the change was stored without its audit events")
	}
	noNewEvents(t, s, heads)
	if built[0].Seq != 0 {
		t.Fatalf("an event of a rolled-back write was sealed with Seq %d", built[0].Seq)
	}
}

func adminWriteFailedChangeAppendsNothing(t *testing.T, open opener, c adminWrite) {
	s, ctx, heads := prepareAdminWrite(t, open, c)
	var changeErr error
	err := s.Write(ctx, func(w store.Writer) error {
		if changeErr = c.fail(w); changeErr != nil {
			return changeErr
		}
		return w.Audit(adminEvents()...)
	})
	mustErr(t, c.name+" failing (the change)", changeErr, c.failErr)
	if err != changeErr {
		t.Fatalf("Write = %v, want the change's error %v as it is", err, changeErr)
	}
	noNewEvents(t, s, heads)
}

func adminWriteWithoutAuditAppendsNothing(t *testing.T, open opener, c adminWrite) {
	s, ctx, heads := prepareAdminWrite(t, open, c)
	must(t, c.name, s.Write(ctx, c.write))
	if !isApplied(t, ctx, s, c) {
		t.Fatal("the change is not stored")
	}
	noNewEvents(t, s, heads)
}

// adminWriteSeveralChanges checks that several changes of one Write commit together: a
// failing later change rolls back an earlier one, and the events of a Write that goes
// through follow all of its changes.
func adminWriteSeveralChanges(t *testing.T, open opener) {
	s, ctx, heads := prepareAdminWrite(t, open, adminWrite{})
	g := store.Group{TenantID: "ta", ID: "g5", DisplayName: "g5"}
	err := s.Write(ctx, func(w store.Writer) error {
		if _, err := w.CreateGroup(g); err != nil {
			return err
		}
		if err := w.AddMembers("ta", "g5", store.Member{Kind: store.MemberUser, ID: "nope"}); err != nil {
			return err
		}
		return w.Audit(adminEvents()...)
	})
	mustErr(t, "Write with a failing second change", err, store.ErrNotFound)
	_, err = s.Group(ctx, "ta", "g5")
	mustErr(t, "the group of the failed Write", err, store.ErrNotFound)
	noNewEvents(t, s, heads)

	var built []*audit.Event
	must(t, "Write", s.Write(ctx, func(w store.Writer) error {
		if _, err := w.CreateGroup(g); err != nil {
			return err
		}
		if err := w.AddMembers("ta", "g5", store.Member{Kind: store.MemberUser, ID: "u-ta"}); err != nil {
			return err
		}
		built = adminEvents()
		return w.Audit(built...)
	}))
	ms, err := s.Members(ctx, "ta", "g5")
	must(t, "Members", err)
	if len(ms) != 1 || ms[0].ID != "u-ta" {
		t.Fatalf("members %+v, want u-ta", ms)
	}
	if v := version(t, s, "ta"); v != 2 {
		t.Fatalf("policy version %d after two policy changes, want 2", v)
	}
	for i, tn := range []string{"ta", "tb"} {
		evs := auditEvents(t, s, tn, heads[tn])
		if len(evs) != 1 || evs[0].ID != built[i].ID {
			t.Fatalf("tenant %s: events %+v, want the Write's one", tn, evs)
		}
		callerEvent(t, s, built[i], evs[0])
	}
}
