package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/audit"
	"github.com/hellomdm/hellomdm/store"
)

// FixtureV1 is the manifest (store/testdata/v1/expected.json) of the v1 fixtures: a bbolt
// file and a PostgreSQL dump written by the release before the store redesign (issue 15),
// listing what a store opened on either must hold. The generator in
// store/testdata/v1/gen writes it; CheckFixtureV1 compares a store with it.
type FixtureV1 struct {
	// Commit is the main commit whose store code wrote the fixtures.
	Commit string `json:"commit"`
	// PostgresSchemaVersion is the schema version of the PostgreSQL dump.
	PostgresSchemaVersion int `json:"postgresSchemaVersion"`
	// PostgresEncryptionKeyHex is the store key (postgres.Options.EncryptionKey) that sealed
	// the dump's secret config values.
	PostgresEncryptionKeyHex string `json:"postgresEncryptionKeyHex"`
	// Now is the fixture's clock when it was written; read time-dependent records at it.
	Now time.Time `json:"now"`

	Tenants        []FixtureTenant         `json:"tenants"`
	Users          []FixtureUser           `json:"users"`
	Tokens         []FixtureToken          `json:"tokens"`
	Config         []FixtureConfig         `json:"config"`
	Devices        []FixtureDevice         `json:"devices"`
	RevokedSerials []string                `json:"revokedSerials"`
	Groups         []FixtureGroup          `json:"groups"`
	Profiles       []FixtureProfile        `json:"profiles"`
	Assignments    []FixtureAssignments    `json:"assignments,omitempty"`
	Commands       []FixtureCommand        `json:"commands"`
	Sessions       []FixtureSession        `json:"sessions"`
	SettingStates  []FixtureSettingState   `json:"settingStates"`
	DevicePolicies []FixtureDevicePolicy   `json:"devicePolicies"`
	Audit          []FixtureAudit          `json:"audit"`
	SignIns        []FixtureSignIn         `json:"signIns"`
	Redemptions    []FixtureRedemption     `json:"redemptions"`
	Idempotency    []FixtureIdempotencyKey `json:"idempotencyKeys"`
	QueueOpen      int                     `json:"queueOpen"`
}

// FixtureTenant is one tenant and its policy version.
type FixtureTenant struct {
	store.Tenant
	PolicyVersion uint64 `json:"policyVersion"`
}

// FixtureUser is one user.
type FixtureUser struct {
	TenantID     string `json:"tenantId"`
	ID           string `json:"id"`
	UPN          string `json:"upn"`
	PasswordHash string `json:"passwordHash"`
	TOTPSecret   []byte `json:"totpSecret,omitempty"`
	TOTPLastStep int64  `json:"totpLastStep,omitempty"`
	Disabled     bool   `json:"disabled,omitempty"`
}

// FixtureToken is one admin token.
type FixtureToken struct {
	ID        string    `json:"id"`
	Hash      string    `json:"hash"`
	Name      string    `json:"name"`
	Role      string    `json:"role"`
	TenantID  string    `json:"tenantId,omitempty"`
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
}

// FixtureConfig is one config key and its plain value (sealed at rest on PostgreSQL when
// Secret).
type FixtureConfig struct {
	Key    string `json:"key"`
	Value  string `json:"value"`
	Secret bool   `json:"secret,omitempty"`
}

// FixtureDevice is one device.
type FixtureDevice struct {
	ID          string `json:"id"`
	TenantID    string `json:"tenantId"`
	UserID      string `json:"userId,omitempty"`
	State       string `json:"state"`
	CertSerial  string `json:"certSerial"`
	PolicyDirty bool   `json:"policyDirty,omitempty"`
}

// FixtureGroup is one group and its direct members (by kind then ID).
type FixtureGroup struct {
	TenantID string         `json:"tenantId"`
	ID       string         `json:"id"`
	Name     string         `json:"displayName"`
	Members  []store.Member `json:"members,omitempty"`
}

// FixtureProfile is one profile.
type FixtureProfile struct {
	TenantID string   `json:"tenantId"`
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	Name     string   `json:"name"`
	Version  uint64   `json:"version"`
	LocURIs  []string `json:"locUris,omitempty"`
}

