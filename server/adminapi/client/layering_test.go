package adminclient_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayering: the wire types import the standard library only; the client, and the apply
// planner built on it, import no server, store or policy package besides them, so that the
// admin API's handlers can live under server/adminapi without a cycle and the CLI carries no
// server code through them.
func TestLayering(t *testing.T) {
	const module = "github.com/hellomdm/hellomdm"
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", module+"/server/adminapi/wire").CombinedOutput()
	if deps := strings.Fields(string(out)); err != nil || len(deps) != 1 {
		t.Errorf("server/adminapi/wire imports more than the standard library: %q %v", deps, err)
	}
	for _, pkg := range []string{module + "/server/adminapi/client", module + "/internal/apply"} {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		deps := strings.Fields(string(out))
		if len(deps) == 0 || deps[len(deps)-1] != pkg {
			t.Fatalf("go list %s listed %q", pkg, deps)
		}
		for _, d := range deps {
			rest, ok := strings.CutPrefix(d, module+"/")
			if !ok || d == pkg || rest == "server/adminapi/client" || rest == "server/adminapi/wire" {
				continue
			}
			for _, banned := range []string{"server", "store", "policy", "enrollment", "device", "pinreset"} {
				if rest == banned || strings.HasPrefix(rest, banned+"/") {
					t.Errorf("%s depends on %s", pkg, d)
				}
			}
		}
	}
}
