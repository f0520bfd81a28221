package csp

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hellomdm/hellomdm/syncml"
)

const (
	devTenant = "./Device/Vendor/MSFT/PassportForWork/" + tenant
	devPol    = devTenant + "/Policies"
	pinURI    = devPol + "/EnablePinRecovery"
	minLenURI = devPol + "/PINComplexity/MinimumPINLength"
	urlsURI   = "./Device/Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls"
	fastURI   = "./Device/Vendor/MSFT/Policy/Config/Authentication/AllowFastReconnect"
)

// fakeHandler records Changed calls, serves live values and fails on demand.
type fakeHandler struct {
	mu       sync.Mutex
	prefix   string
	live     map[string]string
	failOn   map[string]bool // Changed fails when value (or "<deleted>") is in this set
	failUndo bool            // Changed fails for every call after the first failure
	failed   bool
	calls    []string
	execs    []Op
	async    bool
	execErr  error
}

func (h *fakeHandler) Prefix() string { return h.prefix }

func (h *fakeHandler) Get(uri string) (string, bool, error) {
	v, ok := h.live[uri]
	if v == "<error>" {
		return "", false, errors.New("sensor broken")
	}
	return v, ok, nil
}

func (h *fakeHandler) Changed(uri, value string, deleted bool) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	key := value
	if deleted {
		key = "<deleted>"
	}
	h.calls = append(h.calls, fmt.Sprintf("%s=%s", lastSegment(uri), key))
	if h.failOn[key] || (h.failUndo && h.failed) {
		h.failed = true
		return errors.New("handler refused")
	}
	return nil
}

func (h *fakeHandler) Exec(op Op) (bool, error) {
	h.execs = append(h.execs, op)
	return h.async, h.execErr
}

func item(uri, format, data string) syncml.Item {
	it := syncml.Item{Target: uri, Data: data}
	if format != "" {
		it.Meta = &syncml.Meta{Format: format}
	}
	return it
}

func command(verb, id string, items ...syncml.Item) syncml.Command {
	return syncml.Command{Verb: verb, CmdID: id, Items: items}
}

func get(id, uri string) syncml.Command { return command(syncml.VerbGet, id, item(uri, "", "")) }
func add(id, uri, f, d string) syncml.Command {
	return command(syncml.VerbAdd, id, item(uri, f, d))
}
func replace(id, uri, f, d string) syncml.Command {
	return command(syncml.VerbReplace, id, item(uri, f, d))
}
func del(id, uri string) syncml.Command { return command(syncml.VerbDelete, id, item(uri, "", "")) }
func exec(id, uri, d string) syncml.Command {
	return command(syncml.VerbExec, id, item(uri, "chr", d))
}
func atomic(id string, cmds ...syncml.Command) syncml.Command {
	return syncml.Command{Verb: syncml.VerbAtomic, CmdID: id, Commands: cmds}
}
func sequence(id string, cmds ...syncml.Command) syncml.Command {
	return syncml.Command{Verb: syncml.VerbSequence, CmdID: id, Commands: cmds}
}

func statuses(outs []Outcome) []int {
	s := make([]int, len(outs))
	for i, o := range outs {
		s[i] = o.Status
	}
	return s
}

func newTestTree(t *testing.T, path string, env Env, hs ...Handler) *Tree {
	t.Helper()
	tr, err := NewTree(Default(), path, env, hs...)
	if err != nil {
		t.Fatalf("NewTree: %v", err)
	}
	return tr
}

func mustRun(t *testing.T, tr *Tree, cmds ...syncml.Command) {
	t.Helper()
	for _, c := range cmds {
		for _, o := range tr.Execute(c) {
			if !success(o.Status) {
				t.Fatalf("setup %s %s (%s): status %d", c.Verb, c.CmdID, o.TargetRef, o.Status)
			}
		}
	}
}

