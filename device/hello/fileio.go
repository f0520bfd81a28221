package hello

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

const (
	fileMode    = 0o600
	dirMode     = 0o700
	fileSuffix  = ".ngc.json"
	maxFileSize = 1 << 20 // a container file is a few KiB; refuse anything past 1 MiB
)

// containerPath names the user's file after a hash of the user name, so no user name
// (UPN, DOMAIN\user, anything) can escape the directory.
func containerPath(dir, user string) (string, error) {
	if dir == "" {
		return "", errors.New("empty container directory")
	}
	if err := validUser(user); err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(user))
	return filepath.Join(dir, "ngc-"+hex.EncodeToString(sum[:16])+fileSuffix), nil
}

func validUser(user string) error {
	if user == "" {
		return errors.New("empty user name")
	}
	if len(user) > 1024 {
		return errors.New("user name longer than 1024 bytes")
	}
	if strings.ContainsRune(user, 0) {
		return errors.New("user name contains NUL")
	}
	return nil
}

// writeAtomic replaces path with data: temporary file in the same directory (mode 0600),
// write, fsync, rename over path, fsync the directory.
func writeAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("creating container directory: %w", err)
	}
	f, err := os.CreateTemp(dir, ".tmp-ngc-*")
	if err != nil {
		return fmt.Errorf("creating temporary file: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
		}
	}()
	if err = f.Chmod(fileMode); err != nil {
		return fmt.Errorf("setting file mode: %w", err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("writing temporary file: %w", err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("syncing temporary file: %w", err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("closing temporary file: %w", err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("renaming temporary file: %w", err)
	}
	return syncDir(dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("opening directory for sync: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory: %w", err)
	}
	return nil
}

func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("inspecting container file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%w: not a regular file", ErrCorrupt)
	}
	if st.Size() > maxFileSize {
		return nil, fmt.Errorf("%w: %d bytes exceeds %d", ErrCorrupt, st.Size(), maxFileSize)
	}
	data := make([]byte, st.Size())
	if _, err := f.ReadAt(data, 0); err != nil && st.Size() > 0 {
		return nil, fmt.Errorf("reading container file: %w", err)
	}
	return data, nil
}

// shredAndRemove overwrites the file with zeros, syncs, and removes it. A missing file is
// not an error. On copy-on-write or journaling file systems the overwrite is best effort;
// the key material is also sealed, so what survives is ciphertext.
func shredAndRemove(path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening container file for erasure: %w", err)
	}
	st, err := f.Stat()
	if err == nil && st.Mode().IsRegular() {
		_, err = f.WriteAt(make([]byte, st.Size()), 0)
		if err == nil {
			err = f.Sync()
		}
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("overwriting container file: %w", err)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("removing container file: %w", err)
	}
	return syncDir(filepath.Dir(path))
}
