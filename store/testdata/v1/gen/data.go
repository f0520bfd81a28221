//go:build ignore

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/storetest"
	"github.com/hellomdm/hellomdm/syncml"
)

// The fixture's identifiers and times. Everything the store lets a caller choose is fixed
// here, so that both backends hold the same records.
const (
	t1 = "6f2c1a3e-0b1d-4c5e-9a7f-0c0a7c0a7c01" // Contoso: federated, domains, scope tags, return URIs, consents
	t2 = "0fab41ca-2e3d-4b5c-8d9e-0fab41ca0002" // Fabrikam: on-premise, gov cloud

	devAlice   = "contoso-dev-alice"   // enrolled, renewed once; most commands and the sessions
	devCarol   = "contoso-dev-carol"   // re-enrolled: its first serial is revoked
	devRetired = "contoso-dev-retired" // retired: its serial is revoked
	devDave    = "fabrikam-dev-dave"   // enrolled in the second tenant

	pinURI      = "./Device/Vendor/MSFT/PassportForWork/" + t1 + "/Policies/EnablePinRecovery"
	webSignIn   = "./Device/Vendor/MSFT/Policy/Config/Authentication/EnableWebSignIn"
	allowedURLs = "./Device/Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls"
	autofill    = "./Device/Vendor/MSFT/Policy/Config/Browser/AllowAutofill"
	cortana     = "./Device/Vendor/MSFT/Policy/Config/Experience/AllowCortana"
	activeEnd   = "./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursEnd"
	defenderRTM = "./Device/Vendor/MSFT/Policy/Config/Defender/AllowRealtimeMonitoring"
)

var (
	tJan   = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)   // directory set up
	tFeb   = time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC)   // 1,000 old sign-in events start
	tCut   = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)   // retention cut-off
	tNov   = time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC) // profiles, enrollments
	tCheck = time.Date(2026, 11, 20, 8, 0, 0, 0, time.UTC) // check-ins
	tNow   = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) // the fixture's "now"
)

// secrets are the config values that cannot be derived (generated keys): made once, written
// to both backends.
type secrets struct {
	caBundle, caCert        []byte
	signingKey1, pinResetK1 []byte
	signingKey2, cookieKey  []byte
}

// clock is the store's and the audit log's clock: it stands still until set, so each
// backend stamps the same times whatever number of calls it makes.
type clock struct{ t time.Time }

func (c *clock) Now() time.Time  { return c.t }
func (c *clock) set(t time.Time) { c.t = t }

// gen writes the dataset into one store.
type gen struct {
	ctx context.Context
	st  store.Store
	clk *clock
	log *audit.Log
	// seed is the part of the manifest that names what has no list method (config keys,
	// revoked serials, sessions, sign-in keys, redemptions, idempotency records).
	seed *storetest.FixtureV1
}

func tokenHash(secret string) string {
	s := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(s[:])
}

func adminActor(tokenID string) audit.Actor {
	return audit.Actor{Type: audit.ActorAdmin, ID: "fixture-admin", TokenID: tokenID, Role: store.RoleAdmin, SourceAddr: "192.0.2.10"}
}

// event prepares an event of the tenant's chain at the clock's time.
func (g *gen) event(tenantID string, kind audit.Kind, actor audit.Actor, subjType, subjID, deviceID, action string, details any) *audit.Event {
	e := audit.Event{TenantID: tenantID, Kind: kind, Actor: actor, Subject: audit.Subject{Type: subjType, ID: subjID},
		DeviceID: deviceID, Action: action}
	if details != nil {
		d, err := audit.Details(details)
		must(err)
		e.Details = d
	}
	p, err := g.log.Prepare(e)
	must(err)
	return p
}

// audited returns ctx carrying an AuditFunc (store.WithAudit) recording an admin write.
func (g *gen) audited(tenantID, action, subjType, subjID string) context.Context {
	return store.WithAudit(g.ctx, func(stored any) ([]*audit.Event, error) {
		return []*audit.Event{g.event(tenantID, audit.KindAdminWrite, adminActor("tok-bootstrap"), subjType, subjID, "", action,
			map[string]any{"object": subjID})}, nil
	})
}

func must(err error) {
	if err != nil {
		panic(err)
	}
}

func mustT(_ any, err error) { must(err) }