func TestTreeStatus(t *testing.T) {
	win11Pro := Env{OSVersion: "10.0.22631.4317", Edition: EditionPro}
	for _, tc := range []struct {
		name  string
		env   Env
		fail  map[string]bool
		setup []syncml.Command
		cmd   syncml.Command
		want  []int
		value string // expected Value(check) after, "" skips; "<unset>" expects no value
		check string
	}{
		{name: "add policy creates parents", cmd: add("2", pinURI, "bool", "true"), want: []int{200}, check: pinURI, value: "true"},
		{name: "add bool normalized", cmd: add("2", pinURI, "bool", "TRUE"), want: []int{200}, check: pinURI, value: "true"},
		{name: "add existing 418", setup: []syncml.Command{add("1", pinURI, "bool", "true")}, cmd: add("2", pinURI, "bool", "false"), want: []int{418}, check: pinURI, value: "true"},
		{name: "add existing interior 418", setup: []syncml.Command{add("1", devTenant, "node", "")}, cmd: add("2", devTenant, "node", ""), want: []int{418}},
		{name: "add interior without format", cmd: add("2", devTenant, "", ""), want: []int{200}},
		{name: "add interior with chr 415", cmd: add("2", devTenant, "chr", ""), want: []int{415}},
		{name: "add unknown 404", cmd: add("2", "./Vendor/MSFT/Nope/X", "chr", "x"), want: []int{404}},
		{name: "add braced tenant 404", cmd: add("2", "./Vendor/MSFT/PassportForWork/{"+tenant+"}/Policies/EnablePinRecovery", "bool", "true"), want: []int{404}},
		{name: "bool yes 415", cmd: add("2", pinURI, "bool", "yes"), want: []int{415}, check: pinURI, value: "<unset>"},
		{name: "bool sent as chr 415", cmd: add("2", pinURI, "chr", "true"), want: []int{415}},
		{name: "missing format on bool 415", cmd: add("2", pinURI, "", "true"), want: []int{415}},
		{name: "missing format on chr ok", cmd: add("2", urlsURI, "", "signin.contoso.com"), want: []int{200}, check: urlsURI, value: "signin.contoso.com"},
		{name: "out of range 400", cmd: add("2", minLenURI, "int", "3"), want: []int{400}, check: minLenURI, value: "<unset>"},
		{name: "int garbage 415", cmd: add("2", minLenURI, "int", "four"), want: []int{415}},
		{name: "url with scheme 400", cmd: add("2", urlsURI, "chr", "https://signin.contoso.com"), want: []int{400}},
		{name: "replace read-only 405", cmd: replace("2", "./DevInfo/DmV", "chr", "9"), want: []int{405}},
		{name: "replace result 405", cmd: replace("2", "./Vendor/MSFT/Policy/Result/Authentication/AllowFastReconnect", "int", "0"), want: []int{405}},
		{name: "replace under never-added tenant 405", cmd: replace("2", pinURI, "bool", "true"), want: []int{405}, check: pinURI, value: "<unset>"},
		{name: "replace unset interior 404", cmd: replace("2", devTenant, "node", ""), want: []int{404}},
		{name: "replace unset policy ok", cmd: replace("2", fastURI, "int", "0"), want: []int{200}, check: fastURI, value: "0"},
		{name: "replace after tenant added", setup: []syncml.Command{add("1", devPol, "node", "")}, cmd: replace("2", pinURI, "bool", "true"), want: []int{200}, check: pinURI, value: "true"},
		{name: "replace creates static interiors under an added tenant", setup: []syncml.Command{add("1", devTenant, "node", "")}, cmd: replace("2", minLenURI, "int", "6"), want: []int{200}, check: minLenURI, value: "6"},
		{name: "replace under a never-added tenant stays 405 below static interiors", cmd: replace("2", minLenURI, "int", "6"), want: []int{405}, check: minLenURI, value: "<unset>"},
		{name: "replace value error keeps old", setup: []syncml.Command{add("1", minLenURI, "int", "6")}, cmd: replace("2", minLenURI, "int", "200"), want: []int{400}, check: minLenURI, value: "6"},
		{name: "get unset leaf 404", cmd: get("2", pinURI), want: []int{404}},
		{name: "get unset tenant 404", cmd: get("2", devTenant), want: []int{404}},
		{name: "get unknown 404", cmd: get("2", "./Device/Vendor/MSFT/Nope"), want: []int{404}},
		{name: "get null node 404", cmd: get("2", "./Vendor/MSFT/DMClient/Unenroll"), want: []int{404}},
		{name: "delete unset 404", cmd: del("2", pinURI), want: []int{404}},
		{name: "delete unset tenant 404", cmd: del("2", devTenant), want: []int{404}},
		{name: "delete read-only 405", cmd: del("2", "./DevInfo/DmV"), want: []int{405}},
		{name: "delete permanent interior 405", cmd: del("2", "./Device/Vendor/MSFT/PassportForWork"), want: []int{405}},
		{name: "delete policy", setup: []syncml.Command{add("1", pinURI, "bool", "true")}, cmd: del("2", pinURI), want: []int{200}, check: pinURI, value: "<unset>"},
		{name: "delete tenant subtree", setup: []syncml.Command{add("1", pinURI, "bool", "true"), add("3", minLenURI, "int", "6")}, cmd: del("2", devTenant), want: []int{200}, check: minLenURI, value: "<unset>"},
		{name: "handler failure 500 undone", fail: map[string]bool{"true": true}, cmd: add("2", pinURI, "bool", "true"), want: []int{500}, check: devTenant, value: "<unset>"},
		{name: "handler failure on delete 500", fail: map[string]bool{"<deleted>": true}, setup: []syncml.Command{add("1", pinURI, "bool", "true")}, cmd: del("2", devTenant), want: []int{500}, check: pinURI, value: "true"},
		{name: "not applicable on old build 404", env: Env{OSVersion: "10.0.14393"}, cmd: add("2", pinURI, "bool", "true"), want: []int{404}},
		{name: "not applicable on Home 404", env: Env{OSVersion: "10.0.22631", Edition: EditionHome}, cmd: add("2", urlsURI, "chr", "a.contoso.com"), want: []int{404}},
		{name: "applicable on Pro", env: win11Pro, cmd: add("2", urlsURI, "chr", "a.contoso.com"), want: []int{200}},
		{name: "no items 400", cmd: syncml.Command{Verb: syncml.VerbAdd, CmdID: "2"}, want: []int{400}},
		{name: "empty target 400", cmd: add("2", " ", "chr", "x"), want: []int{400}},
		{name: "chunked item 406", cmd: command(syncml.VerbAdd, "2", syncml.Item{Target: urlsURI, Data: "a", MoreData: true}), want: []int{406}},
		{name: "unknown verb 400", cmd: syncml.Command{Verb: "Copy", CmdID: "2"}, want: []int{400}},
		{name: "two items two outcomes", cmd: command(syncml.VerbAdd, "2", item(pinURI, "bool", "true"), item(minLenURI, "int", "1")), want: []int{200, 400}},
		{name: "exec on non-exec node 405", cmd: exec("2", pinURI, ""), want: []int{405}},
		{name: "exec without handler 500", cmd: exec("2", "./Vendor/MSFT/DMClient/Unenroll", "hellomdm"), want: []int{500}},
		{name: "status is never answered", cmd: syncml.Command{Verb: syncml.VerbStatus, CmdID: "2"}, want: []int{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &fakeHandler{prefix: "./Vendor/MSFT/PassportForWork/", failOn: map[string]bool{}}
			info := &fakeHandler{prefix: "./DevInfo", live: map[string]string{"./DevInfo/DmV": "1.3"}}
			tr := newTestTree(t, "", tc.env, h, info)
			mustRun(t, tr, tc.setup...)
			h.failOn = tc.fail
			got := statuses(tr.Execute(tc.cmd))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("statuses = %v, want %v", got, tc.want)
			}
			if tc.check == "" {
				return
			}
			v, ok := tr.Value(tc.check)
			switch {
			case tc.value == "<unset>" && ok:
				t.Errorf("Value(%s) = %q, want unset", tc.check, v)
			case tc.value != "<unset>" && (!ok || v != tc.value) && tc.value != "":
				t.Errorf("Value(%s) = %q, %v; want %q", tc.check, v, ok, tc.value)
			}
		})
	}
}

