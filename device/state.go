package device

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Files of the state directory (mode 0700), each replaced atomically
// (device/internal/statefile). The device certificate's files are device/certs', the Hello
// containers and the PIN reset bookkeeping device/pinreset's.
const (
	fileIdentity   = "identity.json"
	fileEnrollment = "enrollment.json"
	fileDMClient   = "dmclient.json"
	filePolicy     = "policy.json"
	fileTree       = "csp-tree.json"
)

// StateExists reports whether dir holds a device's state (the identity Open writes), without
// creating anything: commands that only read or use an enrollment check it first, so a
// mistyped directory is named instead of becoming a new, empty device.
func StateExists(dir string) (bool, error) {
	_, err := os.Stat(filepath.Join(dir, fileIdentity))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}
