package wire_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// types are the package's types, each with its golden file testdata/<name>.json.
var types = []any{
	wire.TenantRequest{}, wire.TenantPatch{}, wire.Tenant{}, wire.TenantWNS{}, wire.TenantWNSPatch{},
	wire.Overview{}, wire.ProfileTrouble{}, wire.ConsentRequest{}, wire.ServicePrincipal{}, wire.ServicePrincipals{},
	wire.TokenRequest{}, wire.Token{}, wire.CreatedToken{},
	wire.PasswordProfile{}, wire.UserRequest{}, wire.User{}, wire.UserPatch{}, wire.AdminRoleRequest{}, wire.TOTP{},
	wire.GroupRequest{}, wire.Group{}, wire.MemberRequest{}, wire.Member{},
	wire.Device{}, wire.DeviceWNS{}, wire.PushStatus{}, wire.SyncResult{}, wire.DevicePage{}, wire.ResendFailed{},
	wire.CommandRequest{}, wire.Command{}, wire.CommandResult{},
	wire.AssignmentTarget{}, wire.Assignment{}, wire.AssignBody{}, wire.Assignments{},
	wire.SettingState{}, wire.ProfileStatus{}, wire.DeviceSettingStatus{}, wire.DeviceProfiles{},
	wire.SettingDefinition{}, wire.SettingOption{}, wire.SettingCategory{},
	wire.GroupPolicyReport{}, wire.GroupPolicyImport{}, wire.GroupPolicySource{}, wire.GroupPolicySummary{},
	wire.GroupPolicyRow{}, wire.GroupPolicyInstruction{},
	wire.AuditVerification{}, wire.AuditUnsealed{}, wire.AuditAnchor{}, wire.AuditBreak{}, wire.AuditPage{},
	wire.AuditEvent{}, wire.AuditActor{}, wire.AuditSubject{},
	wire.ErrorBody{}, wire.Error{}, wire.TenantDeletionConflict{},
}

// TestGolden holds each type's JSON, with every field set and with none, to
// testdata/<type>.json: the admin API's wire format. A property renamed, dropped, added or
// made optional (omitempty, omitzero) changes the file. When that is meant, run
// go test ./server/adminapi/wire -update and review the diff: clients of the API see it.
func TestGolden(t *testing.T) {
	for _, v := range types {
		typ := reflect.TypeOf(v)
		t.Run(typ.Name(), func(t *testing.T) {
			filled := reflect.New(typ).Elem()
			fill(filled, map[reflect.Type]bool{})
			got := encode(t, "filled", filled.Interface())
			got = append(got, encode(t, "zero", v)...)
			path := filepath.Join("testdata", typ.Name()+".json")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (a new type: run with -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("the JSON of %s changed: the admin API's wire format. If that is meant, run with -update and review the diff.\ngot:\n%s\nwant:\n%s", typ, got, want)
			}
			// What the JSON says decodes back to the same value.
			back := reflect.New(typ)
			if err := json.Unmarshal(mustMarshal(t, filled.Interface()), back.Interface()); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(mustMarshal(t, back.Elem().Interface()), mustMarshal(t, filled.Interface())) {
				t.Errorf("%s does not round-trip through its JSON", typ)
			}
		})
	}
}

// TestGoldenCoversTypes: every type the package declares has its golden file.
func TestGoldenCoversTypes(t *testing.T) {
	fset := token.NewFileSet()
	var declared []string
	files, _ := filepath.Glob("*.go")
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		af, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			if g, ok := d.(*ast.GenDecl); ok && g.Tok == token.TYPE {
				for _, s := range g.Specs {
					declared = append(declared, s.(*ast.TypeSpec).Name.Name)
				}
			}
		}
	}
	var listed []string
	for _, v := range types {
		listed = append(listed, reflect.TypeOf(v).Name())
	}
	slices.Sort(declared)
	slices.Sort(listed)
	if len(declared) == 0 || !slices.Equal(declared, listed) {
		t.Errorf("declared types %v, types with golden files %v", declared, listed)
	}
}

// encode is "<what>: <v's JSON, indented>\n".
func encode(t *testing.T, what string, v any) []byte {
	var out bytes.Buffer
	out.WriteString(what + ": ")
	if err := json.Indent(&out, mustMarshal(t, v), "", "  "); err != nil {
		t.Fatal(err)
	}
	out.WriteByte('\n')
	return out.Bytes()
}

func mustMarshal(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var stamp = time.Date(2026, 1, 2, 3, 4, 5, 600_000_000, time.UTC)

// fill sets every field of v: a string to its field's name, numbers to 7, booleans true,
// times to stamp, one element in slices and maps, pointers to a filled value. A type met
// again inside itself (a command's commands) is left empty there.
func fill(v reflect.Value, seen map[reflect.Type]bool) {
	switch v.Type() {
	case reflect.TypeFor[time.Time]():
		v.Set(reflect.ValueOf(stamp))
		return
	case reflect.TypeFor[json.RawMessage]():
		v.Set(reflect.ValueOf(json.RawMessage(`{"raw":true}`)))
		return
	}
	switch v.Kind() {
	case reflect.String:
		v.SetString("text")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64, reflect.Uint64:
		if v.CanInt() {
			v.SetInt(7)
		} else {
			v.SetUint(7)
		}
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), seen)
		v.Set(p)
	case reflect.Slice:
		if seen[v.Type().Elem()] {
			return
		}
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), seen)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, seen)
		m.SetMapIndex(reflect.ValueOf("key"), e)
		v.Set(m)
	case reflect.Struct:
		seen[v.Type()] = true
		defer delete(seen, v.Type())
		for i := range v.NumField() {
			f := v.Field(i)
			fill(f, seen)
			if f.Kind() == reflect.String {
				f.SetString(v.Type().Field(i).Name)
			}
		}
	}
}