func TestAtomic(t *testing.T) {
	for _, tc := range []struct {
		name     string
		failOn   map[string]bool
		failUndo bool
		cmd      syncml.Command
		want     []int
		pin      string // expected EnablePinRecovery afterwards ("<unset>" = absent)
		minLen   string
	}{
		{
			name: "all succeed",
			cmd:  atomic("10", replace("11", pinURI, "bool", "false"), replace("12", minLenURI, "int", "8")),
			want: []int{200, 200, 200}, pin: "false", minLen: "8",
		},
		{
			name: "failure rolls back earlier and skips later",
			cmd: atomic("10", replace("11", pinURI, "bool", "false"), replace("12", minLenURI, "int", "300"),
				replace("13", urlsURI, "chr", "a.contoso.com")),
			want: []int{507, 216, 400, 216}, pin: "true", minLen: "6",
		},
		{
			name: "get inside atomic fails it",
			cmd:  atomic("10", replace("11", pinURI, "bool", "false"), get("12", pinURI)),
			want: []int{507, 216, 500}, pin: "true", minLen: "6",
		},
		{
			name: "nested atomic inner 500 outer 507",
			cmd:  atomic("10", replace("11", minLenURI, "int", "9"), atomic("12", replace("13", pinURI, "bool", "false"))),
			want: []int{507, 216, 500, 216}, pin: "true", minLen: "6",
		},
		{
			name:   "handler failure rolls back",
			failOn: map[string]bool{"false": true},
			cmd:    atomic("10", replace("11", minLenURI, "int", "9"), replace("12", pinURI, "bool", "false")),
			want:   []int{507, 216, 500}, pin: "true", minLen: "6",
		},
		{
			name:   "rollback failure 516",
			failOn: map[string]bool{"8": true}, failUndo: true,
			cmd:  atomic("10", replace("11", pinURI, "bool", "false"), replace("12", minLenURI, "int", "8")),
			want: []int{516, 516, 500}, pin: "true", minLen: "6",
		},
		{
			name: "delete and add in atomic roll back",
			cmd:  atomic("10", del("11", devTenant), add("12", minLenURI, "int", "2")),
			want: []int{507, 216, 400}, pin: "true", minLen: "6",
		},
		{
			name: "sequence inside atomic stops at failure",
			cmd: atomic("10", sequence("11", replace("12", pinURI, "bool", "false"), replace("13", minLenURI, "int", "1"),
				replace("14", fastURI, "int", "0"))),
			want: []int{507, 216, 216, 400, 216}, pin: "true", minLen: "6",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &fakeHandler{prefix: "./Device/Vendor/MSFT/PassportForWork", failOn: map[string]bool{}}
			dir := t.TempDir()
			path := filepath.Join(dir, "state.json")
			tr := newTestTree(t, path, Env{}, h)
			mustRun(t, tr, add("1", pinURI, "bool", "true"), add("2", minLenURI, "int", "6"))
			h.failOn, h.failUndo = tc.failOn, tc.failUndo
			if got := statuses(tr.Execute(tc.cmd)); !slices.Equal(got, tc.want) {
				t.Fatalf("statuses = %v, want %v (handler calls %v)", got, tc.want, h.calls)
			}
			// Check both the live tree and what was persisted.
			reopened := newTestTree(t, path, Env{})
			for _, tr := range []*Tree{tr, reopened} {
				for uri, want := range map[string]string{pinURI: tc.pin, minLenURI: tc.minLen} {
					v, ok := tr.Value(uri)
					if want == "<unset>" && ok || want != "<unset>" && v != want {
						t.Errorf("Value(%s) = %q, %v; want %q", lastSegment(uri), v, ok, want)
					}
				}
			}
		})
	}
}

