package device

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/hellomdm/hellomdm"

// deviceLayers ranks the device packages (device/doc.go): a package may depend only on
// device packages of a lower rank, so the subpackages never import device, and two of one
// rank never import each other. A new subpackage must be given a rank here.
var deviceLayers = map[string]int{
	"device/hello":              0,
	"device/internal/statefile": 0,
	"device/internal/httpx":     0,
	"device/identity":           1,
	"device/push":               1,
	"device/webauth":            2,
	"device/omadm":              2,
	"device/resetpolicy":        2,
	"device/enroll":             3,
	"device/certs":              4,
	"device/pinreset":           4,
	"device":                    5,
}

// deviceOutside are the module's trees no device package may depend on: the agent talks to
// the server only over HTTPS.
var deviceOutside = []string{"server", "store", "pinreset", "policy", "audit"}

// deviceLayeringViolations applies the rules to each device package's dependencies (path
// within the module → its transitive non-test dependencies within the module). The result
// is sorted.
func deviceLayeringViolations(deps map[string][]string) []string {
	under := func(p, dir string) bool { return p == dir || strings.HasPrefix(p, dir+"/") }
	var out []string
	for pkg, ds := range deps {
		rank, ok := deviceLayers[pkg]
		if !ok {
			out = append(out, pkg+" has no rank in deviceLayers")
			continue
		}
		for _, d := range ds {
			if under(d, "device") {
				if r, ok := deviceLayers[d]; ok && r >= rank && d != pkg {
					out = append(out, pkg+" depends on "+d)
				}
				continue
			}
			for _, o := range deviceOutside {
				if under(d, o) {
					out = append(out, pkg+" depends on "+d)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// TestLayering lists every device package's dependencies with `go list -deps` and checks
// that they point one way (deviceLayers).
func TestLayering(t *testing.T) {
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command to list packages with (%v)", err)
	}
	out, err := exec.Command(gobin, "list", "-f", "{{.ImportPath}}{{range .Deps}} {{.}}{{end}}", module+"/device/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := map[string][]string{}
	for line := range strings.Lines(string(out)) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		var own []string
		for _, d := range f[1:] {
			if p, ok := strings.CutPrefix(d, module+"/"); ok {
				own = append(own, p)
			}
		}
		deps[strings.TrimPrefix(f[0], module+"/")] = own
	}
	for pkg := range deviceLayers {
		if _, ok := deps[pkg]; !ok {
			t.Errorf("go list did not list %s: update deviceLayers", pkg)
		}
	}
	if !slices.Contains(deps["device"], "device/pinreset") || !slices.Contains(deps["device/certs"], "device/enroll") {
		t.Error("device no longer wires its subpackages as deviceLayers says: update this test")
	}
	if v := deviceLayeringViolations(deps); len(v) > 0 {
		t.Errorf("device layering broken:\n%s", strings.Join(v, "\n"))
	}
}

func TestDeviceLayeringViolations(t *testing.T) {
	got := deviceLayeringViolations(map[string][]string{
		"device":             {"device/pinreset", "device/hello", "csp"},
		"device/enroll":      {"device/certs", "device/identity", "enrollment/mde2"},
		"device/identity":    {"device", "device/hello"},
		"device/omadm":       {"device/webauth", "device/omadm", "server/omadm"},
		"device/hello":       {"storefault", "store/bolt"},
		"device/certs":       {"pinreset/idp", "device/enroll"},
		"device/newconcern":  {"device/hello"},
		"device/resetpolicy": {"policy/model"},
	})
	want := []string{
		"device/certs depends on pinreset/idp",
		"device/enroll depends on device/certs",
		"device/hello depends on store/bolt",
		"device/identity depends on device",
		"device/newconcern has no rank in deviceLayers",
		"device/omadm depends on device/webauth",
		"device/omadm depends on server/omadm",
		"device/resetpolicy depends on policy/model",
	}
	if !slices.Equal(got, want) {
		t.Errorf("violations:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
