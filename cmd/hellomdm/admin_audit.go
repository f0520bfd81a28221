package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
)

// progressEvery is how often the export progress line is rewritten.
const progressEvery = 200 * time.Millisecond

func runAuditExport(c *adminClient, args []string) error {
	fs := commandFlags("audit export")
	tid := fs.String("tenant", "", "tenant ID or domain")
	out := fs.String("out", "", "file to write (created or replaced when the export completes)")
	format := fs.String("format", "csv", "csv, json or ndjson")
	var kinds repeatedString
	fs.Var(&kinds, "kind", "event kind (repeatable or comma-separated)")
	params := map[string]*string{}
	for _, p := range []struct{ name, help string }{
		{"from", "first event time (RFC 3339)"}, {"to", "end of the period (RFC 3339)"},
		{"device", "only this device's events (device ID or name)"}, {"profile", "only this profile's events (profile ID or name)"},
		{"actor", "only events by this actor"},
	} {
		params[p.name] = fs.String(p.name, "", p.help)
	}
	if err := parseCommand(fs, args, "tenant", "out"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"unexpected argument " + fs.Arg(0)}
	}
	tenant, err := c.resolve("tenant", "", *tid)
	if err != nil {
		return err
	}
	q := adminclient.AuditQuery{Format: *format, From: *params["from"], To: *params["to"], Kinds: kinds, Actor: *params["actor"]}
	// Device and profile names become IDs; one that is neither goes to the server as it is
	// (it may know an ID the list does not show, e.g. a deleted device's).
	for _, f := range []struct {
		kind string
		v    *string
	}{{"device", &q.Device}, {"profile", &q.Profile}} {
		if *params[f.kind] != "" {
			if *f.v, err = c.resolve(f.kind, tenant, *params[f.kind]); err != nil {
				return err
			}
		}
	}
	dl, err := c.api.ExportAudit(c.ctx, tenant, q)
	if err := c.read(err); err != nil {
		return err
	}
	return exportToFile(c, dl, *out, *format)
}

// exportToFile streams a download into a temporary file next to out, showing progress on
// stderr, and renames it to out only once the server finished the export: a broken transfer
// leaves no file that looks complete.
func exportToFile(c *adminClient, dl *adminclient.Download, out, format string) error {
	defer dl.Body.Close()
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".part*")
	if err != nil {
		return fmt.Errorf("creating output file: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this finds nothing
	cnt := newRowCounter(format)
	p := startProgress(c.stderr, cnt)
	start := time.Now()
	_, err = io.Copy(io.MultiWriter(tmp, cnt), dl.Body)
	p.stop()
	if err != nil {
		tmp.Close()
		return fmt.Errorf("export interrupted after %d events (%d bytes): %w", cnt.rows.Load(), cnt.bytes.Load(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("writing %s: %w", out, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("writing %s: %w", out, err)
	}
	fmt.Fprintf(c.stderr, "\rexported %d events (%d bytes) to %s in %s\n", cnt.rows.Load(), cnt.bytes.Load(), out,
		time.Since(start).Round(time.Millisecond))
	return nil
}

// progress rewrites one stderr line with the counts so far.
type progress struct {
	done chan struct{}
	wg   sync.WaitGroup
}

func startProgress(w io.Writer, cnt *rowCounter) *progress {
	p := &progress{done: make(chan struct{})}
	p.wg.Go(func() {
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		for {
			select {
			case <-p.done:
				return
			case <-t.C:
				fmt.Fprintf(w, "\r%d events, %d bytes so far", cnt.rows.Load(), cnt.bytes.Load())
			}
		}
	})
	return p
}

func (p *progress) stop() {
	close(p.done)
	p.wg.Wait()
}

// rowCounter counts the records of an export as it streams: NDJSON lines, CSV records after
// the header (a line break inside a quoted cell does not end a record), or the objects of a
// JSON array.
type rowCounter struct {
	format      string
	rows, bytes atomic.Int64
	// scanner state
	inString, escaped bool
	depth             int
	header            bool // CSV: the header line has ended
}

func newRowCounter(format string) *rowCounter {
	return &rowCounter{format: strings.ToLower(strings.TrimSpace(format))}
}

func (r *rowCounter) Write(b []byte) (int, error) {
	var rows int64
	for _, c := range b {
		switch r.format {
		case "csv":
			switch {
			case c == '"':
				r.inString = !r.inString // "" inside a quoted cell toggles twice
			case c == '\n' && !r.inString:
				if r.header {
					rows++
				}
				r.header = true
			}
		case "json":
			switch {
			case r.escaped:
				r.escaped = false
			case r.inString && c == '\\':
				r.escaped = true
			case c == '"':
				r.inString = !r.inString
			case r.inString:
			case c == '{' || c == '[':
				r.depth++
			case c == '}' || c == ']':
				r.depth--
				if c == '}' && r.depth == 1 {
					rows++
				}
			}
		default: // ndjson
			if c == '\n' {
				rows++
			}
		}
	}
	r.rows.Add(rows)
	r.bytes.Add(int64(len(b)))
	return len(b), nil
}

// errChainBroken makes `audit verify` exit 1 after printing where the chain broke.
var errChainBroken = errors.New("the audit chain does not verify")

func runAuditVerify(c *adminClient, args []string) error {
	fs := commandFlags("audit verify")
	tid := fs.String("tenant", "", "tenant ID or domain")
	if err := parseCommand(fs, args, "tenant"); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageError{"unexpected argument " + fs.Arg(0)}
	}
	tenant, err := c.resolve("tenant", "", *tid)
	if err != nil {
		return err
	}
	v, err := c.api.VerifyAudit(c.ctx, tenant)
	if err := c.read(err); err != nil {
		return err
	}
	if c.output == "json" {
		if err := c.printJSON(v); err != nil {
			return err
		}
	} else if v.OK {
		fmt.Fprintf(c.stdout, "audit chain OK: %d events verified, head seq %d hash %s\n", v.Checked, v.Head.Seq, v.Head.Hash)
	}
	if c.output != "json" && v.Unsealed.Count > 0 {
		oldest := ""
		if v.Unsealed.Oldest != nil {
			oldest = ", oldest " + v.Unsealed.Oldest.UTC().Format(time.RFC3339Nano)
		}
		fmt.Fprintf(c.stdout, "%d events committed after the head, not sealed yet (not verified)%s\n", v.Unsealed.Count, oldest)
	}
	if !v.OK {
		if v.Broken == nil {
			return errChainBroken
		}
		return fmt.Errorf("%w: first broken link at seq %d (event %s): %s: %s (%d events verified before it)",
			errChainBroken, v.Broken.Seq, v.Broken.EventID, v.Broken.Reason, v.Broken.Detail, v.Checked)
	}
	return nil
}