func TestAtomicRollbackTellsHandler(t *testing.T) {
	h := &fakeHandler{prefix: "./Device/Vendor/MSFT/PassportForWork", failOn: map[string]bool{}}
	tr := newTestTree(t, "", Env{}, h)
	mustRun(t, tr, add("1", pinURI, "bool", "true"))
	h.calls = nil
	tr.Execute(atomic("10", replace("11", pinURI, "bool", "false"), replace("12", minLenURI, "int", "1")))
	want := []string{"EnablePinRecovery=false", "EnablePinRecovery=true"}
	if !slices.Equal(h.calls, want) {
		t.Errorf("handler calls = %v, want %v", h.calls, want)
	}
}

func TestSequenceContinuesAfterFailure(t *testing.T) {
	tr := newTestTree(t, "", Env{})
	outs := tr.Execute(sequence("10", add("11", pinURI, "bool", "true"), add("12", minLenURI, "int", "1"),
		add("13", fastURI, "int", "0"), get("14", pinURI)))
	if got, want := statuses(outs), []int{200, 200, 400, 200, 200}; !slices.Equal(got, want) {
		t.Fatalf("statuses = %v, want %v", got, want)
	}
	if v, _ := tr.Value(fastURI); v != "0" {
		t.Errorf("command after the failure not applied: %q", v)
	}
	if len(outs[4].Results) != 1 || outs[4].Results[0].Data != "true" {
		t.Errorf("Get inside Sequence results = %+v", outs[4].Results)
	}
}

