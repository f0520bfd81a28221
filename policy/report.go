package policy

import (
	"context"
	"fmt"
	"slices"

	"github.com/hellomdm/hellomdm/policy/model"
)

// states is the order reports list setting states in.
var states = []string{model.SettingSucceeded, model.SettingPending, model.SettingError, model.SettingConflict, model.SettingNotApplicable, model.SettingRemoved}

// States returns the setting states in the order reports list them.
func States() []string { return slices.Clone(states) }

// DeviceSettings is one device's settings that a profile contributes to.
type DeviceSettings struct {
	DeviceID string               `json:"deviceId"`
	Settings []model.SettingState `json:"settings"`
}

// ProfileStatus is a profile's deployment status: counts of device settings by state, and
// every device with its settings from the profile.
type ProfileStatus struct {
	ProfileID string           `json:"profileId"`
	Counts    map[string]int   `json:"counts"`
	Devices   []DeviceSettings `json:"devices"`
}

// StateLister streams a tenant's setting states (store.PolicyReads.ListSettingStates).
type StateLister interface {
	ListSettingStates(ctx context.Context, tenantID string, fn func(model.SettingState) (bool, error)) error
}

// ProfileReport summarises the settings the profile is a source of, over the tenant's
// devices. Memory grows with the profile's devices, not with the tenant.
func ProfileReport(ctx context.Context, src StateLister, tenantID, profileID string) (ProfileStatus, error) {
	ps := ProfileStatus{ProfileID: profileID, Counts: map[string]int{}}
	for _, s := range states {
		ps.Counts[s] = 0
	}
	err := src.ListSettingStates(ctx, tenantID, func(s model.SettingState) (bool, error) {
		if !slices.Contains(s.Sources, profileID) {
			return true, nil
		}
		ps.Counts[s.State]++
		if n := len(ps.Devices); n == 0 || ps.Devices[n-1].DeviceID != s.DeviceID {
			ps.Devices = append(ps.Devices, DeviceSettings{DeviceID: s.DeviceID})
		}
		d := &ps.Devices[len(ps.Devices)-1]
		d.Settings = append(d.Settings, s)
		return true, nil
	})
	if err != nil {
		return ProfileStatus{}, fmt.Errorf("reporting profile %s: %w", profileID, err)
	}
	return ps, nil
}

// DeviceStatus is one device's policy: the profiles its settings come from and each setting.
type DeviceStatus struct {
	DeviceID string               `json:"deviceId"`
	Profiles []string             `json:"profiles"`
	Counts   map[string]int       `json:"counts"`
	Settings []model.SettingState `json:"settings"`
}

// DeviceStates lists one device's setting states (store.PolicyReads.SettingStates).
type DeviceStates interface {
	SettingStates(ctx context.Context, deviceID string) ([]model.SettingState, error)
}

// DeviceReport summarises one device's settings.
func DeviceReport(ctx context.Context, src DeviceStates, deviceID string) (DeviceStatus, error) {
	list, err := src.SettingStates(ctx, deviceID)
	if err != nil {
		return DeviceStatus{}, fmt.Errorf("reporting device %s: %w", deviceID, err)
	}
	ds := DeviceStatus{DeviceID: deviceID, Profiles: []string{}, Counts: map[string]int{}, Settings: list}
	for _, s := range states {
		ds.Counts[s] = 0
	}
	for _, s := range list {
		ds.Counts[s.State]++
		for _, p := range s.Sources {
			if !slices.Contains(ds.Profiles, p) {
				ds.Profiles = append(ds.Profiles, p)
			}
		}
	}
	slices.Sort(ds.Profiles)
	return ds, nil
}