// FixtureAssignments is one profile's assignments.
type FixtureAssignments struct {
	TenantID    string             `json:"tenantId"`
	ProfileID   string             `json:"profileId"`
	Assignments []store.Assignment `json:"assignments,omitempty"`
}

// FixtureCommand is one queued command.
type FixtureCommand struct {
	DeviceID    string             `json:"deviceId"`
	ID          string             `json:"id"`
	Seq         uint64             `json:"seq"`
	State       store.CommandState `json:"state"`
	Verb        string             `json:"verb"`
	ChildVerbs  []string           `json:"childVerbs,omitempty"`
	LocURIs     []string           `json:"locUris,omitempty"` // Item targets, the children's in order
	StatusCode  int                `json:"statusCode,omitempty"`
	ChildStatus []int              `json:"childStatus,omitempty"`
	Results     []string           `json:"results,omitempty"` // Item Data of the Results
	Attempts    int                `json:"attempts,omitempty"`
	ResentAs    string             `json:"resentAs,omitempty"`
	Source      string             `json:"source,omitempty"`
}

// FixtureSession is one stored OMA-DM session.
type FixtureSession struct {
	DeviceID    string   `json:"deviceId"`
	SessionID   string   `json:"sessionId"`
	Key         string   `json:"key"`
	ClientMsgID int      `json:"clientMsgId"`
	ServerMsgID int      `json:"serverMsgId"`
	Sent        []string `json:"sent,omitempty"` // keys of Sent, sorted
	LastReply   string   `json:"lastReply,omitempty"`
	Ended       bool     `json:"ended,omitempty"`
}

// FixtureSettingState is one setting state.
type FixtureSettingState struct {
	DeviceID  string   `json:"deviceId"`
	LocURI    string   `json:"locUri"`
	State     string   `json:"state"`
	Value     string   `json:"value"`
	ErrorCode int      `json:"errorCode,omitempty"`
	Sources   []string `json:"sources,omitempty"`
}

// FixtureDevicePolicy is what one device was last resolved from.
type FixtureDevicePolicy struct {
	DeviceID string `json:"deviceId"`
	Version  uint64 `json:"version"`
}

// FixtureAudit is one tenant's audit chain.
type FixtureAudit struct {
	TenantID string       `json:"tenantId"`
	Anchor   audit.Anchor `json:"anchor"` // zero when nothing was dropped
	Head     audit.Anchor `json:"head"`
	Events   int          `json:"events"` // stored events, after the anchor
	// Kinds counts the stored events by kind.
	Kinds map[audit.Kind]int `json:"kinds"`
}

// FixtureSignIn is one failed sign-in window, open at Now.
type FixtureSignIn struct {
	Key       string    `json:"key"`
	Count     int       `json:"count"`
	WindowEnd time.Time `json:"windowEnd"`
}

// FixtureRedemption is one redeemed credential, unexpired at Now.
type FixtureRedemption struct {
	ID      string    `json:"id"`
	Holder  string    `json:"holder"`
	Expires time.Time `json:"expires"`
}

// FixtureIdempotencyKey is one idempotency record, unexpired at Now.
type FixtureIdempotencyKey struct {
	Scope       string `json:"scope"`
	Key         string `json:"key"`
	RequestHash string `json:"requestHash"`
	State       string `json:"state"`
	Committed   bool   `json:"committed,omitempty"`
	Status      int    `json:"status,omitempty"`
	Body        string `json:"body,omitempty"`
	Withheld    bool   `json:"withheld,omitempty"`
}

// LoadFixtureV1 reads a manifest.
func LoadFixtureV1(path string) (*FixtureV1, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m FixtureV1
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("decoding %s: %w", path, err)
	}
	return &m, nil
}