func TestGetResults(t *testing.T) {
	info := &fakeHandler{prefix: "./DevInfo/", live: map[string]string{"./DevInfo/DmV": "1.3", "./DevInfo/Man": "<error>"}}
	tr := newTestTree(t, "", Env{}, info)
	mustRun(t, tr, add("1", pinURI, "bool", "true"), add("2", minLenURI, "int", "6"),
		add("3", "./User/Vendor/MSFT/PassportForWork/"+tenant+"/Policies/EnablePinRecovery", "bool", "false"))
	other := "00000000-0000-0000-0000-000000000001"
	mustRun(t, tr, add("4", "./Device/Vendor/MSFT/PassportForWork/"+other, "node", ""))
	for _, tc := range []struct {
		name, uri  string
		status     int
		format     string
		data       string
		targetEcho string
	}{
		{"leaf", pinURI, 200, "bool", "true", pinURI},
		{"leaf without prefix echoes target", "./Vendor/MSFT/PassportForWork/" + tenant + "/Policies/EnablePinRecovery", 200, "bool", "true", "./Vendor/MSFT/PassportForWork/" + tenant + "/Policies/EnablePinRecovery"},
		{"user scope separate", "./User/Vendor/MSFT/PassportForWork/" + tenant + "/Policies/EnablePinRecovery", 200, "bool", "false", ""},
		{"root lists tenants and permanent nodes", "./Device/Vendor/MSFT/PassportForWork", 200, "node", other + "/" + tenant + "/Biometrics", ""},
		{"policies interior", devPol, 200, "node", "EnablePinRecovery/PINComplexity", ""},
		{"empty tenant", "./Device/Vendor/MSFT/PassportForWork/" + other, 200, "node", "", ""},
		{"live read-only value", "./DevInfo/DmV", 200, "chr", "1.3", ""},
		{"live value error 500", "./DevInfo/Man", 500, "", "", ""},
		{"result uses default", "./Device/Vendor/MSFT/Policy/Result/Authentication/AllowFastReconnect", 200, "int", "1", ""},
		{"result without default 404", "./Device/Vendor/MSFT/Policy/Result/Authentication/ConfigureWebSignInAllowedUrls", 404, "", "", ""},
		{"interior with a failing child 500", "./DevInfo", 500, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outs := tr.Execute(get("9", tc.uri))
			if len(outs) != 1 || outs[0].Status != tc.status {
				t.Fatalf("outcomes = %+v, want status %d", outs, tc.status)
			}
			if tc.status != 200 {
				return
			}
			r := outs[0].Results
			if len(r) != 1 || r[0].Meta == nil || r[0].Meta.Format != tc.format || r[0].Meta.Type != "text/plain" || r[0].Data != tc.data {
				t.Fatalf("results = %+v (meta %+v), want format %s data %q", r, r[0].Meta, tc.format, tc.data)
			}
			if tc.targetEcho != "" && (r[0].Source != tc.targetEcho || outs[0].TargetRef != tc.targetEcho) {
				t.Errorf("source %q targetref %q, want %q", r[0].Source, outs[0].TargetRef, tc.targetEcho)
			}
		})
	}
}

func TestGetInteriorOfReadOnlyNodes(t *testing.T) {
	info := &fakeHandler{prefix: "./DevInfo", live: map[string]string{"./DevInfo/DmV": "1.3", "./DevInfo/Lang": "en-US"}}
	tr := newTestTree(t, "", Env{}, info)
	if v, ok := tr.Value("./DevInfo"); !ok || v != "DmV/Lang" {
		t.Errorf("DevInfo children = %q, %v; want DmV/Lang", v, ok)
	}
	if v, ok := tr.Value("./DevDetail/Ext/Microsoft"); !ok || v != "" {
		t.Errorf("DevDetail/Ext/Microsoft children = %q, %v; want empty", v, ok)
	}
}

