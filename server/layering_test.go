package server

import (
	"bytes"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/hellomdm/hellomdm"

// layeringViolations applies issue 15's rule to each package's dependencies (import path →
// its transitive non-test dependencies): policy and store depend on each other in neither
// direction except through policy/model, neither depends on server, and store depends on
// neither the SyncML codec nor the CSP catalog (its records have their own encoding, see
// store.Payload). The result is sorted.
func layeringViolations(deps map[string][]string) []string {
	under := func(p, dir string) bool { return p == module+"/"+dir || strings.HasPrefix(p, module+"/"+dir+"/") }
	var out []string
	for pkg, ds := range deps {
		for _, d := range ds {
			switch {
			case under(d, "server"):
			case under(pkg, "policy") && under(d, "store"):
			case under(pkg, "store") && under(d, "policy") && d != module+"/policy/model":
			case under(pkg, "store") && (under(d, "syncml") || under(d, "csp")):
			default:
				continue
			}
			out = append(out, pkg+" depends on "+d)
		}
	}
	slices.Sort(out)
	return out
}

// goList runs the go command's list in the module.
func goList(t *testing.T, args ...string) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
	}
	cmd := exec.Command(gobin, append([]string{"list"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if msg := stderr.String(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Skipf("no go command to list packages with (%v)", err)
		}
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, msg)
	}
	return string(out)
}

// The policy engine plans and the store keeps: `go list -deps` shows neither package tree
// importing the other (policy/model, a leaf of the standard library only, is their shared
// vocabulary), neither importing server, and store importing neither syncml nor csp (issue 15).
func TestPolicyStoreLayering(t *testing.T) {
	listing := goList(t, "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}", module+"/policy/...", module+"/store/...")
	deps := map[string][]string{}
	for line := range strings.Lines(listing) {
		f := strings.Fields(line)
		if len(f) > 0 {
			deps[f[0]] = f[1:]
		}
	}
	for _, p := range []string{"policy", "policy/model", "store"} {
		if _, ok := deps[module+"/"+p]; !ok {
			t.Fatalf("go list did not list %s: %q", p, listing)
		}
	}
	if v := layeringViolations(deps); len(v) > 0 {
		t.Errorf("layering broken:\n%s", strings.Join(v, "\n"))
	}
	if !slices.Contains(deps[module+"/store"], module+"/policy/model") || !slices.Contains(deps[module+"/policy"], module+"/policy/model") {
		t.Error("store and policy no longer share policy/model: update this test's rule")
	}
	// policy/model imports the standard library only.
	if own := strings.Fields(goList(t, "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", module+"/policy/model")); !slices.Equal(own, []string{module + "/policy/model"}) {
		t.Errorf("policy/model depends on %q beyond the standard library", own)
	}
}

