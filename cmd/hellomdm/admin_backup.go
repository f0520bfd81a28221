package main

import (
	"fmt"
	"github.com/hellomdm/hellomdm/store/bolt"
	"io"
	"os"
	"path/filepath"
	"time"
)

// runBackup is `hellomdm admin backup --out FILE`: a consistent copy of a running bbolt
// server's database (GET /api/v1/backup), written next to FILE and renamed into place only
// when complete (every byte the server announced arrived, and the copy opens as a bbolt
// database).
func runBackup(c *adminClient, args []string) error {
	fs := commandFlags("backup")
	out := fs.String("out", "", "file to write (created or replaced when the backup is complete)")
	if err := parseCommand(fs, args, "out"); err != nil {
		return err
	}
	start := time.Now()
	dl, err := c.api.Backup(c.ctx)
	if err := c.read(err); err != nil {
		return err
	}
	defer dl.Body.Close()
	tmp, err := os.CreateTemp(filepath.Dir(*out), "."+filepath.Base(*out)+".part*")
	if err != nil {
		return fmt.Errorf("creating output file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this finds nothing
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	n, err := io.Copy(tmp, dl.Body)
	if err == nil && dl.Length >= 0 && n != dl.Length {
		err = fmt.Errorf("got %d of %d bytes", n, dl.Length)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("backup interrupted after %d bytes: %w", n, err)
	}
	if err := bolt.Check(tmp.Name()); err != nil {
		return fmt.Errorf("the downloaded copy is not a usable database: %w", err)
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return fmt.Errorf("writing %s: %w", *out, err)
	}
	if c.output == "json" {
		return c.print(map[string]any{"file": *out, "bytes": n}, "file", "bytes")
	}
	fmt.Fprintf(c.stdout, "backed up %d bytes to %s in %s\n", n, *out, time.Since(start).Round(time.Millisecond))
	return nil
}