func TestResultBranch(t *testing.T) {
	tr := newTestTree(t, "", Env{})
	result := "./Device/Vendor/MSFT/Policy/Result/Authentication/"
	mustRun(t, tr, replace("1", urlsURI, "chr", "b.contoso.com;a.contoso.com"), replace("2", fastURI, "int", "0"))
	for _, tc := range []struct{ name, want string }{
		{"ConfigureWebSignInAllowedUrls", "b.contoso.com;a.contoso.com"},
		{"AllowFastReconnect", "0"},
		{"AllowAadPasswordReset", "0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if v, ok := tr.Value(result + tc.name); !ok || v != tc.want {
				t.Errorf("Result %s = %q, %v; want %q", tc.name, v, ok, tc.want)
			}
		})
	}
	mustRun(t, tr, del("3", fastURI))
	if v, _ := tr.Value(result + "AllowFastReconnect"); v != "1" {
		t.Errorf("after Delete the Result is %q, want the default 1", v)
	}
	if names, _ := tr.Value("./Device/Vendor/MSFT/Policy/Result/Authentication"); !strings.Contains(names, "AllowFastReconnect") || strings.Contains(names, "AllowEAPCertSSO") {
		t.Errorf("Result area children = %q", names)
	}
}

func TestDeleteTellsHandler(t *testing.T) {
	h := &fakeHandler{prefix: "./Device/Vendor/MSFT/PassportForWork/"}
	tr := newTestTree(t, "", Env{}, h)
	mustRun(t, tr, add("1", pinURI, "bool", "true"))
	h.calls = nil
	mustRun(t, tr, del("2", pinURI))
	if want := []string{"EnablePinRecovery=<deleted>"}; !slices.Equal(h.calls, want) {
		t.Errorf("calls = %v, want %v", h.calls, want)
	}
	if st := statuses(tr.Execute(get("3", pinURI))); st[0] != 404 {
		t.Errorf("Get after Delete = %d, want 404", st[0])
	}
	h.calls = nil
	mustRun(t, tr, add("4", minLenURI, "int", "6"), del("5", devTenant))
	want := []string{"PINComplexity=", "MinimumPINLength=6",
		"MinimumPINLength=<deleted>", "PINComplexity=<deleted>", "Policies=<deleted>", tenant + "=<deleted>"}
	if !slices.Equal(h.calls, want) {
		t.Errorf("calls = %v, want %v", h.calls, want)
	}
}

func TestExec(t *testing.T) {
	for _, tc := range []struct {
		name  string
		async bool
		err   error
		want  int
	}{
		{"ok", false, nil, 200},
		{"async 202", true, nil, 202},
		{"error 500", false, errors.New("no"), 500},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := &fakeHandler{prefix: "./Device/Vendor/MSFT/DMClient", async: tc.async, execErr: tc.err}
			tr := newTestTree(t, "", Env{}, h)
			if st := statuses(tr.Execute(exec("2", "./Vendor/MSFT/DMClient/Unenroll", "hellomdm"))); st[0] != tc.want {
				t.Fatalf("status = %d, want %d", st[0], tc.want)
			}
			if len(h.execs) != 1 || h.execs[0].Data != "hellomdm" || h.execs[0].URI != "./Device/Vendor/MSFT/DMClient/Unenroll" {
				t.Errorf("execs = %+v", h.execs)
			}
		})
	}
}