func TestLayeringViolations(t *testing.T) {
	got := layeringViolations(map[string][]string{
		module + "/policy":        {module + "/policy/model", module + "/syncml", module + "/store"},
		module + "/policy/gpo":    {module + "/store/bolt", module + "/storefault"},
		module + "/store":         {module + "/policy/model", module + "/policy"},
		module + "/store/bolt":    {module + "/policy/gpo", module + "/server"},
		module + "/store/storeX":  {module + "/policymodel", module + "/syncmlx"},
		module + "/store/core":    {module + "/syncml", module + "/csp/catalog"},
		module + "/policy/model2": {module + "/csp"},
	})
	want := []string{
		module + "/policy depends on " + module + "/store",
		module + "/policy/gpo depends on " + module + "/store/bolt",
		module + "/store depends on " + module + "/policy",
		module + "/store/bolt depends on " + module + "/policy/gpo",
		module + "/store/bolt depends on " + module + "/server",
		module + "/store/core depends on " + module + "/csp/catalog",
		module + "/store/core depends on " + module + "/syncml",
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// serverLayeringViolations applies issue 16's rule inside server: the session engine
// (server/omadm), the admin API (server/adminapi and its client) and the push hub
// (server/push, issue 18) import neither each other nor the assembly (server), and none of them imports a store backend (store/bolt,
// store/postgres, the backends' shared core and key-value layer): they work on the store
// interfaces, and only the assembly (server) or cmd picks and opens a backend. The web
// console (server/console, issue 17) reaches the API only through adminapi and its client,
// never the session engine. The result is sorted.
func serverLayeringViolations(deps map[string][]string) []string {
	under := func(p, dir string) bool { return p == module+"/"+dir || strings.HasPrefix(p, module+"/"+dir+"/") }
	backend := func(p string) bool {
		return under(p, "store/bolt") || under(p, "store/postgres") || under(p, "store/core") || under(p, "store/kv") || under(p, "store/storetest")
	}
	var out []string
	for pkg, ds := range deps {
		for _, d := range ds {
			switch {
			case d == module+"/server":
			case backend(d):
			case under(pkg, "server/omadm") && under(d, "server/adminapi"):
			case under(pkg, "server/adminapi") && under(d, "server/omadm"):
			case under(pkg, "server/adminapi") && under(d, "server/console"):
			case under(pkg, "server/console") && under(d, "server/omadm"):
			case under(pkg, "server/push") && (under(d, "server/omadm") || under(d, "server/adminapi")):
			case (under(pkg, "server/omadm") || under(pkg, "server/adminapi")) && under(d, "server/push"):
			default:
				continue
			}
			out = append(out, pkg+" depends on "+d)
		}
	}
	slices.Sort(out)
	return out
}

// The session engine and the admin API point one way: `go list -deps` shows neither
// importing the other, the assembly or a store backend (issue 16).
func TestServerLayering(t *testing.T) {
	listing := goList(t, "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}", module+"/server/omadm/...", module+"/server/adminapi/...", module+"/server/internal/...",
		module+"/server/console/...", module+"/server/push/...")
	deps := map[string][]string{}
	for line := range strings.Lines(listing) {
		f := strings.Fields(line)
		if len(f) > 0 {
			deps[f[0]] = f[1:]
		}
	}
	for _, p := range []string{"server/omadm", "server/adminapi", "server/adminapi/client", "server/console", "server/push"} {
		if _, ok := deps[module+"/"+p]; !ok {
			t.Fatalf("go list did not list %s: %q", p, listing)
		}
	}
	if v := serverLayeringViolations(deps); len(v) > 0 {
		t.Errorf("layering broken:\n%s", strings.Join(v, "\n"))
	}
	// The assembly does import both, and the store interfaces reach them: the listing is real.
	if !slices.Contains(deps[module+"/server/omadm"], module+"/store") || !slices.Contains(deps[module+"/server/adminapi"], module+"/store") {
		t.Error("omadm or adminapi no longer depends on store: update this test's rule")
	}
}

func TestServerLayeringViolations(t *testing.T) {
	got := serverLayeringViolations(map[string][]string{
		module + "/server/omadm":             {module + "/store", module + "/server/adminapi/client", module + "/syncml"},
		module + "/server/adminapi":          {module + "/server/omadm", module + "/store/postgres", module + "/store"},
		module + "/server/adminapi/client":   {module + "/server", module + "/serverx"},
		module + "/server/internal/delivery": {module + "/store/core", module + "/store/kvx"},
		module + "/server/omadm/x":           {module + "/store/bolt", module + "/server/omadmx"},
		module + "/server/console":           {module + "/server/omadm", module + "/server/adminapi", module + "/store/core"},
	})
	want := []string{
		module + "/server/adminapi depends on " + module + "/server/omadm",
		module + "/server/adminapi depends on " + module + "/store/postgres",
		module + "/server/adminapi/client depends on " + module + "/server",
		module + "/server/console depends on " + module + "/server/omadm",
		module + "/server/console depends on " + module + "/store/core",
		module + "/server/internal/delivery depends on " + module + "/store/core",
		module + "/server/omadm depends on " + module + "/server/adminapi/client",
		module + "/server/omadm/x depends on " + module + "/store/bolt",
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// The WNS client talks to WNS and nothing else: server/push/wns imports the standard library
// only, and so does its test server wnstest, so the session engine, the admin API and the
// assembly decide what it is told (issue 18).
func TestWNSLayering(t *testing.T) {
	for _, pkg := range []string{"server/push/wns", "server/push/wns/wnstest"} {
		own := strings.Fields(goList(t, "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", module+"/"+pkg))
		if !slices.Equal(own, []string{module + "/" + pkg}) {
			t.Errorf("%s depends on %q beyond the standard library", pkg, own)
		}
	}
}