// populate writes the whole dataset.
func (g *gen) populate(sec secrets) {
	ctx := g.ctx
	st := g.st
	seed := &storetest.FixtureV1{}
	g.seed = seed

	// --- Directory, January.
	g.clk.set(tJan)
	must(st.CreateTenant(g.audited(t1, "create", audit.SubjectTenant, t1), store.Tenant{
		ID: t1, DisplayName: "Contoso Fixture", VerifiedDomains: []string{"contoso.example", "corp.contoso.example"},
		AuthPolicy: store.AuthFederated, FederationHost: "sts.contoso.example", ScopeTags: []string{"0", "7"},
	}))
	must(st.CreateTenant(g.audited(t2, "create", audit.SubjectTenant, t2), store.Tenant{
		ID: t2, DisplayName: "Fabrikam Fixture", VerifiedDomains: []string{"fabrikam.example"},
		AuthPolicy: store.AuthOnPremise, GovCloud: true,
	}))
	g.clk.set(tJan.Add(time.Hour))
	consentS, consentC := tJan.Add(30*time.Minute), tJan.Add(40*time.Minute)
	must(st.UpdateTenant(g.audited(t1, "update", audit.SubjectTenant, t1), t1, func(t *store.Tenant) error {
		t.EnrollmentReturnURIs = []string{"https://portal.contoso.example/enrolled"}
		t.PinResetServiceConsentAt, t.PinResetClientConsentAt = &consentS, &consentC
		return nil
	}))

	users := []store.User{
		{TenantID: t1, ID: "u-alice", UPN: "Alice@contoso.example", DisplayName: "Alice Fixture",
			PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$Zml4dHVyZWFsaWNlc2FsdA$8Q1fQ4Bv1l3qZk9XnR0p3o4YtqVvM0mJd9K2bWc7s1E",
			TOTPSecret:   []byte("12345678901234567890"), ScopeTags: []string{"7"}},
		{TenantID: t1, ID: "u-bob", UPN: "bob@contoso.example", DisplayName: "Bob Disabled",
			PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$Zml4dHVyZWJvYnNhbHQ$yJ0Zs2m5v6dQkq8pXbW3c4Rr1aUe9tLfN7oH2iMgK0Y"},
		{TenantID: t1, ID: "u-carol", UPN: "carol@corp.contoso.example", DisplayName: "Carol Fixture",
			PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$Zml4dHVyZWNhcm9sc2FsdA$Lr3mV0cX9s2kJq7Wb1eT6yUo4iPa8dFg5hZn3QwE2tY"},
		{TenantID: t2, ID: "u-dave", UPN: "dave@fabrikam.example", DisplayName: "Dave Fixture",
			PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$Zml4dHVyZWRhdmVzYWx0$Qw8eR5tY2uI9oP3aS6dF1gH4jK7lZ0xC5vB8nM2qW1E"},
	}
	for _, u := range users {
		must(st.CreateUser(g.audited(u.TenantID, "create", audit.SubjectUser, u.ID), u))
	}
	must(st.UpdateUser(g.audited(t1, "update", audit.SubjectUser, "u-bob"), t1, "u-bob", func(u *store.User) error {
		u.Disabled = true
		return nil
	}))
	must(st.UpdateUser(g.audited(t1, "update", audit.SubjectUser, "u-alice"), t1, "u-alice", func(u *store.User) error {
		u.TOTPLastStep = 59176320
		return nil
	}))

	tokens := []store.AdminToken{
		{ID: "tok-bootstrap", Hash: tokenHash("fixture bootstrap secret"), Name: "bootstrap", Role: store.RoleAdmin},
		{ID: "tok-contoso-op", Hash: tokenHash("fixture contoso operator secret"), Name: "contoso operator", Role: store.RoleOperator,
			TenantID: t1, ScopeTags: []string{"7"}, ExpiresAt: time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)},
		{ID: "tok-fabrikam-reader", Hash: tokenHash("fixture fabrikam reader secret"), Name: "fabrikam reader", Role: store.RoleReader, TenantID: t2},
		{ID: "tok-revoked", Hash: tokenHash("fixture revoked secret"), Name: "revoked later", Role: store.RoleAdmin, TenantID: t1},
	}
	for _, t := range tokens {
		tenant := t.TenantID
		if tenant == "" {
			tenant = t1
		}
		must(st.CreateToken(g.audited(tenant, "create", audit.SubjectToken, t.ID), t))
	}
	g.clk.set(tJan.Add(2 * time.Hour))
	mustT(st.DeleteToken(g.audited(t1, "delete", audit.SubjectToken, "tok-revoked"), "tok-revoked"))

	seed.Config = []storetest.FixtureConfig{
		{Key: "admin.bootstrapToken", Value: tokens[0].Hash},
		{Key: "ca/key", Value: string(sec.caBundle), Secret: true},
		{Key: "ca/cert", Value: string(sec.caCert), Secret: true},
		{Key: "secret/cookie-key", Value: string(sec.cookieKey), Secret: true},
		{Key: store.ConfigTenantPrefix(t1) + "signing-key", Value: string(sec.signingKey1), Secret: true},
		{Key: store.ConfigTenantPrefix(t1) + "pinreset-key", Value: string(sec.pinResetK1), Secret: true},
		{Key: store.ConfigTenantPrefix(t2) + "signing-key", Value: string(sec.signingKey2), Secret: true},
	}
	for _, c := range seed.Config {
		if c.Key == "ca/key" || c.Key == "ca/cert" {
			mustT(st.PutConfigIfAbsent(ctx, c.Key, []byte(c.Value)))
			continue
		}
		must(st.PutConfig(ctx, c.Key, []byte(c.Value)))
	}

	groups := []store.Group{
		{TenantID: t1, ID: "g-staff", DisplayName: "All staff", Description: "everyone at Contoso", ScopeTags: []string{"0"}},
		{TenantID: t1, ID: "g-eng", DisplayName: "Engineering", ScopeTags: []string{"7"}},
		{TenantID: t1, ID: "g-kiosk-excl", DisplayName: "Kiosk exclusions"},
		{TenantID: t2, ID: "g-fab-all", DisplayName: "Fabrikam users"},
	}
	for _, gr := range groups {
		must(st.CreateGroup(g.audited(gr.TenantID, "create", audit.SubjectGroup, gr.ID), gr))
	}
	must(st.AddMembers(g.audited(t1, "update", audit.SubjectGroup, "g-staff"), t1, "g-staff",
		store.Member{Kind: store.MemberUser, ID: "u-alice"}, store.Member{Kind: store.MemberUser, ID: "u-carol"},
		store.Member{Kind: store.MemberGroup, ID: "g-eng"}))
	must(st.AddMembers(g.audited(t1, "update", audit.SubjectGroup, "g-eng"), t1, "g-eng",
		store.Member{Kind: store.MemberUser, ID: "u-carol"}, store.Member{Kind: store.MemberUser, ID: "u-bob"}))
	must(st.RemoveMember(g.audited(t1, "update", audit.SubjectGroup, "g-eng"), t1, "g-eng", store.Member{Kind: store.MemberUser, ID: "u-bob"}))
	must(st.AddMembers(g.audited(t2, "update", audit.SubjectGroup, "g-fab-all"), t2, "g-fab-all", store.Member{Kind: store.MemberUser, ID: "u-dave"}))

	// --- 1,000 old events on Contoso's chain (sign-ins and refusals), so that its first
	// retention segment is complete and old enough to drop.
	var batch []*audit.Event
	for i := range 1000 {
		g.clk.set(tFeb.Add(time.Duration(i) * 7 * time.Minute))
		kind, action := audit.KindSignIn, "signin"
		if i%10 == 9 {
			kind, action = audit.KindAuthRefused, "refused"
		}
		batch = append(batch, g.event(t1, kind, audit.Actor{Type: audit.ActorUser, ID: "alice@contoso.example", SourceAddr: "198.51.100.7"},
			audit.SubjectUser, "u-alice", "", action, map[string]any{"n": i}))
		if len(batch) == 100 {
			must(st.AppendAudit(ctx, batch...))
			batch = nil
		}
	}

	// --- Profiles and assignments, November.
	g.clk.set(tNov)
	profiles := []store.Profile{
		{TenantID: t1, ID: "p-pin", Kind: store.ProfileSettingsCatalog, Name: "PIN recovery", ScopeTags: []string{"0"},
			Raw: json.RawMessage(`{"@odata.type":"#microsoft.graph.deviceManagementConfigurationPolicy","name":"PIN recovery","platforms":"windows10","technologies":"mdm","settings":[{"@odata.type":"#microsoft.graph.deviceManagementConfigurationSetting","settingInstance":{"@odata.type":"#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance","settingDefinitionId":"device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery","choiceSettingValue":{"value":"device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery_true","children":[]}}}]}`),
			Settings: []store.ProfileSetting{{DefinitionID: "device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery",
				LocURI: "./Device/Vendor/MSFT/PassportForWork/{TenantId}/Policies/EnablePinRecovery", Format: "bool", Value: "true"}}},
		{TenantID: t1, ID: "p-websignin", Kind: store.ProfileCustom, Name: "Web sign-in", ScopeTags: []string{"0"},
			Raw:      json.RawMessage(`{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"Web sign-in","omaSettings":[{"@odata.type":"#microsoft.graph.omaSettingInteger","displayName":"EnableWebSignIn","omaUri":"./Device/Vendor/MSFT/Policy/Config/Authentication/EnableWebSignIn","value":1}]}`),
			Settings: []store.ProfileSetting{{Name: "EnableWebSignIn", LocURI: webSignIn, Format: "int", Value: "1"}}},
		{TenantID: t1, ID: "p-browser", Kind: store.ProfileCustom, Name: "Browser", Description: "autofill off", ScopeTags: []string{"7"},
			Raw:      json.RawMessage(`{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"Browser","omaSettings":[{"@odata.type":"#microsoft.graph.omaSettingInteger","displayName":"AllowCortana","omaUri":"./Device/Vendor/MSFT/Policy/Config/Experience/AllowCortana","value":0}]}`),
			Settings: []store.ProfileSetting{{Name: "AllowCortana", LocURI: cortana, Format: "int", Value: "0"}}},
		{TenantID: t2, ID: "p-fab-defender", Kind: store.ProfileCustom, Name: "Defender", ScopeTags: []string{"0"},
			Raw:      json.RawMessage(`{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"Defender","omaSettings":[{"@odata.type":"#microsoft.graph.omaSettingInteger","displayName":"AllowRealtimeMonitoring","omaUri":"./Device/Vendor/MSFT/Policy/Config/Defender/AllowRealtimeMonitoring","value":1}]}`),
			Settings: []store.ProfileSetting{{Name: "AllowRealtimeMonitoring", LocURI: defenderRTM, Format: "int", Value: "1"}}},
	}
	for _, p := range profiles {
		must(st.CreateProfile(g.audited(p.TenantID, "create", audit.SubjectProfile, p.ID), p))
	}
	g.clk.set(tNov.Add(10 * time.Minute))
	must(st.UpdateProfile(g.audited(t1, "update", audit.SubjectProfile, "p-websignin"), t1, "p-websignin", func(p *store.Profile) error {
		p.Raw = json.RawMessage(`{"@odata.type":"#microsoft.graph.windows10CustomConfiguration","displayName":"Web sign-in","omaSettings":[{"@odata.type":"#microsoft.graph.omaSettingInteger","displayName":"EnableWebSignIn","omaUri":"./Device/Vendor/MSFT/Policy/Config/Authentication/EnableWebSignIn","value":1},{"@odata.type":"#microsoft.graph.omaSettingString","displayName":"AllowedUrls","omaUri":"./Device/Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls","value":"login.contoso.example"}]}`)
		p.Settings = append(p.Settings, store.ProfileSetting{Name: "AllowedUrls", LocURI: allowedURLs, Format: "chr", Value: "login.contoso.example"})
		return nil
	}))
	assignments := []struct {
		tenant, profile string
		as              []store.Assignment
	}{
		{t1, "p-pin", []store.Assignment{{Target: store.TargetGroup, GroupID: "g-staff"}, {Target: store.TargetExclusionGroup, GroupID: "g-kiosk-excl"}}},
		{t1, "p-websignin", []store.Assignment{{Target: store.TargetAllDevices}}},
		{t1, "p-browser", []store.Assignment{{Target: store.TargetGroup, GroupID: "g-eng"}}},
		{t2, "p-fab-defender", []store.Assignment{{Target: store.TargetAllLicensedUsers}}},
	}
	for _, a := range assignments {
		must(st.SetAssignments(g.audited(a.tenant, "assign", audit.SubjectAssignment, a.profile), a.tenant, a.profile, a.as))
	}

	// --- Enrollments.
	g.clk.set(tNov.Add(time.Hour))
	dev := func(id, tenant, user, upn, serial string) store.Device {
		return store.Device{ID: id, TenantID: tenant, HWDevID: "HW-" + id, UserID: user, UPN: upn, DeviceName: "PC-" + id,
			OSVersion: "10.0.26100.2605", OSEdition: 4, EnrollmentType: "Full", State: store.DeviceEnrolled,
			CertSerial: serial, CertThumbprint: fmt.Sprintf("%040X", sha256.Sum256([]byte(serial)))[:40],
			CertNotAfter: tNov.AddDate(1, 0, 0), EnrolledAt: g.clk.Now(),
			Nodes: map[string]string{"./DevInfo/Man": "Contoso Hardware", "./DevInfo/Mod": "Fixture 1"}, PolicyDirty: true}
	}
	enroll := func(d store.Device) {
		ctx := store.WithAudit(ctx, func(stored any) ([]*audit.Event, error) {
			r := stored.(store.DeviceRegistration)
			kind := audit.KindEnrolled
			return []*audit.Event{g.event(r.Device.TenantID, kind, audit.Actor{Type: audit.ActorDevice, ID: r.Device.ID, TokenID: r.Device.CertSerial},
				audit.SubjectDevice, r.Device.ID, r.Device.ID, "enroll", map[string]any{"reenrolled": r.Previous != nil})}, nil
		})
		mustT(st.RegisterDevice(ctx, d))
	}
	enroll(dev(devAlice, t1, "u-alice", "Alice@contoso.example", "1A2B3C04"))
	enroll(dev(devCarol, t1, "u-carol", "carol@corp.contoso.example", "1A2B3C01"))
	enroll(dev(devRetired, t1, "", "", "1A2B3C03"))
	enroll(dev(devDave, t2, "u-dave", "dave@fabrikam.example", "2F000001"))
	g.clk.set(tNov.Add(2 * time.Hour))
	enroll(dev(devCarol, t1, "u-carol", "carol@corp.contoso.example", "1A2B3C02")) // re-enrollment revokes 1A2B3C01
	must(st.UpdateDevice(store.WithAudit(ctx, func(stored any) ([]*audit.Event, error) {
		return []*audit.Event{g.event(t1, audit.KindRenewed, audit.Actor{Type: audit.ActorDevice, ID: devAlice, TokenID: "1A2B3C04"},
			audit.SubjectDevice, devAlice, devAlice, "renew", nil)}, nil
	}), devAlice, func(d *store.Device) error {
		d.CertSerial, d.CertThumbprint = "1A2B3C05", fmt.Sprintf("%040X", sha256.Sum256([]byte("1A2B3C05")))[:40]
		return nil
	})) // renewal revokes 1A2B3C04
	must(st.UpdateDevice(g.audited(t1, "retire", audit.SubjectDevice, devRetired), devRetired, func(d *store.Device) error {
		d.State = store.DeviceRetired
		return nil
	})) // retirement revokes 1A2B3C03
	seed.RevokedSerials = []string{"1A2B3C01", "1A2B3C03", "1A2B3C04"}
	must(st.AddMembers(g.audited(t1, "update", audit.SubjectGroup, "g-kiosk-excl"), t1, "g-kiosk-excl",
		store.Member{Kind: store.MemberDevice, ID: devRetired}))
	must(st.AddMembers(g.audited(t1, "update", audit.SubjectGroup, "g-eng"), t1, "g-eng",
		store.Member{Kind: store.MemberDevice, ID: devCarol}))

	// --- Commands, queued by policy and by admins.
	g.clk.set(tNov.Add(3 * time.Hour))
	item := func(uri, format, data string) syncml.Item {
		it := syncml.Item{Target: uri, Data: data}
		if format != "" {
			it.Meta = &syncml.Meta{Format: format}
		}
		return it
	}
	cmd := func(id, device, source string, p syncml.Command) store.Command {
		return store.Command{ID: id, DeviceID: device, Source: source, Payload: p, MaxAttempts: 3}
	}
	aliceCmds := []store.Command{
		cmd("c-replace-pin", devAlice, "policy:p-pin", syncml.Command{Verb: syncml.VerbReplace, Items: []syncml.Item{item(pinURI, "bool", "true")}}),
		cmd("c-get-pin", devAlice, "policy:p-pin", syncml.Command{Verb: syncml.VerbGet, Items: []syncml.Item{{Target: pinURI}}}),
		cmd("c-atomic-ok", devAlice, "policy:p-websignin", syncml.Command{Verb: syncml.VerbAtomic, Commands: []syncml.Command{
			{Verb: syncml.VerbReplace, Items: []syncml.Item{item(webSignIn, "int", "1")}},
			{Verb: syncml.VerbReplace, Items: []syncml.Item{item(allowedURLs, "chr", "login.contoso.example")}},
		}}),
		cmd("c-atomic-fail", devAlice, "admin:tok-contoso-op", syncml.Command{Verb: syncml.VerbAtomic, Commands: []syncml.Command{
			{Verb: syncml.VerbAdd, Items: []syncml.Item{item("./Device/Vendor/MSFT/Policy/Config/Update/ActiveHoursStart", "int", "8")}},
			{Verb: syncml.VerbReplace, Items: []syncml.Item{item(activeEnd, "int", "30")}},
		}}),
		cmd("c-exec-reboot", devAlice, "admin:tok-contoso-op", syncml.Command{Verb: syncml.VerbExec, Items: []syncml.Item{{Target: "./Device/Vendor/MSFT/Reboot/RebootNow"}}}),
		cmd("c-delete-autofill", devAlice, "policy:p-browser", syncml.Command{Verb: syncml.VerbDelete, Items: []syncml.Item{{Target: autofill}}}),
		cmd("c-cancelled", devAlice, "policy:p-browser", syncml.Command{Verb: syncml.VerbReplace, Items: []syncml.Item{item(autofill, "int", "0")}}),
		cmd("c-bitlocker", devAlice, "admin:tok-contoso-op", syncml.Command{Verb: syncml.VerbReplace, Items: []syncml.Item{item("./Device/Vendor/MSFT/BitLocker/RequireDeviceEncryption", "int", "1")}}),
		cmd("c-get-swv", devAlice, "admin:tok-contoso-op", syncml.Command{Verb: syncml.VerbGet, Items: []syncml.Item{{Target: "./DevDetail/SwV"}}}),
	}
	must(st.Enqueue(ctx, aliceCmds...))
	must(st.Enqueue(ctx,
		cmd("c-carol-name", devCarol, "admin:tok-bootstrap", syncml.Command{Verb: syncml.VerbGet, Items: []syncml.Item{{Target: "./DevDetail/Ext/Microsoft/DeviceName"}}}),
		cmd("c-carol-pin", devCarol, "policy:p-pin", syncml.Command{Verb: syncml.VerbReplace, Items: []syncml.Item{item(pinURI, "bool", "true")}}),
		cmd("c-dave-rtm", devDave, "policy:p-fab-defender", syncml.Command{Verb: syncml.VerbReplace, Items: []syncml.Item{item(defenderRTM, "int", "1")}}),
	))

	// --- Check-ins, 20 November: Alice's first session ends; her second carries the resent
	// reboot and is still open.
	g.clk.set(tCheck)
	v1, err := st.PolicyVersion(ctx, t1)
	must(err)
	v2, err := st.PolicyVersion(ctx, t2)
	must(err)
	devActor := func(id string) audit.Actor { return audit.Actor{Type: audit.ActorDevice, ID: id} }
	must(st.Checkin(ctx, devAlice, func(tx store.DeviceTx) error {
		d, err := tx.Device()
		if err != nil {
			return err
		}
		d.LastSeenAt, d.PolicyDirty = tCheck, false
		d.Nodes["./DevDetail/SwV"] = "10.0.26100.2605"
		if err := tx.PutDevice(d); err != nil {
			return err
		}
		update := func(id string, f func(c *store.Command)) error {
			c, err := tx.Command(id)
			if err != nil {
				return err
			}
			c.SentCount++
			c.LastSession = "alice-s1"
			c.UpdatedAt = tCheck
			f(&c)
			return tx.PutCommand(c)
		}
		steps := []struct {
			id string
			f  func(c *store.Command)
		}{
			{"c-replace-pin", func(c *store.Command) { c.State, c.StatusCode = store.CommandSucceeded, 200 }},
			{"c-get-pin", func(c *store.Command) {
				c.State, c.StatusCode = store.CommandSucceeded, 200
				c.Results = []syncml.Item{{Source: pinURI, Meta: &syncml.Meta{Format: "bool"}, Data: "true"}}
			}},
			{"c-atomic-ok", func(c *store.Command) {
				c.State, c.StatusCode, c.ChildStatus = store.CommandSucceeded, 200, []int{200, 200}
			}},
			{"c-atomic-fail", func(c *store.Command) {
				c.State, c.StatusCode, c.ChildStatus = store.CommandFailed, 507, []int{216, 405}
				c.Attempts, c.SentCount = 3, 3
			}},
			{"c-exec-reboot", func(c *store.Command) { c.State, c.ResentAs = store.CommandUnknown, "c-exec-reboot-2" }},
			{"c-delete-autofill", func(c *store.Command) {
				c.State, c.StatusCode, c.Attempts = store.CommandRetry, 500, 1
				c.NextAttemptAt = tCheck.Add(10 * time.Minute)
			}},
			{"c-cancelled", func(c *store.Command) { c.State, c.SentCount, c.LastSession = store.CommandCancelled, 0, "" }},
			{"c-bitlocker", func(c *store.Command) { c.State, c.StatusCode = store.CommandAccepted, 202 }},
		}
		for _, s := range steps {
			if err := update(s.id, s.f); err != nil {
				return err
			}
		}
		if err := tx.Enqueue(cmd("c-exec-reboot-2", devAlice, "admin:tok-contoso-op",
			syncml.Command{Verb: syncml.VerbExec, Items: []syncml.Item{{Target: "./Device/Vendor/MSFT/Reboot/RebootNow"}}})); err != nil {
			return err
		}
		if err := tx.PutSession(store.Session{SessionID: "1", Key: "alice-s1", ClientMsgID: 3, ServerMsgID: 3,
			Sent: map[string]store.SentRef{
				"1:2": {CommandID: "c-replace-pin", Verb: syncml.VerbReplace},
				"1:3": {CommandID: "c-get-pin", Verb: syncml.VerbGet},
				"2:2": {CommandID: "c-atomic-ok", Verb: syncml.VerbAtomic},
				"2:3": {CommandID: "c-atomic-ok", Child: []int{0}, Verb: syncml.VerbReplace},
				"2:4": {CommandID: "c-atomic-ok", Child: []int{1}, Verb: syncml.VerbReplace},
				"2:5": {CommandID: "c-exec-reboot", Verb: syncml.VerbExec},
			},
			LastRequestHash: tokenHash("alice-s1 message 3"),
			LastReply:       []byte(`<SyncML xmlns="SYNCML:SYNCML1.2"><SyncHdr><VerDTD>1.2</VerDTD><VerProto>DM/1.2</VerProto><SessionID>1</SessionID><MsgID>3</MsgID></SyncHdr><SyncBody><Status><CmdID>1</CmdID><MsgRef>3</MsgRef><CmdRef>0</CmdRef><Cmd>SyncHdr</Cmd><Data>200</Data></Status><Final/></SyncBody></SyncML>`),
			MaxMsgSize:      65536, Ended: true, StartedAt: tCheck.Add(-time.Minute), UpdatedAt: tCheck}); err != nil {
			return err
		}
		states := []store.SettingState{
			{LocURI: pinURI, Format: "bool", Value: "true", State: store.SettingSucceeded, Sources: []string{"p-pin"},
				Written: true, WriteCommandID: "c-replace-pin", VerifyCommandID: "c-get-pin"},
			{LocURI: webSignIn, Format: "int", Value: "1", State: store.SettingSucceeded, Sources: []string{"p-websignin"},
				Written: true, WriteCommandID: "c-atomic-ok"},
			{LocURI: allowedURLs, Format: "chr", Value: "login.contoso.example", State: store.SettingError, ErrorCode: 500,
				ErrorDetail: "device reported login.fabrikam.example", Sources: []string{"p-websignin"}, Written: true, WriteCommandID: "c-atomic-ok"},
			{LocURI: autofill, Format: "int", Value: "0", State: store.SettingPending, Removing: true, Written: true,
				WriteCommandID: "c-delete-autofill"},
			{LocURI: cortana, Format: "int", Value: "0", State: store.SettingNotApplicable, Sources: []string{"p-browser"}},
			{LocURI: activeEnd, Format: "int", Value: "18", State: store.SettingConflict, Sources: []string{"p-browser", "p-websignin"}},
			{LocURI: "./Device/Vendor/MSFT/Policy/Config/Browser/AllowDoNotTrack", Format: "int", Value: "1", State: store.SettingRemoved},
		}
		for _, s := range states {
			s.LastChanged = tCheck
			if err := tx.PutSettingState(s); err != nil {
				return err
			}
		}
		if err := tx.PutDevicePolicy(store.DevicePolicy{Version: v1, OSVersion: "10.0.26100.2605", OSEdition: 4, UserID: "u-alice", ResolvedAt: tCheck}); err != nil {
			return err
		}
		return tx.Audit(
			g.event(t1, audit.KindCommandDelivered, devActor(devAlice), audit.SubjectCommand, "c-replace-pin", devAlice, "", map[string]any{"status": 200}),
			g.event(t1, audit.KindCommandFailed, devActor(devAlice), audit.SubjectCommand, "c-atomic-fail", devAlice, "", map[string]any{"status": 507}),
			g.event(t1, audit.KindCommandUnknown, devActor(devAlice), audit.SubjectCommand, "c-exec-reboot", devAlice, "", nil),
			g.event(t1, audit.KindSettingState, devActor(devAlice), audit.SubjectSetting, pinURI, devAlice, "", map[string]any{"from": "pending", "to": "succeeded"}),
		)
	}))
	g.clk.set(tCheck.Add(time.Hour))
	must(st.Checkin(ctx, devAlice, func(tx store.DeviceTx) error {
		c, err := tx.Command("c-exec-reboot-2")
		if err != nil {
			return err
		}
		c.State, c.SentCount, c.ClaimSession, c.ClaimUntil, c.LastSession = store.CommandSent, 1, "alice-s2", tCheck.Add(time.Hour+5*time.Minute), "alice-s2"
		c.UpdatedAt = tCheck.Add(time.Hour)
		if err := tx.PutCommand(c); err != nil {
			return err
		}
		if err := tx.PutSession(store.Session{SessionID: "2", Key: "alice-s2", ClientMsgID: 1, ServerMsgID: 1,
			Sent:       map[string]store.SentRef{"1:2": {CommandID: "c-exec-reboot-2", Verb: syncml.VerbExec}},
			MaxMsgSize: 65536, StartedAt: tCheck.Add(time.Hour), UpdatedAt: tCheck.Add(time.Hour)}); err != nil {
			return err
		}
		return tx.Audit(g.event(t1, audit.KindCommandSent, devActor(devAlice), audit.SubjectCommand, "c-exec-reboot-2", devAlice, "", map[string]any{"cmdId": "2"}))
	}))
	must(st.Checkin(ctx, devCarol, func(tx store.DeviceTx) error {
		c, err := tx.Command("c-carol-name")
		if err != nil {
			return err
		}
		c.State, c.StatusCode, c.SentCount, c.LastSession = store.CommandSucceeded, 200, 1, "carol-s1"
		c.Results = []syncml.Item{{Source: "./DevDetail/Ext/Microsoft/DeviceName", Data: "PC-" + devCarol}}
		if err := tx.PutCommand(c); err != nil {
			return err
		}
		if err := tx.PutSettingState(store.SettingState{LocURI: pinURI, Format: "bool", Value: "true", State: store.SettingPending,
			Sources: []string{"p-pin"}, Written: true, WriteCommandID: "c-carol-pin", LastChanged: tCheck.Add(time.Hour)}); err != nil {
			return err
		}
		return tx.PutDevicePolicy(store.DevicePolicy{Version: v1, OSVersion: "10.0.26100.2605", OSEdition: 4, UserID: "u-carol", ResolvedAt: tCheck.Add(time.Hour)})
	}))
	must(st.Checkin(ctx, devDave, func(tx store.DeviceTx) error {
		d, err := tx.Device()
		if err != nil {
			return err
		}
		d.LastSeenAt, d.PolicyDirty = tCheck.Add(time.Hour), false
		if err := tx.PutDevice(d); err != nil {
			return err
		}
		c, err := tx.Command("c-dave-rtm")
		if err != nil {
			return err
		}
		c.State, c.StatusCode, c.SentCount, c.LastSession = store.CommandSucceeded, 200, 1, "dave-s1"
		if err := tx.PutCommand(c); err != nil {
			return err
		}
		if err := tx.PutSession(store.Session{SessionID: "1", Key: "dave-s1", ClientMsgID: 2, ServerMsgID: 2,
			Sent: map[string]store.SentRef{"1:2": {CommandID: "c-dave-rtm", Verb: syncml.VerbReplace}}, Ended: true,
			StartedAt: tCheck.Add(time.Hour), UpdatedAt: tCheck.Add(time.Hour)}); err != nil {
			return err
		}
		if err := tx.PutSettingState(store.SettingState{LocURI: defenderRTM, Format: "int", Value: "1", State: store.SettingSucceeded,
			Sources: []string{"p-fab-defender"}, Written: true, WriteCommandID: "c-dave-rtm", LastChanged: tCheck.Add(time.Hour)}); err != nil {
			return err
		}
		if err := tx.PutDevicePolicy(store.DevicePolicy{Version: v2, UserID: "u-dave", ResolvedAt: tCheck.Add(time.Hour)}); err != nil {
			return err
		}
		return tx.Audit(g.event(t2, audit.KindCommandDelivered, devActor(devDave), audit.SubjectCommand, "c-dave-rtm", devDave, "", map[string]any{"status": 200}))
	}))
	seed.Sessions = []storetest.FixtureSession{
		{DeviceID: devAlice, SessionID: "1"}, {DeviceID: devAlice, SessionID: "2"}, {DeviceID: devDave, SessionID: "1"},
	}

	// --- Fabrikam's own events through AppendAudit.
	g.clk.set(tCheck.Add(2 * time.Hour))
	must(st.AppendAudit(ctx,
		g.event(t2, audit.KindPINResetRequested, audit.Actor{Type: audit.ActorUser, ID: "dave@fabrikam.example"}, audit.SubjectDevice, devDave, devDave, "", nil),
		g.event(t2, audit.KindPINResetSucceeded, audit.Actor{Type: audit.ActorUser, ID: "dave@fabrikam.example"}, audit.SubjectDevice, devDave, devDave, "", nil),
		g.event(t2, audit.KindExported, adminActor("tok-fabrikam-reader"), audit.SubjectAuditLog, t2, "", "export", map[string]any{"format": "csv"}),
	))

	// --- 1 December: retention on Contoso, sign-in windows, redemptions, idempotency keys.
	g.clk.set(tNow)
	mustT(g.log.Retain(ctx, st, t1, tCut, audit.Actor{Type: audit.ActorSystem, ID: "audit-retention"}))
	for _, s := range []struct {
		key string
		at  time.Time
	}{
		{"alice@contoso.example", tNow.Add(-5 * time.Minute)},
		{"alice@contoso.example", tNow.Add(-4 * time.Minute)},
		{"mallory@contoso.example", tNow.Add(-time.Minute)},
	} {
		mustT2(st.RecordFailedSignIn(ctx, s.key, s.at, 15*time.Minute))
	}
	seed.SignIns = []storetest.FixtureSignIn{{Key: "alice@contoso.example"}, {Key: "mallory@contoso.example"}}
	seed.Redemptions = []storetest.FixtureRedemption{
		{ID: "enrollment-token:" + t1 + ":jti-0001", Holder: devAlice, Expires: tNow.Add(55 * time.Minute)},
		{ID: "pinreset-token:" + t2 + ":jti-0002", Holder: devDave, Expires: tNow.Add(10 * time.Minute)},
	}
	for _, r := range seed.Redemptions {
		first, err := st.Redeem(ctx, r.ID, r.Holder, r.Expires, tNow.Add(-time.Minute))
		must(err)
		if first != "" {
			panic("redemption " + r.ID + " already held")
		}
	}
	reserve := func(scope, key, req string) {
		rec := store.IdempotencyRecord{Scope: scope, Key: key, RequestHash: tokenHash(req), State: store.IdemReserved,
			LeaseUntil: tNow.Add(2 * time.Minute), CreatedAt: tNow, ExpiresAt: tNow.Add(24 * time.Hour)}
		_, mine, err := st.ReserveIdempotencyKey(ctx, rec, tNow)
		must(err)
		if !mine {
			panic("idempotency key " + key + " already held")
		}
	}
	// Done: a group creation that committed and stored its answer.
	reserve("token:tok-contoso-op", "create-group-0001", "POST /api/v1/tenants/"+t1+"/groups g-helpdesk")
	gctx := store.WithIdempotency(g.audited(t1, "create", audit.SubjectGroup, "g-helpdesk"), "token:tok-contoso-op", "create-group-0001")
	must(st.CreateGroup(gctx, store.Group{TenantID: t1, ID: "g-helpdesk", DisplayName: "Helpdesk"}))
	body := `{"id":"g-helpdesk","displayName":"Helpdesk"}`
	must(st.CompleteIdempotencyKey(ctx, "token:tok-contoso-op", "create-group-0001",
		store.IdempotencyAnswer{Status: 201, ContentType: "application/json", Body: []byte(body)}))
	// Done and withheld: a token creation, whose answer held the secret.
	reserve("token:tok-bootstrap", "create-token-0001", "POST /api/v1/tokens ci")
	tctx := store.WithIdempotency(g.audited(t2, "create", audit.SubjectToken, "tok-fabrikam-ci"), "token:tok-bootstrap", "create-token-0001")
	must(st.CreateToken(tctx, store.AdminToken{ID: "tok-fabrikam-ci", Hash: tokenHash("fixture fabrikam ci secret"), Name: "ci",
		Role: store.RoleReader, TenantID: t2}))
	must(st.CompleteIdempotencyKey(ctx, "token:tok-bootstrap", "create-token-0001",
		store.IdempotencyAnswer{Status: 201, ContentType: "application/json", Withheld: true}))
	// Reserved, committed, no answer yet (a crash between the write and the answer).
	reserve("token:tok-contoso-op", "add-members-0001", "POST /api/v1/tenants/"+t1+"/groups/g-staff/members dev-alice")
	mctx := store.WithIdempotency(g.audited(t1, "update", audit.SubjectGroup, "g-staff"), "token:tok-contoso-op", "add-members-0001")
	must(st.AddMembers(mctx, t1, "g-staff", store.Member{Kind: store.MemberDevice, ID: devAlice}))
	// Reserved and not committed (a request in flight).
	reserve("token:tok-fabrikam-reader", "export-0001", "POST /api/v1/tenants/"+t2+"/audit/export")
	seed.Idempotency = []storetest.FixtureIdempotencyKey{
		{Scope: "token:tok-bootstrap", Key: "create-token-0001", RequestHash: tokenHash("POST /api/v1/tokens ci"),
			State: store.IdemDone, Committed: true, Status: 201, Withheld: true},
		{Scope: "token:tok-contoso-op", Key: "add-members-0001", RequestHash: tokenHash("POST /api/v1/tenants/" + t1 + "/groups/g-staff/members dev-alice"),
			State: store.IdemReserved, Committed: true},
		{Scope: "token:tok-contoso-op", Key: "create-group-0001", RequestHash: tokenHash("POST /api/v1/tenants/" + t1 + "/groups g-helpdesk"),
			State: store.IdemDone, Committed: true, Status: 201, Body: body},
		{Scope: "token:tok-fabrikam-reader", Key: "export-0001", RequestHash: tokenHash("POST /api/v1/tenants/" + t2 + "/audit/export"),
			State: store.IdemReserved},
	}
}

func mustT2(_ int, _ time.Time, err error) { must(err) }