func TestPersistence(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "csp.json")
	tr := newTestTree(t, path, Env{})
	mustRun(t, tr, add("1", pinURI, "bool", "true"), replace("2", urlsURI, "chr", "a.contoso.com"),
		add("3", "./Device/Vendor/MSFT/PassportForWork/00000000-0000-0000-0000-000000000001", "node", ""))
	if err := tr.Set("./Vendor/MSFT/DMClient/Provider/hellomdm/Poll/IntervalForFirstSetOfRetries", "15"); err != nil {
		t.Fatalf("Set: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("state file mode = %v, want 0600", fi.Mode().Perm())
	}
	again := newTestTree(t, path, Env{})
	if !slices.Equal(tr.Nodes(), again.Nodes()) {
		t.Errorf("reopened nodes differ:\n%v\n%v", tr.Nodes(), again.Nodes())
	}
	if v, ok := again.Value(pinURI); !ok || v != "true" {
		t.Errorf("EnablePinRecovery after reopen = %q, %v", v, ok)
	}
	if st := statuses(again.Execute(add("4", devTenant, "node", ""))); st[0] != 418 {
		t.Errorf("implicitly created tenant not persisted: Add = %d", st[0])
	}
	if st := statuses(again.Execute(replace("5", "./Vendor/MSFT/DMClient/Provider/hellomdm/Poll/IntervalForFirstSetOfRetries", "int", "3"))); st[0] != 200 {
		t.Errorf("Replace of Set poll node = %d", st[0])
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestPersistFailureUndoes(t *testing.T) {
	dir := t.TempDir()
	stateDir := filepath.Join(dir, "state")
	if err := os.Mkdir(stateDir, 0o700); err != nil {
		t.Fatal(err)
	}
	tr := newTestTree(t, filepath.Join(stateDir, "csp.json"), Env{})
	mustRun(t, tr, add("1", pinURI, "bool", "true"))
	// Make the directory unusable: replace it with a file.
	if err := os.RemoveAll(stateDir); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(stateDir, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if got := statuses(tr.Execute(replace("2", pinURI, "bool", "false"))); !slices.Equal(got, []int{500}) {
		t.Errorf("Replace with broken storage = %v, want [500]", got)
	}
	if got := statuses(tr.Execute(atomic("3", replace("4", pinURI, "bool", "false")))); !slices.Equal(got, []int{507, 216}) {
		t.Errorf("Atomic with broken storage = %v, want [507 216]", got)
	}
	if v, _ := tr.Value(pinURI); v != "true" {
		t.Errorf("value after failed save = %q, want true", v)
	}
	if err := tr.Set(fastURI, "0"); err == nil {
		t.Error("Set with broken storage succeeded")
	}
}

func TestNewTreeErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	future := filepath.Join(dir, "future.json")
	if err := os.WriteFile(future, []byte(`{"version":99}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		cat  *Catalog
		path string
		env  Env
		h    []Handler
	}{
		{"nil catalog", nil, "", Env{}, nil},
		{"bad os version", Default(), "", Env{OSVersion: "ten"}, nil},
		{"corrupt state", Default(), bad, Env{}, nil},
		{"future state", Default(), future, Env{}, nil},
		{"bad prefix", Default(), "", Env{}, []Handler{&fakeHandler{prefix: "Vendor"}}},
		{"nil handler", Default(), "", Env{}, []Handler{nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := NewTree(tc.cat, tc.path, tc.env, tc.h...); err == nil {
				t.Error("NewTree succeeded")
			}
		})
	}
}

func TestSet(t *testing.T) {
	tr := newTestTree(t, "", Env{OSVersion: "10.0.19045", Edition: EditionHome})
	for _, tc := range []struct {
		name, uri, value string
		err              error
	}{
		{"read-only leaf", "./DevInfo/DevId", "0123456789ABCDEF0123456789ABCDEF", nil},
		{"interior", "./Vendor/MSFT/DMClient/Provider/hellomdm", "", nil},
		{"unknown", "./Vendor/MSFT/Nope", "x", ErrUnknownNode},
		{"bad value", minLenURI, "1", ErrValue},
		{"not applicable", urlsURI, "a.contoso.com", ErrNotApplicable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tr.Set(tc.uri, tc.value); !errors.Is(err, tc.err) {
				t.Errorf("Set = %v, want %v", err, tc.err)
			}
		})
	}
	if v, ok := tr.Value("./DevInfo/DevId"); !ok || v != "0123456789ABCDEF0123456789ABCDEF" {
		t.Errorf("stored read-only value = %q, %v", v, ok)
	}
}

func TestTreeConcurrent(t *testing.T) {
	tr := newTestTree(t, "", Env{})
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for k := range 20 {
				tr.Execute(replace(fmt.Sprint(i, k), fastURI, "int", fmt.Sprint(k%2)))
				tr.Execute(get("g", fastURI))
				tr.Nodes()
			}
		})
	}
	wg.Wait()
	if _, ok := tr.Value(fastURI); !ok {
		t.Error("value lost")
	}
}
