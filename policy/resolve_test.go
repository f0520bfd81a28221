package policy

import (
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/csp"
	"github.com/hellomdm/hellomdm/policy/model"
)

const tenantID = "6f1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"

const (
	pinURI  = "./Device/Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery"
	pinReal = "./Device/Vendor/MSFT/PassportForWork/" + tenantID + "/Policies/EnablePinRecovery"
	webURI  = "./Device/Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls"
)

func prof(id string, settings ...model.ProfileSetting) model.Profile {
	return model.Profile{TenantID: tenantID, ID: id, Kind: model.ProfileCustom, Name: id, Version: 1, Settings: settings}
}

func set(uri, format, value string) model.ProfileSetting {
	return model.ProfileSetting{LocURI: uri, Format: format, Value: value}
}

func grp(id string) model.Assignment { return model.Assignment{Target: model.TargetGroup, GroupID: id} }
func excl(id string) model.Assignment {
	return model.Assignment{Target: model.TargetExclusionGroup, GroupID: id}
}

var (
	allDevices  = model.Assignment{Target: model.TargetAllDevices}
	allLicensed = model.Assignment{Target: model.TargetAllLicensedUsers}
	modernOS    = "10.0.22631.3007"
)

func dev(id, user string) DeviceInfo {
	return DeviceInfo{ID: id, UserID: user, OSVersion: modernOS, OSEdition: csp.EditionEnterprise}
}

