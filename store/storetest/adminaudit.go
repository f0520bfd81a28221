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

// adminWrite is one admin write that honours store.WithAudit.
type adminWrite struct {
	name string
	// setup prepares what the write needs, on top of policyFixture.
	setup func(ctx context.Context, s store.Store) error
	// write makes the change; applied reports whether it is in the store.
	write   func(ctx context.Context, s store.Store) error
	applied func(ctx context.Context, s store.Store) (bool, error)
	// stored checks the record the write hands its AuditFunc (store.AuditFunc's table).
	stored func(v any) error
	// fail is the same write failing with failErr; nil when the write has no failing form.
	fail    func(ctx context.Context, s store.Store) error
	failErr error
}

// storedAs checks that v is a T satisfying ok.
func storedAs[T any](ok func(T) bool) func(v any) error {
	return func(v any) error {
		x, isT := v.(T)
		if !isT || !ok(x) {
			return fmt.Errorf("stored %T %+v is not the written %T", v, v, x)
		}
		return nil
	}
}

// storedNil checks that the write hands its AuditFunc nil.
func storedNil(v any) error {
	if v != nil {
		return fmt.Errorf("stored %T, want nil", v)
	}
	return nil
}

// gone reports err as ErrNotFound → true, nil → false.
func gone(err error) (bool, error) {
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	return false, err
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
	return []adminWrite{
		{
			name:  "CreateTenant",
			write: func(ctx context.Context, s store.Store) error { return s.CreateTenant(ctx, tenant("tn", "tn.example")) },
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				_, err := s.Tenant(ctx, "tn")
				ok, err := gone(err)
				return !ok, err
			},
			stored: storedAs(func(x store.Tenant) bool { return x.ID == "tn" && !x.CreatedAt.IsZero() }),
			fail: func(ctx context.Context, s store.Store) error {
				return s.CreateTenant(ctx, tenant("ta", "other.example"))
			},
			failErr: store.ErrExists,
		},
		{
			name: "UpdateTenant",
			write: func(ctx context.Context, s store.Store) error {
				return s.UpdateTenant(ctx, "ta", func(t *store.Tenant) error { t.DisplayName = "Renamed"; return nil })
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				t, err := s.Tenant(ctx, "ta")
				return t.DisplayName == "Renamed", err
			},
			stored: storedAs(func(x store.Tenant) bool { return x.ID == "ta" && x.DisplayName == "Renamed" && x.UpdatedAt.After(t0) }),
			fail: func(ctx context.Context, s store.Store) error {
				return s.UpdateTenant(ctx, "nope", func(t *store.Tenant) error { t.DisplayName = "Renamed"; return nil })
			},
			failErr: store.ErrNotFound,
		},
		{
			name: "CreateUser",
			write: func(ctx context.Context, s store.Store) error {
				return s.CreateUser(ctx, user("ta", "u2", "u2@ta.example"))
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				_, err := s.User(ctx, "ta", "u2")
				ok, err := gone(err)
				return !ok, err
			},
			stored: storedAs(func(x store.User) bool { return x.ID == "u2" && x.UPN == "u2@ta.example" }),
			fail: func(ctx context.Context, s store.Store) error {
				return s.CreateUser(ctx, user("ta", "u3", "U@ta.example"))
			},
			failErr: store.ErrExists,
		},
		{
			name: "UpdateUser",
			write: func(ctx context.Context, s store.Store) error {
				return s.UpdateUser(ctx, "ta", "u-ta", func(u *store.User) error { u.TOTPSecret = []byte("secret"); return nil })
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				u, err := s.User(ctx, "ta", "u-ta")
				return string(u.TOTPSecret) == "secret", err
			},
			stored: storedAs(func(x store.User) bool { return x.ID == "u-ta" && string(x.TOTPSecret) == "secret" }),
			fail: func(ctx context.Context, s store.Store) error {
				return s.UpdateUser(ctx, "ta", "nope", func(u *store.User) error { u.DisplayName = "x"; return nil })
			},
			failErr: store.ErrNotFound,
		},
		{
			name: "DeleteTenant",
			setup: func(ctx context.Context, s store.Store) error {
				return s.UpdateDevice(ctx, "d-ta", func(d *store.Device) error { d.State = store.DeviceRetired; return nil })
			},
			write: func(ctx context.Context, s store.Store) error {
				_, err := s.DeleteTenant(ctx, "ta")
				return err
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				_, err := s.Tenant(ctx, "ta")
				return gone(err)
			},
			stored: storedAs(func(x store.Tenant) bool { return x.ID == "ta" }),
			fail: func(ctx context.Context, s store.Store) error {
				_, err := s.DeleteTenant(ctx, "tb") // its device is enrolled
				return err
			},
			failErr: store.ErrConflict,
		},
		{
			name: "DeleteUser",
			write: func(ctx context.Context, s store.Store) error {
				_, err := s.DeleteUser(ctx, "ta", "u-ta")
				return err
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				_, err := s.User(ctx, "ta", "u-ta")
				return gone(err)
			},
			stored: storedAs(func(x store.User) bool { return x.ID == "u-ta" && x.UPN == "u@ta.example" }),
			fail: func(ctx context.Context, s store.Store) error {
				_, err := s.DeleteUser(ctx, "ta", "nope")
				return err
			},
			failErr: store.ErrNotFound,
		},
		{
			name: "UpdateDevice",
			write: func(ctx context.Context, s store.Store) error {
				return s.UpdateDevice(ctx, "d-ta", func(d *store.Device) error { d.PolicyDirty = true; return nil })
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				d, err := s.Device(ctx, "d-ta")
				return d.PolicyDirty, err
			},
			stored: storedAs(func(x store.Device) bool { return x.ID == "d-ta" && x.PolicyDirty && x.UpdatedAt.After(t0) }),
			fail: func(ctx context.Context, s store.Store) error {
				return s.UpdateDevice(ctx, "nope", func(d *store.Device) error { d.PolicyDirty = true; return nil })
			},
			failErr: store.ErrNotFound,
		},
		{
			name: "RegisterDevice",
			write: func(ctx context.Context, s store.Store) error {
				_, err := s.RegisterDevice(ctx, device("ta", "d-new", "0abc"))
				return err
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				_, err := s.Device(ctx, "d-new")
				ok, err := gone(err)
				return !ok, err
			},
			stored: storedAs(func(x store.DeviceRegistration) bool {
				return x.Device.ID == "d-new" && x.Device.CertSerial == "0ABC" && x.Previous == nil
			}),
			fail: func(ctx context.Context, s store.Store) error {
				_, err := s.RegisterDevice(ctx, device("tb", "d-ta", "0abd"))
				return err
			},
			failErr: store.ErrConflict,
		},
		{
			// A re-enrollment replaces the certificate: the new serial and the old one's
			// revocation commit with the events, or neither does.
			name: "RegisterDeviceAgain",
			write: func(ctx context.Context, s store.Store) error {
				_, err := s.RegisterDevice(ctx, device("ta", "d-ta", "0new"))
				return err
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				d, err := s.Device(ctx, "d-ta")
				if err != nil {
					return false, err
				}
				revoked, err := s.CertRevoked(ctx, "0TA")
				return d.CertSerial == "0NEW" || revoked, err
			},
			stored: storedAs(func(x store.DeviceRegistration) bool {
				return x.Device.ID == "d-ta" && x.Device.CertSerial == "0NEW" && x.Previous != nil && x.Previous.CertSerial == "0TA"
			}),
			fail: func(ctx context.Context, s store.Store) error {
				_, err := s.RegisterDevice(ctx, device("tb", "d-ta", "0new"))
				return err
			},
			failErr: store.ErrConflict,
		},
		{
			name: "CreateToken",
			setup: func(ctx context.Context, s store.Store) error {
				return s.CreateToken(ctx, store.AdminToken{ID: "tok0", Hash: "ab12", Role: store.RoleAdmin, CreatedAt: t0})
			},
			write: func(ctx context.Context, s store.Store) error {
				return s.CreateToken(ctx, store.AdminToken{ID: "tok1", Hash: "CD34", Role: store.RoleReader, TenantID: "ta"})
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				_, err := s.TokenByHash(ctx, "cd34")
				ok, err := gone(err)
				return !ok, err
			},
			stored: storedAs(func(x store.AdminToken) bool { return x.ID == "tok1" && x.Hash == "cd34" && !x.CreatedAt.IsZero() }),
			fail: func(ctx context.Context, s store.Store) error {
				return s.CreateToken(ctx, store.AdminToken{ID: "tok0", Hash: "ef56", Role: store.RoleAdmin})
			},
			failErr: store.ErrExists,
		},
		{
			name: "CreateGroup",
			write: func(ctx context.Context, s store.Store) error {
				return s.CreateGroup(ctx, store.Group{TenantID: "ta", ID: "g9", DisplayName: "g9"})
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				_, err := s.Group(ctx, "ta", "g9")
				ok, err := gone(err)
				return !ok, err
			},
			stored: storedAs(func(x store.Group) bool { return x.ID == "g9" && !x.UpdatedAt.IsZero() }),
			fail: func(ctx context.Context, s store.Store) error {
				return s.CreateGroup(ctx, store.Group{TenantID: "nope", ID: "g9"})
			},
			failErr: store.ErrNotFound,
		},
		{
			name:  "DeleteGroup",
			setup: withGroup,
			write: func(ctx context.Context, s store.Store) error { return s.DeleteGroup(ctx, "ta", "g1") },
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				_, err := s.Group(ctx, "ta", "g1")
				return gone(err)
			},
			stored:  storedNil,
			fail:    func(ctx context.Context, s store.Store) error { return s.DeleteGroup(ctx, "ta", "nope") },
			failErr: store.ErrNotFound,
		},
		{
			name:  "AddMembers",
			setup: withGroup,
			write: func(ctx context.Context, s store.Store) error { return s.AddMembers(ctx, "ta", "g1", member) },
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				ms, err := s.Members(ctx, "ta", "g1")
				return slices.Contains(ms, member), err
			},
			stored: storedNil,
			fail: func(ctx context.Context, s store.Store) error {
				return s.AddMembers(ctx, "ta", "g1", store.Member{Kind: store.MemberUser, ID: "nope"})
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
			write: func(ctx context.Context, s store.Store) error { return s.RemoveMember(ctx, "ta", "g1", member) },
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				ms, err := s.Members(ctx, "ta", "g1")
				return len(ms) == 0, err
			},
			stored: storedNil,
			fail: func(ctx context.Context, s store.Store) error {
				return s.RemoveMember(ctx, "ta", "g1", store.Member{Kind: store.MemberUser, ID: "nope"})
			},
			failErr: store.ErrNotFound,
		},
		{
			name:  "CreateProfile",
			write: func(ctx context.Context, s store.Store) error { return s.CreateProfile(ctx, testProfile("p9")) },
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				_, err := s.Profile(ctx, "ta", "p9")
				ok, err := gone(err)
				return !ok, err
			},
			stored: storedAs(func(x store.Profile) bool { return x.ID == "p9" && x.Version == 1 }),
			fail: func(ctx context.Context, s store.Store) error {
				p := testProfile("p9")
				p.TenantID = "nope"
				return s.CreateProfile(ctx, p)
			},
			failErr: store.ErrNotFound,
		},
		{
			name:  "UpdateProfile",
			setup: withProfile,
			write: func(ctx context.Context, s store.Store) error {
				return s.UpdateProfile(ctx, "ta", "p1", func(p *store.Profile) error { p.Name = "Renamed"; return nil })
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				p, err := s.Profile(ctx, "ta", "p1")
				return p.Name == "Renamed", err
			},
			stored: storedAs(func(x store.Profile) bool { return x.ID == "p1" && x.Name == "Renamed" && x.Version == 2 }),
			fail: func(ctx context.Context, s store.Store) error {
				return s.UpdateProfile(ctx, "ta", "nope", func(p *store.Profile) error { p.Name = "Renamed"; return nil })
			},
			failErr: store.ErrNotFound,
		},
		{
			name:  "DeleteProfile",
			setup: withProfile,
			write: func(ctx context.Context, s store.Store) error { return s.DeleteProfile(ctx, "ta", "p1") },
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				_, err := s.Profile(ctx, "ta", "p1")
				return gone(err)
			},
			stored:  storedNil,
			fail:    func(ctx context.Context, s store.Store) error { return s.DeleteProfile(ctx, "ta", "nope") },
			failErr: store.ErrNotFound,
		},
		{
			name:  "SetAssignments",
			setup: withProfile,
			write: func(ctx context.Context, s store.Store) error {
				return s.SetAssignments(ctx, "ta", "p1", []store.Assignment{{Target: store.TargetGroup, GroupID: "g1"}})
			},
			applied: func(ctx context.Context, s store.Store) (bool, error) {
				as, err := s.Assignments(ctx, "ta", "p1")
				return len(as) == 1, err
			},
			stored: storedAs(func(x []store.Assignment) bool { return len(x) == 1 && x[0].GroupID == "g1" }),
			fail: func(ctx context.Context, s store.Store) error {
				return s.SetAssignments(ctx, "ta", "p1", []store.Assignment{{Target: store.TargetGroup, GroupID: "nope"}})
			},
			failErr: store.ErrNotFound,
		},
	}
}

