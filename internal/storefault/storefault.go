// Package storefault wraps a store.Store so that a test can make its writes fail from a
// chosen step on, as a disk filling up or a database going away in the middle of an action
// would. Tests use it to show that an action's writes commit together or not at all.
//
// A step is one write call (RegisterDevice, UpdateDevice, AppendAudit, Checkin, ...), one
// write inside a Checkin transaction (PutDevice, PutCommand, Audit, ...), and the building of
// a write's audit events (the store.AuditFunc of its context, which the backend calls inside
// the transaction after the change is applied). Failing a step inside a transaction therefore
// fails it between the change and its audit record, and the backend must roll both back.
package storefault

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
)

// Store is a store.Store whose writes fail from the armed step on. The zero value needs
// Store set.
type Store struct {
	store.Store

	mu       sync.Mutex
	armed    bool
	failFrom int // 1-based step from which every step fails
	steps    []string
	failed   int
	err      error
}

// Trace is what happened between Arm and Disarm: the steps in order, and how many failed
// (the last Failed of them).
type Trace struct {
	Steps  []string
	Failed int
}

// Wrap returns st with fault injection, disarmed.
func Wrap(st store.Store) *Store { return &Store{Store: st} }

// Arm starts counting steps from zero: step n and every later one fail with err (wrapped
// with the step's name), until Disarm.
func (s *Store) Arm(n int, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed, s.failFrom, s.steps, s.failed, s.err = true, n, nil, 0, err
}

// Disarm stops failing and returns the steps since Arm.
func (s *Store) Disarm() Trace {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.armed = false
	return Trace{Steps: s.steps, Failed: s.failed}
}

// step counts one step and returns the injected error when it must fail.
func (s *Store) step(what string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.armed {
		return nil
	}
	s.steps = append(s.steps, what)
	if len(s.steps) < s.failFrom {
		return nil
	}
	s.failed++
	return fmt.Errorf("storefault: %s (step %d): %w", what, len(s.steps), s.err)
}

// audited counts the write itself, then makes ctx's AuditFunc (if any) a step of its own.
func (s *Store) audited(ctx context.Context, what string) (context.Context, error) {
	if err := s.step(what); err != nil {
		return ctx, err
	}
	f := store.AuditFrom(ctx)
	if f == nil {
		return ctx, nil
	}
	return store.WithAudit(ctx, func(stored any) ([]*audit.Event, error) {
		if err := s.step(what + " audit events"); err != nil {
			return nil, err
		}
		return f(stored)
	}), nil
}

func (s *Store) CreateTenant(ctx context.Context, t store.Tenant) error {
	ctx, err := s.audited(ctx, "CreateTenant")
	if err != nil {
		return err
	}
	return s.Store.CreateTenant(ctx, t)
}

func (s *Store) UpdateTenant(ctx context.Context, id string, fn func(*store.Tenant) error) error {
	ctx, err := s.audited(ctx, "UpdateTenant")
	if err != nil {
		return err
	}
	return s.Store.UpdateTenant(ctx, id, fn)
}

func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	ctx, err := s.audited(ctx, "CreateUser")
	if err != nil {
		return err
	}
	return s.Store.CreateUser(ctx, u)
}

func (s *Store) UpdateUser(ctx context.Context, tenantID, id string, fn func(*store.User) error) error {
	ctx, err := s.audited(ctx, "UpdateUser")
	if err != nil {
		return err
	}
	return s.Store.UpdateUser(ctx, tenantID, id, fn)
}

func (s *Store) RegisterDevice(ctx context.Context, d store.Device) (*store.Device, error) {
	ctx, err := s.audited(ctx, "RegisterDevice")
	if err != nil {
		return nil, err
	}
	return s.Store.RegisterDevice(ctx, d)
}

func (s *Store) UpdateDevice(ctx context.Context, id string, fn func(*store.Device) error) error {
	ctx, err := s.audited(ctx, "UpdateDevice")
	if err != nil {
		return err
	}
	return s.Store.UpdateDevice(ctx, id, fn)
}

func (s *Store) Enqueue(ctx context.Context, cmds ...store.Command) error {
	if err := s.step("Enqueue"); err != nil {
		return err
	}
	return s.Store.Enqueue(ctx, cmds...)
}

func (s *Store) AppendAudit(ctx context.Context, events ...*audit.Event) error {
	if err := s.step("AppendAudit"); err != nil {
		return err
	}
	return s.Store.AppendAudit(ctx, events...)
}

func (s *Store) CreateToken(ctx context.Context, t store.AdminToken) error {
	ctx, err := s.audited(ctx, "CreateToken")
	if err != nil {
		return err
	}
	return s.Store.CreateToken(ctx, t)
}

func (s *Store) PutConfig(ctx context.Context, key string, value []byte) error {
	if err := s.step("PutConfig"); err != nil {
		return err
	}
	return s.Store.PutConfig(ctx, key, value)
}

func (s *Store) PutConfigIfAbsent(ctx context.Context, key string, value []byte) ([]byte, error) {
	if err := s.step("PutConfigIfAbsent"); err != nil {
		return nil, err
	}
	return s.Store.PutConfigIfAbsent(ctx, key, value)
}

