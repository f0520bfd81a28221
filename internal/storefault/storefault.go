// Package storefault wraps a store.Store so that a test can make its writes fail from a
// chosen step on, as a disk filling up or a database going away in the middle of an action
// would. Tests use it to show that an action's writes commit together or not at all.
//
// A step is one write call (RegisterDevice, UpdateDevice, AppendAudit, Write, Checkin, ...),
// one write inside a Write or Checkin transaction (a change of the store.Writer; PutDevice,
// PutCommand, Audit, ... of the store.DeviceTx), and the appending of a Write's audit events
// (Writer.Audit, named after the change before it: "RegisterDevice audit events"). Failing a
// step inside a transaction therefore fails it between the change and its audit record, and
// the backend must roll both back.
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

// Write counts the call, then every change and every Audit of the transaction, as steps.
func (s *Store) Write(ctx context.Context, fn func(w store.Writer) error) error {
	if err := s.step("Write"); err != nil {
		return err
	}
	return s.Store.Write(ctx, func(w store.Writer) error {
		return fn(&writer{Writer: w, s: s})
	})
}

// writer counts the changes and appends of one Write transaction; last names the change
// before an Audit.
type writer struct {
	store.Writer
	s    *Store
	last string
}

// change counts one change of the transaction.
func (w *writer) change(what string) error {
	w.last = what
	return w.s.step(what)
}

func (w *writer) Audit(events ...*audit.Event) error {
	what := "audit events"
	if w.last != "" {
		what = w.last + " " + what
	}
	if err := w.s.step(what); err != nil {
		return err
	}
	return w.Writer.Audit(events...)
}

func (w *writer) CreateTenant(t store.Tenant) (store.Tenant, error) {
	if err := w.change("CreateTenant"); err != nil {
		return store.Tenant{}, err
	}
	return w.Writer.CreateTenant(t)
}

func (w *writer) UpdateTenant(id string, fn func(*store.Tenant) error) (store.Tenant, error) {
	if err := w.change("UpdateTenant"); err != nil {
		return store.Tenant{}, err
	}
	return w.Writer.UpdateTenant(id, fn)
}

func (w *writer) DeleteTenant(id string) (store.Tenant, error) {
	if err := w.change("DeleteTenant"); err != nil {
		return store.Tenant{}, err
	}
	return w.Writer.DeleteTenant(id)
}

func (w *writer) CreateUser(u store.User) (store.User, error) {
	if err := w.change("CreateUser"); err != nil {
		return store.User{}, err
	}
	return w.Writer.CreateUser(u)
}

func (w *writer) UpdateUser(tenantID, id string, fn func(*store.User) error) (store.User, error) {
	if err := w.change("UpdateUser"); err != nil {
		return store.User{}, err
	}
	return w.Writer.UpdateUser(tenantID, id, fn)
}

func (w *writer) DeleteUser(tenantID, id string) (store.User, error) {
	if err := w.change("DeleteUser"); err != nil {
		return store.User{}, err
	}
	return w.Writer.DeleteUser(tenantID, id)
}

func (w *writer) RegisterDevice(d store.Device) (store.DeviceRegistration, error) {
	if err := w.change("RegisterDevice"); err != nil {
		return store.DeviceRegistration{}, err
	}
	return w.Writer.RegisterDevice(d)
}

func (w *writer) UpdateDevice(id string, fn func(*store.Device) error) (store.Device, error) {
	if err := w.change("UpdateDevice"); err != nil {
		return store.Device{}, err
	}
	return w.Writer.UpdateDevice(id, fn)
}

func (w *writer) CreateToken(t store.AdminToken) (store.AdminToken, error) {
	if err := w.change("CreateToken"); err != nil {
		return store.AdminToken{}, err
	}
	return w.Writer.CreateToken(t)
}

func (w *writer) DeleteToken(id string) (store.AdminToken, error) {
	if err := w.change("DeleteToken"); err != nil {
		return store.AdminToken{}, err
	}
	return w.Writer.DeleteToken(id)
}

func (w *writer) CreateGroup(g store.Group) (store.Group, error) {
	if err := w.change("CreateGroup"); err != nil {
		return store.Group{}, err
	}
	return w.Writer.CreateGroup(g)
}

func (w *writer) DeleteGroup(tenantID, id string) error {
	if err := w.change("DeleteGroup"); err != nil {
		return err
	}
	return w.Writer.DeleteGroup(tenantID, id)
}

func (w *writer) AddMembers(tenantID, groupID string, members ...store.Member) error {
	if err := w.change("AddMembers"); err != nil {
		return err
	}
	return w.Writer.AddMembers(tenantID, groupID, members...)
}