// ReadFixtureV1 reads from st what a FixtureV1 lists, through the store API, for the
// manifest's own lists of keys and IDs (the records a manifest names; the store may hold
// nothing else). Redemptions and idempotency records have no read method: they are
// copied from m. Time-dependent reads use m.Now.
func ReadFixtureV1(ctx context.Context, st store.Store, m *FixtureV1) (*FixtureV1, error) {
	out := &FixtureV1{Commit: m.Commit, PostgresSchemaVersion: m.PostgresSchemaVersion,
		PostgresEncryptionKeyHex: m.PostgresEncryptionKeyHex, Now: m.Now,
		Redemptions: m.Redemptions, Idempotency: m.Idempotency}
	tenants, err := st.ListTenants(ctx)
	if err != nil {
		return nil, err
	}
	var deviceIDs []string
	for _, t := range tenants {
		ids, err := readFixtureTenant(ctx, st, t, out)
		if err != nil {
			return nil, err
		}
		deviceIDs = append(deviceIDs, ids...)
	}
	tokens, err := st.ListTokens(ctx)
	if err != nil {
		return nil, err
	}
	for _, t := range tokens {
		out.Tokens = append(out.Tokens, FixtureToken{ID: t.ID, Hash: t.Hash, Name: t.Name, Role: t.Role,
			TenantID: t.TenantID, ExpiresAt: t.ExpiresAt.UTC()})
	}
	if err := readFixtureListed(ctx, st, m, out); err != nil {
		return nil, err
	}
	for _, id := range deviceIDs {
		if err := readFixtureDevice(ctx, st, id, out); err != nil {
			return nil, err
		}
	}
	qs, err := st.QueueStats(ctx)
	if err != nil {
		return nil, err
	}
	out.QueueOpen = qs.Open
	return out, nil
}