func (s *Store) RecordFailedSignIn(ctx context.Context, key string, now time.Time, window time.Duration) (int, time.Time, error) {
	if err := s.step("RecordFailedSignIn"); err != nil {
		return 0, time.Time{}, err
	}
	return s.Store.RecordFailedSignIn(ctx, key, now, window)
}

func (s *Store) ResetFailedSignIns(ctx context.Context, key string) error {
	if err := s.step("ResetFailedSignIns"); err != nil {
		return err
	}
	return s.Store.ResetFailedSignIns(ctx, key)
}

func (s *Store) CreateGroup(ctx context.Context, g store.Group) error {
	ctx, err := s.audited(ctx, "CreateGroup")
	if err != nil {
		return err
	}
	return s.Store.CreateGroup(ctx, g)
}

func (s *Store) DeleteGroup(ctx context.Context, tenantID, id string) error {
	ctx, err := s.audited(ctx, "DeleteGroup")
	if err != nil {
		return err
	}
	return s.Store.DeleteGroup(ctx, tenantID, id)
}

func (s *Store) AddMembers(ctx context.Context, tenantID, groupID string, members ...store.Member) error {
	ctx, err := s.audited(ctx, "AddMembers")
	if err != nil {
		return err
	}
	return s.Store.AddMembers(ctx, tenantID, groupID, members...)
}

func (s *Store) RemoveMember(ctx context.Context, tenantID, groupID string, m store.Member) error {
	ctx, err := s.audited(ctx, "RemoveMember")
	if err != nil {
		return err
	}
	return s.Store.RemoveMember(ctx, tenantID, groupID, m)
}

func (s *Store) CreateProfile(ctx context.Context, p store.Profile) error {
	ctx, err := s.audited(ctx, "CreateProfile")
	if err != nil {
		return err
	}
	return s.Store.CreateProfile(ctx, p)
}

func (s *Store) UpdateProfile(ctx context.Context, tenantID, id string, fn func(*store.Profile) error) error {
	ctx, err := s.audited(ctx, "UpdateProfile")
	if err != nil {
		return err
	}
	return s.Store.UpdateProfile(ctx, tenantID, id, fn)
}

func (s *Store) DeleteProfile(ctx context.Context, tenantID, id string) error {
	ctx, err := s.audited(ctx, "DeleteProfile")
	if err != nil {
		return err
	}
	return s.Store.DeleteProfile(ctx, tenantID, id)
}

func (s *Store) SetAssignments(ctx context.Context, tenantID, profileID string, as []store.Assignment) error {
	ctx, err := s.audited(ctx, "SetAssignments")
	if err != nil {
		return err
	}
	return s.Store.SetAssignments(ctx, tenantID, profileID, as)
}

func (s *Store) DropAuditSegments(ctx context.Context, tenantID string, before time.Time, record func(dropped uint64, upTo audit.Anchor) (*audit.Event, error)) (audit.Anchor, error) {
	if err := s.step("DropAuditSegments"); err != nil {
		return audit.Anchor{}, err
	}
	return s.Store.DropAuditSegments(ctx, tenantID, before, record)
}

// Checkin counts the call, then every write of the transaction, as steps.
func (s *Store) Checkin(ctx context.Context, deviceID string, fn func(tx store.DeviceTx) error) error {
	if err := s.step("Checkin"); err != nil {
		return err
	}
	return s.Store.Checkin(ctx, deviceID, func(tx store.DeviceTx) error {
		return fn(&deviceTx{DeviceTx: tx, s: s})
	})
}

// deviceTx counts the writes of one Checkin transaction.
type deviceTx struct {
	store.DeviceTx
	s *Store
}

func (t *deviceTx) PutDevice(d store.Device) error {
	if err := t.s.step("PutDevice"); err != nil {
		return err
	}
	return t.DeviceTx.PutDevice(d)
}

func (t *deviceTx) PutSession(x store.Session) error {
	if err := t.s.step("PutSession"); err != nil {
		return err
	}
	return t.DeviceTx.PutSession(x)
}

func (t *deviceTx) PutCommand(c store.Command) error {
	if err := t.s.step("PutCommand"); err != nil {
		return err
	}
	return t.DeviceTx.PutCommand(c)
}

func (t *deviceTx) Enqueue(cmds ...store.Command) error {
	if err := t.s.step("Enqueue in check-in"); err != nil {
		return err
	}
	return t.DeviceTx.Enqueue(cmds...)
}

func (t *deviceTx) Audit(events ...*audit.Event) error {
	if err := t.s.step("Audit in check-in"); err != nil {
		return err
	}
	return t.DeviceTx.Audit(events...)
}

func (t *deviceTx) PutSettingState(x store.SettingState) error {
	if err := t.s.step("PutSettingState"); err != nil {
		return err
	}
	return t.DeviceTx.PutSettingState(x)
}

func (t *deviceTx) DeleteSettingState(locURI string) error {
	if err := t.s.step("DeleteSettingState"); err != nil {
		return err
	}
	return t.DeviceTx.DeleteSettingState(locURI)
}

func (t *deviceTx) PutDevicePolicy(p store.DevicePolicy) error {
	if err := t.s.step("PutDevicePolicy"); err != nil {
		return err
	}
	return t.DeviceTx.PutDevicePolicy(p)
}