func TestResolve(t *testing.T) {
	cat := csp.Default()
	members := map[string][]model.Member{
		"g-devices": {{Kind: model.MemberDevice, ID: "d1"}},
		"g-users":   {{Kind: model.MemberUser, ID: "u1"}},
		"g-outer":   {{Kind: model.MemberGroup, ID: "g-inner"}},
		"g-inner":   {{Kind: model.MemberGroup, ID: "g-users"}},
		"g-excl":    {{Kind: model.MemberDevice, ID: "d1"}},
	}
	tests := []struct {
		name     string
		profiles []model.Profile
		assign   map[string][]model.Assignment
		device   DeviceInfo
		desired  []string // "uri=value<-sources"
		conflict []string // uri
		na       []string // uri
	}{
		{name: "device group include", profiles: []model.Profile{prof("p1", set(pinURI, "bool", "true"))},
			assign: map[string][]model.Assignment{"p1": {grp("g-devices")}}, device: dev("d1", ""),
			desired: []string{pinReal + "=true<-p1"}},
		{name: "not a member", profiles: []model.Profile{prof("p1", set(pinURI, "bool", "true"))},
			assign: map[string][]model.Assignment{"p1": {grp("g-devices")}}, device: dev("d2", "")},
		{name: "user group through the enrolled user", profiles: []model.Profile{prof("p1", set(pinURI, "bool", "true"))},
			assign: map[string][]model.Assignment{"p1": {grp("g-users")}}, device: dev("d9", "u1"),
			desired: []string{pinReal + "=true<-p1"}},
		{name: "nested groups", profiles: []model.Profile{prof("p1", set(pinURI, "bool", "true"))},
			assign: map[string][]model.Assignment{"p1": {grp("g-outer")}}, device: dev("d9", "u1"),
			desired: []string{pinReal + "=true<-p1"}},
		{name: "exclusion beats inclusion", profiles: []model.Profile{prof("p1", set(pinURI, "bool", "true"))},
			assign: map[string][]model.Assignment{"p1": {allDevices, excl("g-excl")}}, device: dev("d1", "")},
		{name: "all devices", profiles: []model.Profile{prof("p1", set(pinURI, "bool", "true"))},
			assign: map[string][]model.Assignment{"p1": {allDevices}}, device: dev("d7", ""),
			desired: []string{pinReal + "=true<-p1"}},
		{name: "all licensed users: enrolled user exists", profiles: []model.Profile{prof("p1", set(pinURI, "bool", "true"))},
			assign: map[string][]model.Assignment{"p1": {allLicensed}}, device: dev("d7", "u1"),
			desired: []string{pinReal + "=true<-p1"}},
		{name: "all licensed users: device enrollment", profiles: []model.Profile{prof("p1", set(pinURI, "bool", "true"))},
			assign: map[string][]model.Assignment{"p1": {allLicensed}}, device: dev("d7", "")},
		{name: "all licensed users: unknown user", profiles: []model.Profile{prof("p1", set(pinURI, "bool", "true"))},
			assign: map[string][]model.Assignment{"p1": {allLicensed}}, device: dev("d7", "ghost")},
		{name: "unassigned profile", profiles: []model.Profile{prof("p1", set(pinURI, "bool", "true"))}, device: dev("d1", "")},
		{name: "same value from two profiles merges sources",
			profiles: []model.Profile{prof("p2", set(pinURI, "bool", "true")), prof("p1", set(pinURI, "bool", "true"))},
			assign:   map[string][]model.Assignment{"p1": {allDevices}, "p2": {grp("g-devices")}}, device: dev("d1", ""),
			desired: []string{pinReal + "=true<-p1,p2"}},
		{name: "conflict", profiles: []model.Profile{prof("p1", set(pinURI, "bool", "true")), prof("p2", set(pinURI, "bool", "false"))},
			assign: map[string][]model.Assignment{"p1": {allDevices}, "p2": {allDevices}}, device: dev("d1", ""),
			conflict: []string{pinReal}},
		{name: "canonical forms are one node",
			profiles: []model.Profile{prof("p1", set("./Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls", "chr", "a.com")), prof("p2", set(webURI, "chr", "b.com"))},
			assign:   map[string][]model.Assignment{"p1": {allDevices}, "p2": {allDevices}}, device: dev("d1", ""),
			conflict: []string{webURI}},
		{name: "tenant placeholder filled", profiles: []model.Profile{prof("p1", set(pinURI, "bool", "true"))},
			assign: map[string][]model.Assignment{"p1": {allDevices}}, device: dev("d1", ""),
			desired: []string{pinReal + "=true<-p1"}},
		{name: "EnablePinRecovery needs 10.0.15063", profiles: []model.Profile{prof("p1", set(pinURI, "bool", "true"))},
			assign: map[string][]model.Assignment{"p1": {allDevices}}, device: DeviceInfo{ID: "d1", OSVersion: "10.0.14393.0", OSEdition: 4},
			na: []string{pinReal}},
		{name: "EnablePinRecovery on 10.0.15063", profiles: []model.Profile{prof("p1", set(pinURI, "bool", "true"))},
			assign: map[string][]model.Assignment{"p1": {allDevices}}, device: DeviceInfo{ID: "d1", OSVersion: "10.0.15063", OSEdition: 4},
			desired: []string{pinReal + "=true<-p1"}},
		{name: "web sign-in URLs need 10.0.17134.2145", profiles: []model.Profile{prof("p1", set(webURI, "chr", "a.com"))},
			assign: map[string][]model.Assignment{"p1": {allDevices}}, device: DeviceInfo{ID: "d1", OSVersion: "10.0.17134.2144", OSEdition: 4},
			na: []string{webURI}},
		{name: "web sign-in URLs not on Home", profiles: []model.Profile{prof("p1", set(webURI, "chr", "a.com"))},
			assign: map[string][]model.Assignment{"p1": {allDevices}}, device: DeviceInfo{ID: "d1", OSVersion: modernOS, OSEdition: csp.EditionHome},
			na: []string{webURI}},
		{name: "uncatalogued node passes through", profiles: []model.Profile{prof("p1", set("./Device/Vendor/MSFT/Policy/Config/Start/HideShutDown", "int", "1"))},
			assign: map[string][]model.Assignment{"p1": {allDevices}}, device: DeviceInfo{ID: "d1", OSVersion: "6.1", OSEdition: 101},
			desired: []string{"./Device/Vendor/MSFT/Policy/Config/Start/HideShutDown=1<-p1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := NewSnapshot(model.PolicySnapshot{TenantID: tenantID, Version: 3, Members: members, Profiles: tt.profiles, Assignments: tt.assign, UserIDs: []string{"u1"}}, cat)
			res := Resolve(snap, cat, tt.device)
			var desired, conflict, na []string
			for _, d := range res.Desired {
				desired = append(desired, d.LocURI+"="+d.Value+"<-"+strings.Join(d.Sources, ","))
			}
			for _, c := range res.Conflicts {
				conflict = append(conflict, c.LocURI)
			}
			for _, n := range res.NotApplicable {
				na = append(na, n.LocURI)
				if n.Reason == "" {
					t.Errorf("not applicable %s without a reason", n.LocURI)
				}
			}
			check := func(what string, got, want []string) {
				if strings.Join(got, "|") != strings.Join(want, "|") {
					t.Errorf("%s = %v, want %v", what, got, want)
				}
			}
			check("desired", desired, tt.desired)
			check("conflicts", conflict, tt.conflict)
			check("notApplicable", na, tt.na)
		})
	}
}
