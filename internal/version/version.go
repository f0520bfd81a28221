// Package version reports what build of hellomdm is running: the release version, the VCS
// commit and time, and the Go toolchain, taken from the binary's embedded build information
// (runtime/debug.ReadBuildInfo) unless the linker set them:
//
//	go build -ldflags "-X github.com/hellomdm/hellomdm/internal/version.version=v1.2.3 \
//	  -X github.com/hellomdm/hellomdm/internal/version.commit=abc123 \
//	  -X github.com/hellomdm/hellomdm/internal/version.date=2026-01-02T03:04:05Z" ./cmd/hellomdm
//
// A build with -buildvcs=false (or outside a git checkout) has no VCS stamp: commit and date
// then read "unknown" rather than anything made up.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"sync"
)

// Set with -ldflags -X; empty means "take it from the build information".
var (
	version string
	commit  string
	date    string
)

// Unknown is what a field reads when neither the linker nor the build information knows it.
const Unknown = "unknown"

// Info describes the running build.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	Date      string `json:"date"`
	GoVersion string `json:"goVersion"`
	// Modified is true when the commit was built with uncommitted changes (vcs.modified).
	Modified bool `json:"modified,omitempty"`
}

var (
	once   sync.Once
	cached Info
)

// Get returns the running build's Info (computed once).
func Get() Info {
	once.Do(func() {
		bi, _ := debug.ReadBuildInfo()
		cached = resolve(bi, version, commit, date)
	})
	return cached
}

// resolve combines linker overrides with the build information; split out to be testable.
func resolve(bi *debug.BuildInfo, ldVersion, ldCommit, ldDate string) Info {
	info := Info{Version: "devel", Commit: Unknown, Date: Unknown, GoVersion: runtime.Version()}
	if bi != nil {
		if bi.GoVersion != "" {
			info.GoVersion = bi.GoVersion
		}
		// "(devel)" is what the go command records for a build of the main module from its
		// own source tree; a `go install module@vX` records the real version.
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			info.Version = v
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				info.Commit = s.Value
			case "vcs.time":
				info.Date = s.Value
			case "vcs.modified":
				info.Modified = s.Value == "true"
			}
		}
	}
	if ldVersion != "" {
		info.Version = ldVersion
	}
	if ldCommit != "" {
		info.Commit = ldCommit
		info.Modified = false
	}
	if ldDate != "" {
		info.Date = ldDate
	}
	return info
}

// String is the one-line form `hellomdm version` prints.
func (i Info) String() string {
	c := i.Commit
	if i.Modified {
		c += "+dirty"
	}
	return fmt.Sprintf("hellomdm %s (commit %s, built %s, %s)", i.Version, c, i.Date, i.GoVersion)
}
