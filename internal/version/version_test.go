package version

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	vcs := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}, Settings: []debug.BuildSetting{
		{Key: "vcs.revision", Value: "0123456789abcdef"}, {Key: "vcs.time", Value: "2026-12-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"},
	}}
	noVCS := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "(devel)"}}
	installed := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Version: "v0.3.0"}}
	tests := []struct {
		name          string
		bi            *debug.BuildInfo
		ldV, ldC, ldD string
		want          Info
	}{
		{"vcs stamp", vcs, "", "", "", Info{Version: "devel", Commit: "0123456789abcdef", Date: "2026-12-01T10:00:00Z", GoVersion: "go1.26.0", Modified: true}},
		{"buildvcs=false", noVCS, "", "", "", Info{Version: "devel", Commit: Unknown, Date: Unknown, GoVersion: "go1.26.0"}},
		{"go install module@version", installed, "", "", "", Info{Version: "v0.3.0", Commit: Unknown, Date: Unknown, GoVersion: "go1.26.0"}},
		{"ldflags override", vcs, "v1.0.0", "feedbeef", "2027-01-01T00:00:00Z", Info{Version: "v1.0.0", Commit: "feedbeef", Date: "2027-01-01T00:00:00Z", GoVersion: "go1.26.0"}},
		{"ldflags version only", noVCS, "v1.0.0", "", "", Info{Version: "v1.0.0", Commit: Unknown, Date: Unknown, GoVersion: "go1.26.0"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := resolve(tt.bi, tt.ldV, tt.ldC, tt.ldD); got != tt.want {
				t.Errorf("resolve = %+v, want %+v", got, tt.want)
			}
		})
	}
	if got := resolve(nil, "", "", ""); got.Version != "devel" || got.Commit != Unknown || got.GoVersion == "" {
		t.Errorf("no build info: %+v", got)
	}
}

func TestString(t *testing.T) {
	s := Info{Version: "v1", Commit: "abc", Date: "d", GoVersion: "go1.26.0", Modified: true}.String()
	if s != "hellomdm v1 (commit abc+dirty, built d, go1.26.0)" {
		t.Errorf("String = %q", s)
	}
	if g := Get(); !strings.HasPrefix(g.GoVersion, "go") {
		t.Errorf("Get().GoVersion = %q", g.GoVersion)
	}
}