// readFixtureTenant adds to out tenant t with its policy version, users, devices, groups,
// profiles and audit chain, and returns the IDs of its devices.
func readFixtureTenant(ctx context.Context, st store.Store, t store.Tenant, out *FixtureV1) ([]string, error) {
	v, err := st.PolicyVersion(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt = t.CreatedAt.UTC(), t.UpdatedAt.UTC()
	out.Tenants = append(out.Tenants, FixtureTenant{Tenant: t, PolicyVersion: v})
	users, err := st.ListUsers(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		out.Users = append(out.Users, FixtureUser{TenantID: u.TenantID, ID: u.ID, UPN: u.UPN,
			PasswordHash: u.PasswordHash, TOTPSecret: u.TOTPSecret, TOTPLastStep: u.TOTPLastStep, Disabled: u.Disabled})
	}
	devices, err := st.ListDevices(ctx, t.ID)
	if err != nil {
		return nil, err
	}
	var deviceIDs []string
	for _, d := range devices {
		deviceIDs = append(deviceIDs, d.ID)
		out.Devices = append(out.Devices, FixtureDevice{ID: d.ID, TenantID: d.TenantID, UserID: d.UserID,
			State: d.State, CertSerial: d.CertSerial, PolicyDirty: d.PolicyDirty})
	}
	if err := readFixturePolicy(ctx, st, t.ID, out); err != nil {
		return nil, err
	}
	fa, err := readAuditChain(ctx, st, t.ID)
	if err != nil {
		return nil, err
	}
	out.Audit = append(out.Audit, fa)
	return deviceIDs, nil
}

// readFixturePolicy adds to out the tenant's groups with their members and its profiles
// with their assignments.
func readFixturePolicy(ctx context.Context, st store.Store, tenantID string, out *FixtureV1) error {
	groups, err := st.ListGroups(ctx, tenantID)
	if err != nil {
		return err
	}
	for _, g := range groups {
		ms, err := st.Members(ctx, tenantID, g.ID)
		if err != nil {
			return err
		}
		out.Groups = append(out.Groups, FixtureGroup{TenantID: tenantID, ID: g.ID, Name: g.DisplayName, Members: ms})
	}
	profiles, err := st.ListProfiles(ctx, tenantID)
	if err != nil {
		return err
	}
	for _, p := range profiles {
		fp := FixtureProfile{TenantID: tenantID, ID: p.ID, Kind: p.Kind, Name: p.Name, Version: p.Version}
		for _, s := range p.Settings {
			fp.LocURIs = append(fp.LocURIs, s.LocURI)
		}
		out.Profiles = append(out.Profiles, fp)
		as, err := st.Assignments(ctx, tenantID, p.ID)
		if err != nil {
			return err
		}
		out.Assignments = append(out.Assignments, FixtureAssignments{TenantID: tenantID, ProfileID: p.ID, Assignments: as})
	}
	return nil
}

// readFixtureListed adds to out what only m's keys name: config values, revoked serials,
// sessions and failed sign-in windows.
func readFixtureListed(ctx context.Context, st store.Store, m *FixtureV1, out *FixtureV1) error {
	for _, c := range m.Config {
		v, err := st.GetConfig(ctx, c.Key)
		if err != nil {
			return fmt.Errorf("config %s: %w", c.Key, err)
		}
		out.Config = append(out.Config, FixtureConfig{Key: c.Key, Value: string(v), Secret: c.Secret})
	}
	for _, s := range m.RevokedSerials {
		if ok, err := st.CertRevoked(ctx, s); err != nil || !ok {
			return fmt.Errorf("serial %s: revoked %v, %v", s, ok, err)
		}
	}
	out.RevokedSerials = m.RevokedSerials
	for _, fs := range m.Sessions {
		err := st.Checkin(ctx, fs.DeviceID, func(tx store.DeviceTx) error {
			s, err := tx.Session(fs.SessionID)
			if err != nil {
				return err
			}
			out.Sessions = append(out.Sessions, fixtureSession(s))
			return nil
		})
		if err != nil {
			return fmt.Errorf("session %s of %s: %w", fs.SessionID, fs.DeviceID, err)
		}
	}
	for _, s := range m.SignIns {
		n, end, err := st.FailedSignIns(ctx, s.Key, m.Now)
		if err != nil {
			return err
		}
		out.SignIns = append(out.SignIns, FixtureSignIn{Key: s.Key, Count: n, WindowEnd: end.UTC()})
	}
	return nil
}

// readFixtureDevice adds to out the device's commands, setting states and resolved policy
// version.
func readFixtureDevice(ctx context.Context, st store.Store, id string, out *FixtureV1) error {
	cmds, err := st.ListCommands(ctx, id)
	if err != nil {
		return err
	}
	for _, c := range cmds {
		out.Commands = append(out.Commands, fixtureCommand(c))
	}
	states, err := st.SettingStates(ctx, id)
	if err != nil {
		return err
	}
	for _, s := range states {
		out.SettingStates = append(out.SettingStates, FixtureSettingState{DeviceID: s.DeviceID, LocURI: s.LocURI,
			State: s.State, Value: s.Value, ErrorCode: s.ErrorCode, Sources: s.Sources})
	}
	pc, err := st.PolicyCheck(ctx, id)
	if err != nil {
		return err
	}
	if pc.HasResolved {
		out.DevicePolicies = append(out.DevicePolicies, FixtureDevicePolicy{DeviceID: id, Version: pc.Resolved.Version})
	}
	return nil
}

func readAuditChain(ctx context.Context, st store.Store, tenantID string) (FixtureAudit, error) {
	fa := FixtureAudit{TenantID: tenantID, Kinds: map[audit.Kind]int{}}
	var err error
	if fa.Anchor, err = st.AuditAnchor(ctx, tenantID); err != nil {
		return fa, err
	}
	fa.Head = fa.Anchor
	err = st.AuditEvents(ctx, tenantID, 0, func(e *audit.Event) (bool, error) {
		fa.Events++
		fa.Kinds[e.Kind]++
		fa.Head = e.Head()
		return true, nil
	})
	return fa, err
}

func fixtureCommand(c store.Command) FixtureCommand {
	fc := FixtureCommand{DeviceID: c.DeviceID, ID: c.ID, Seq: c.Seq, State: c.State, Verb: c.Payload.Verb,
		StatusCode: c.StatusCode, ChildStatus: c.ChildStatus, Attempts: c.Attempts, ResentAs: c.ResentAs, Source: c.Source}
	for _, it := range c.Payload.Items {
		fc.LocURIs = append(fc.LocURIs, it.Target)
	}
	for _, ch := range c.Payload.Commands {
		fc.ChildVerbs = append(fc.ChildVerbs, ch.Verb)
		for _, it := range ch.Items {
			fc.LocURIs = append(fc.LocURIs, it.Target)
		}
	}
	for _, r := range c.Results {
		fc.Results = append(fc.Results, r.Data)
	}
	return fc
}

func fixtureSession(s store.Session) FixtureSession {
	fs := FixtureSession{DeviceID: s.DeviceID, SessionID: s.SessionID, Key: s.Key, ClientMsgID: s.ClientMsgID,
		ServerMsgID: s.ServerMsgID, LastReply: string(s.LastReply), Ended: s.Ended}
	for k := range s.Sent {
		fs.Sent = append(fs.Sent, k)
	}
	slices.Sort(fs.Sent)
	return fs
}

// CheckFixtureV1 reads st (see ReadFixtureV1) and compares it with m, field by field; it
// also verifies every tenant's audit chain (audit.VerifyTenant) and checks the redemptions
// and idempotency records by trying to take them again at m.Now (which st must refuse, so
// it changes nothing). Run it on a copy of a fixture.
func CheckFixtureV1(ctx context.Context, st store.Store, m *FixtureV1) error {
	got, err := ReadFixtureV1(ctx, st, m)
	if err != nil {
		return fmt.Errorf("reading the fixture: %w", err)
	}
	var errs []error
	// Values compare as their JSON: times by instant, empty and absent lists alike.
	cmp := func(what string, got, want any) {
		g, gerr := json.Marshal(got)
		w, werr := json.Marshal(want)
		if gerr != nil || werr != nil || !bytes.Equal(g, w) {
			errs = append(errs, fmt.Errorf("%s:\n got %s\nwant %s", what, g, w))
		}
	}
	cmp("tenants", got.Tenants, m.Tenants)
	cmp("users", got.Users, m.Users)
	cmp("tokens", got.Tokens, m.Tokens)
	cmp("config", got.Config, m.Config)
	cmp("devices", got.Devices, m.Devices)
	cmp("groups", got.Groups, m.Groups)
	cmp("profiles", got.Profiles, m.Profiles)
	cmp("assignments", got.Assignments, m.Assignments)
	cmp("commands", got.Commands, m.Commands)
	cmp("sessions", got.Sessions, m.Sessions)
	cmp("setting states", got.SettingStates, m.SettingStates)
	cmp("device policies", got.DevicePolicies, m.DevicePolicies)
	cmp("audit", got.Audit, m.Audit)
	cmp("sign-ins", got.SignIns, m.SignIns)
	cmp("open commands", got.QueueOpen, m.QueueOpen)
	for _, t := range m.Tenants {
		rep, err := audit.VerifyTenant(ctx, st.AuditReader(), t.ID)
		if err != nil {
			errs = append(errs, fmt.Errorf("audit chain of %s: %w", t.ID, err))
		} else if rep.Checked == 0 || rep.Head == (audit.Anchor{}) {
			errs = append(errs, fmt.Errorf("audit chain of %s: nothing verified: %+v", t.ID, rep))
		}
	}
	for _, r := range m.Redemptions {
		first, err := st.Redeem(ctx, r.ID, "fixture-probe", r.Expires, m.Now)
		if !errors.Is(err, store.ErrConflict) || first != r.Holder {
			errs = append(errs, fmt.Errorf("redemption %s: redeeming again gave %q, %v; want %q and ErrConflict", r.ID, first, err, r.Holder))
		}
	}
	for _, k := range m.Idempotency {
		probe := store.IdempotencyRecord{Scope: k.Scope, Key: k.Key, RequestHash: "fixture-probe", State: store.IdemReserved,
			LeaseUntil: m.Now, CreatedAt: m.Now, ExpiresAt: m.Now.Add(time.Hour)}
		held, mine, err := st.ReserveIdempotencyKey(ctx, probe, m.Now)
		if err != nil || mine {
			errs = append(errs, fmt.Errorf("idempotency key %s/%s: reserving again gave mine=%v, %v", k.Scope, k.Key, mine, err))
			continue
		}
		cmp("idempotency key "+k.Scope+"/"+k.Key, FixtureIdempotencyKey{Scope: held.Scope, Key: held.Key, RequestHash: held.RequestHash,
			State: held.State, Committed: held.Committed, Status: held.Status, Body: string(held.Body), Withheld: held.Withheld}, k)
	}
	return errors.Join(errs...)
}

// FixtureV1SQL reads the PostgreSQL fixture script and returns its statements, one per
// pgx Exec: a statement ends with ";" at the end of a line; blank lines and "--" comment
// lines between statements are skipped.
func FixtureV1SQL(path string) ([]string, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var (
		stmts []string
		cur   strings.Builder
	)
	for line := range strings.Lines(string(raw)) {
		if cur.Len() == 0 && (strings.TrimSpace(line) == "" || strings.HasPrefix(line, "--")) {
			continue
		}
		cur.WriteString(line)
		if strings.HasSuffix(strings.TrimRight(line, "\n"), ";") {
			stmts = append(stmts, cur.String())
			cur.Reset()
		}
	}
	if strings.TrimSpace(cur.String()) != "" {
		return nil, fmt.Errorf("%s: unterminated statement at the end: %.80q", path, cur.String())
	}
	return stmts, nil
}

// RunFixtureV1 is the check a backend's TestFixtureV1 runs on a store opened on a copy of
// its v1 fixture: the whole manifest (CheckFixtureV1, with audit.VerifyTenant on every
// chain), and the lookups the manifest is not read with.
func RunFixtureV1(t *testing.T, st store.Store, m *FixtureV1) {
	t.Helper()
	ctx := t.Context()
	if len(m.Tenants) != 2 || len(m.Commands) == 0 || len(m.Audit) != 2 || m.Audit[1].Anchor.Seq != store.AuditSegmentSize {
		t.Fatalf("manifest is not the v1 fixture's: %d tenants, %d commands, audit %+v", len(m.Tenants), len(m.Commands), m.Audit)
	}
	if err := CheckFixtureV1(ctx, st, m); err != nil {
		t.Fatal(err)
	}
	contoso := m.Tenants[1].ID
	// The migration indexed every device (format 3): the index lists them as ListDevices does.
	for _, ten := range m.Tenants {
		page, err := st.QueryDevices(ctx, store.DeviceQuery{TenantID: ten.ID, Limit: store.MaxDevicePage})
		counts, cerr := st.CountDevices(ctx, ten.ID, time.Time{}, nil)
		n := 0
		for _, d := range m.Devices {
			if d.TenantID == ten.ID {
				n++
			}
		}
		total := 0
		for _, c := range counts.ByState {
			total += c
		}
		if err != nil || cerr != nil || len(page.Devices) != n || total != n {
			t.Errorf("tenant %s: the device index lists %d devices and counts %d (%v, %v); want %d", ten.ID, len(page.Devices), total, err, cerr, n)
		}
	}
	if ten, err := st.TenantByDomain(ctx, "CORP.Contoso.Example"); err != nil || ten.ID != contoso {
		t.Errorf("TenantByDomain: %q, %v; want %s", ten.ID, err, contoso)
	}
	if u, err := st.UserByUPN(ctx, contoso, "alice@CONTOSO.example"); err != nil || u.ID != "u-alice" || len(u.TOTPSecret) == 0 {
		t.Errorf("UserByUPN: %+v, %v", u, err)
	}
	if tok, err := st.TokenByHash(ctx, m.Tokens[1].Hash); err != nil || tok.ID != "tok-contoso-op" || tok.ExpiresAt.IsZero() {
		t.Errorf("TokenByHash: %+v, %v", tok, err)
	}
	if _, err := st.TokenByHash(ctx, "0000000000000000000000000000000000000000000000000000000000000000"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("TokenByHash of an unknown hash: %v, want ErrNotFound", err)
	}
	if c, err := st.Command(ctx, "contoso-dev-alice", "c-atomic-fail"); err != nil || c.State != store.CommandFailed ||
		len(c.Payload.Commands) != 2 || !slices.Equal(c.ChildStatus, []int{216, 405}) {
		t.Errorf("Command c-atomic-fail: %+v, %v", c, err)
	}
	for _, d := range m.Devices {
		revoked, err := st.CertRevoked(ctx, d.CertSerial)
		if want := d.State != store.DeviceEnrolled; err != nil || revoked != want {
			t.Errorf("CertRevoked(%s) of %s device %s: %v, %v; want %v", d.CertSerial, d.State, d.ID, revoked, err, want)
		}
	}
	if pc, err := st.PolicyCheck(ctx, "contoso-dev-alice"); err != nil || !pc.HasResolved || pc.TenantVersion != m.Tenants[1].PolicyVersion {
		t.Errorf("PolicyCheck: %+v, %v", pc, err)
	}
}