// adminEvents are the events an AuditFunc builds: one in each fixture tenant's chain.
func adminEvents() []*audit.Event {
	mk := func(tenantID string) *audit.Event {
		return &audit.Event{ID: uuid.NewString(), Time: t0, TenantID: tenantID, Kind: audit.KindAdminWrite,
			Actor:   audit.Actor{Type: audit.ActorAdmin, ID: "admin"},
			Subject: audit.Subject{Type: audit.SubjectTenant, ID: tenantID}, Action: "test",
			Details: []byte(`{"before":null,"after":{"x":1}}`)}
	}
	return []*audit.Event{mk("ta"), mk("tb")}
}

// testAdminAudit checks store.WithAudit on every admin write: the events commit with the
// change, in valid chains; a failing write appends nothing; an AuditFunc error or a failing
// append rolls the change back.
func testAdminAudit(t *testing.T, open opener) {
	// prepare opens a store with the fixture and the case's setup, and returns the tenants'
	// chain heads after it.
	prepare := func(t *testing.T, w adminWrite) (store.Store, context.Context, map[string]uint64) {
		t.Helper()
		s := open(t)
		ctx := policyFixture(t, s)
		if w.setup != nil {
			must(t, "setup", w.setup(ctx, s))
		}
		heads := map[string]uint64{}
		for _, tn := range []string{"ta", "tb"} {
			if evs := auditEvents(t, s, tn, 0); len(evs) > 0 {
				heads[tn] = evs[len(evs)-1].Seq
			}
		}
		return s, ctx, heads
	}
	noNewEvents := func(t *testing.T, s store.Store, heads map[string]uint64) {
		t.Helper()
		for _, tn := range []string{"ta", "tb"} {
			if evs := auditEvents(t, s, tn, heads[tn]); len(evs) != 0 {
				t.Fatalf("tenant %s: %d events appended, want none: %+v", tn, len(evs), evs)
			}
		}
	}
	isApplied := func(t *testing.T, ctx context.Context, s store.Store, w adminWrite) bool {
		t.Helper()
		ok, err := w.applied(ctx, s)
		must(t, "reading the change back", err)
		return ok
	}
	for _, w := range adminWrites() {
		t.Run(w.name, func(t *testing.T) {
			t.Run("EventsCommitWithTheChange", func(t *testing.T) {
				s, ctx, heads := prepare(t, w)
				var built []*audit.Event
				calls := 0
				actx := store.WithAudit(ctx, func(stored any) ([]*audit.Event, error) {
					calls++
					if err := w.stored(stored); err != nil {
						return nil, err
					}
					built = adminEvents()
					return built, nil
				})
				must(t, w.name, w.write(actx, s))
				if calls == 0 {
					t.Fatal("the AuditFunc was never called")
				}
				if !isApplied(t, ctx, s, w) {
					t.Fatal("the change is not stored")
				}
				for i, tn := range []string{"ta", "tb"} {
					evs := auditEvents(t, s, tn, 0)
					verifyChain(t, audit.Anchor{}, evs)
					if len(evs) == 0 || evs[len(evs)-1].ID != built[i].ID || evs[len(evs)-1].Seq != heads[tn]+1 {
						t.Fatalf("tenant %s: last event %+v, want %s at Seq %d", tn, evs, built[i].ID, heads[tn]+1)
					}
					if got := built[i]; got.Seq != heads[tn]+1 || got.Hash != evs[len(evs)-1].Hash {
						t.Fatalf("tenant %s: caller's event has Seq %d Hash %q, stored Seq %d Hash %q", tn, got.Seq, got.Hash, evs[len(evs)-1].Seq, evs[len(evs)-1].Hash)
					}
				}
			})
			t.Run("AuditFuncErrorRollsBack", func(t *testing.T) {
				s, ctx, heads := prepare(t, w)
				actx := store.WithAudit(ctx, func(any) ([]*audit.Event, error) { return nil, errBoom })
				mustErr(t, w.name, w.write(actx, s), errBoom)
				if isApplied(t, ctx, s, w) {
					t.Fatal("the change was stored although its AuditFunc failed")
				}
				noNewEvents(t, s, heads)
			})
			t.Run("AppendFailureRollsBack", func(t *testing.T) {
				s, ctx, heads := prepare(t, w)
				var built []*audit.Event
				actx := store.WithAudit(ctx, func(any) ([]*audit.Event, error) {
					built = adminEvents()
					built[1].TenantID = "" // no chain to append to
					return built, nil
				})
				if err := w.write(actx, s); err == nil {
					t.Fatal("the write succeeded although its audit event could not be appended")
				}
				if isApplied(t, ctx, s, w) {
					t.Fatal("the change was stored without its audit events")
				}
				noNewEvents(t, s, heads)
				if built[0].Seq != 0 {
					t.Fatalf("an event of a rolled-back write was sealed with Seq %d", built[0].Seq)
				}
			})
			t.Run("FailedWriteAppendsNothing", func(t *testing.T) {
				s, ctx, heads := prepare(t, w)
				actx := store.WithAudit(ctx, func(any) ([]*audit.Event, error) { return adminEvents(), nil })
				mustErr(t, w.name+" failing", w.fail(actx, s), w.failErr)
				noNewEvents(t, s, heads)
			})
			t.Run("WithoutAuditAppendsNothing", func(t *testing.T) {
				s, ctx, heads := prepare(t, w)
				must(t, w.name, w.write(ctx, s))
				if !isApplied(t, ctx, s, w) {
					t.Fatal("the change is not stored")
				}
				noNewEvents(t, s, heads)
			})
		})
	}
}