func (w *writer) RemoveMember(tenantID, groupID string, m store.Member) error {
	if err := w.change("RemoveMember"); err != nil {
		return err
	}
	return w.Writer.RemoveMember(tenantID, groupID, m)
}

func (w *writer) CreateProfile(p store.Profile) (store.Profile, error) {
	if err := w.change("CreateProfile"); err != nil {
		return store.Profile{}, err
	}
	return w.Writer.CreateProfile(p)
}

func (w *writer) UpdateProfile(tenantID, id string, fn func(*store.Profile) error) (store.Profile, error) {
	if err := w.change("UpdateProfile"); err != nil {
		return store.Profile{}, err
	}
	return w.Writer.UpdateProfile(tenantID, id, fn)
}

func (w *writer) DeleteProfile(tenantID, id string) error {
	if err := w.change("DeleteProfile"); err != nil {
		return err
	}
	return w.Writer.DeleteProfile(tenantID, id)
}

func (w *writer) SetAssignments(tenantID, profileID string, as []store.Assignment) ([]store.Assignment, error) {
	if err := w.change("SetAssignments"); err != nil {
		return nil, err
	}
	return w.Writer.SetAssignments(tenantID, profileID, as)
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

// The one-call admin writes are one step each (their change runs in the wrapped store's
// own Write, unseen).

func (s *Store) CreateTenant(ctx context.Context, t store.Tenant) error {
	if err := s.step("CreateTenant"); err != nil {
		return err
	}
	return s.Store.CreateTenant(ctx, t)
}

func (s *Store) UpdateTenant(ctx context.Context, id string, fn func(*store.Tenant) error) error {
	if err := s.step("UpdateTenant"); err != nil {
		return err
	}
	return s.Store.UpdateTenant(ctx, id, fn)
}

func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	if err := s.step("CreateUser"); err != nil {
		return err
	}
	return s.Store.CreateUser(ctx, u)
}

func (s *Store) UpdateUser(ctx context.Context, tenantID, id string, fn func(*store.User) error) error {
	if err := s.step("UpdateUser"); err != nil {
		return err
	}
	return s.Store.UpdateUser(ctx, tenantID, id, fn)
}

func (s *Store) RegisterDevice(ctx context.Context, d store.Device) (*store.Device, error) {
	if err := s.step("RegisterDevice"); err != nil {
		return nil, err
	}
	return s.Store.RegisterDevice(ctx, d)
}

func (s *Store) UpdateDevice(ctx context.Context, id string, fn func(*store.Device) error) error {
	if err := s.step("UpdateDevice"); err != nil {
		return err
	}
	return s.Store.UpdateDevice(ctx, id, fn)
}

func (s *Store) CreateToken(ctx context.Context, t store.AdminToken) error {
	if err := s.step("CreateToken"); err != nil {
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
	if err := s.step("CreateGroup"); err != nil {
		return err
	}
	return s.Store.CreateGroup(ctx, g)
}

func (s *Store) DeleteGroup(ctx context.Context, tenantID, id string) error {
	if err := s.step("DeleteGroup"); err != nil {
		return err
	}
	return s.Store.DeleteGroup(ctx, tenantID, id)
}

func (s *Store) AddMembers(ctx context.Context, tenantID, groupID string, members ...store.Member) error {
	if err := s.step("AddMembers"); err != nil {
		return err
	}
	return s.Store.AddMembers(ctx, tenantID, groupID, members...)
}

func (s *Store) RemoveMember(ctx context.Context, tenantID, groupID string, m store.Member) error {
	if err := s.step("RemoveMember"); err != nil {
		return err
	}
	return s.Store.RemoveMember(ctx, tenantID, groupID, m)
}

func (s *Store) CreateProfile(ctx context.Context, p store.Profile) error {
	if err := s.step("CreateProfile"); err != nil {
		return err
	}
	return s.Store.CreateProfile(ctx, p)
}

func (s *Store) UpdateProfile(ctx context.Context, tenantID, id string, fn func(*store.Profile) error) error {
	if err := s.step("UpdateProfile"); err != nil {
		return err
	}
	return s.Store.UpdateProfile(ctx, tenantID, id, fn)
}

func (s *Store) DeleteProfile(ctx context.Context, tenantID, id string) error {
	if err := s.step("DeleteProfile"); err != nil {
		return err
	}
	return s.Store.DeleteProfile(ctx, tenantID, id)
}

func (s *Store) SetAssignments(ctx context.Context, tenantID, profileID string, as []store.Assignment) error {
	if err := s.step("SetAssignments"); err != nil {
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
