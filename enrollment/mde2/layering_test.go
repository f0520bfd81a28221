package mde2

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/hellomdm/hellomdm"

// TestLayering holds the codec below both of its users: it depends on nothing of the module
// but internal/xmlx, and the device agent reaches enrollment only through it.
func TestLayering(t *testing.T) {
	own := func(pkg string) []string {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", module+"/"+pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", pkg, err, out)
		}
		var deps []string
		for _, d := range strings.Fields(string(out)) {
			if strings.HasPrefix(d, module+"/") {
				deps = append(deps, strings.TrimPrefix(d, module+"/"))
			}
		}
		return deps
	}
	if got := own("enrollment/mde2"); !slices.Equal(got, []string{"internal/xmlx", "enrollment/mde2"}) {
		t.Errorf("enrollment/mde2 depends on %q; want internal/xmlx only", got)
	}
	device := own("device")
	if !slices.Contains(device, "enrollment/mde2") {
		t.Error("device no longer uses enrollment/mde2: update this test")
	}
	for _, d := range device {
		if (d == "enrollment" || strings.HasPrefix(d, "enrollment/")) && d != "enrollment/mde2" {
			t.Errorf("device depends on %s; it reaches enrollment only through enrollment/mde2", d)
		}
	}
}
