package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
)

// Group Policy import: `gpo analyze` and `gpo import` upload a GPO to the server, which
// parses and maps it (package policy/gpo) and records the audit events. A directory is a
// GPMC backup folder and is sent as a zip archive of its files; a file is sent as it is
// (registry.pol, gpreport.xml or LGPO text, recognised by the server from its content).

func runGpoAnalyze(c *adminClient, args []string) error {
	fs := commandFlags("gpo analyze")
	tid := fs.String("tenant", "", "tenant ID or domain")
	scope := fs.String("scope", "", "the half of a bare registry.pol: machine or user (default: from its folder name, else machine)")
	output := fs.String("o", "", "output: table or json")
	path, err := parseGPOCommand(fs, args, output, c, "tenant")
	if err != nil {
		return err
	}
	body, name, sc, err := gpoUpload(path, *scope)
	if err != nil {
		return err
	}
	tenant, err := c.resolve("tenant", "", *tid)
	if err != nil {
		return err
	}
	out, err := c.api.AnalyzeGroupPolicy(c.ctx, tenant, adminclient.GroupPolicyUpload{FileName: name, Scope: sc, Data: body})
	if err := c.wrote(err); err != nil {
		return err
	}
	return c.printGPO(out, false)
}

func runGpoImport(c *adminClient, args []string) error {
	fs := commandFlags("gpo import")
	tid := fs.String("tenant", "", "tenant ID or domain")
	name := fs.String("name", "", "name of the profile to create")
	scope := fs.String("scope", "", "the half of a bare registry.pol: machine or user (default: from its folder name, else machine)")
	dryRun := fs.Bool("dry-run", false, "print the profile that would be created; create nothing")
	output := fs.String("o", "", "output: table or json")
	path, err := parseGPOCommand(fs, args, output, c, "tenant", "name")
	if err != nil {
		return err
	}
	if *dryRun && c.output == "id" {
		return usageError{"-q prints the ID of the profile created, and --dry-run creates none: leave out one of them"}
	}
	body, file, sc, err := gpoUpload(path, *scope)
	if err != nil {
		return err
	}
	tenant, err := c.resolve("tenant", "", *tid)
	if err != nil {
		return err
	}
	out, err := c.api.ImportGroupPolicy(c.ctx, tenant, *name, *dryRun, adminclient.GroupPolicyUpload{FileName: file, Scope: sc, Data: body})
	if err := c.wrote(err); err != nil {
		return err
	}
	return c.printGPO(out, true)
}

// parseGPOCommand parses flags given before or after the one PATH argument and applies a
// command-level -o.
func parseGPOCommand(fs *flag.FlagSet, args []string, output *string, c *adminClient, required ...string) (string, error) {
	var paths []string
	for {
		if err := fs.Parse(args); err != nil {
			return "", flagParseError(fs, err)
		}
		rest := fs.Args()
		if len(rest) == 0 {
			break
		}
		paths = append(paths, rest[0])
		args = rest[1:]
	}
	for _, r := range required {
		if f := fs.Lookup(r); f != nil && f.Value.String() == "" {
			return "", usageError{"--" + r + " is required"}
		}
	}
	switch *output {
	case "":
	case "table", "json":
		c.output = *output
	default:
		return "", usageError{fmt.Sprintf("-o %q: want table or json", *output)}
	}
	if len(paths) != 1 {
		return "", usageError{"give exactly one PATH: a GPMC backup folder, a gpreport.xml, a registry.pol or an LGPO text file"}
	}
	return paths[0], nil
}

// gpoUpload reads PATH: a directory is zipped (a GPMC backup folder), a file is sent as it
// is. The scope of a bare registry.pol defaults to its folder's name (Machine or User).
func gpoUpload(path, scope string) (body []byte, name, sc string, err error) {
	info, err := os.Stat(path)
	if err != nil {
		return nil, "", "", err
	}
	name = filepath.Base(path)
	if info.IsDir() {
		body, err = zipFolder(path)
		return body, name + ".zip", "", err
	}
	body, err = os.ReadFile(path)
	if err != nil {
		return nil, "", "", err
	}
	switch strings.ToLower(scope) {
	case "":
		if strings.EqualFold(filepath.Base(filepath.Dir(path)), "User") {
			sc = "user"
		}
		if parent := filepath.Base(filepath.Dir(path)); strings.EqualFold(parent, "User") || strings.EqualFold(parent, "Machine") {
			name = parent + "/" + name
		}
	case "machine", "user":
		sc = strings.ToLower(scope)
	default:
		return nil, "", "", usageError{fmt.Sprintf("--scope %q: want machine or user", scope)}
	}
	return body, name, sc, nil
}

// zipFolder zips the regular files under dir with paths relative to it.
func zipFolder(dir string) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		w, err := zw.Create(filepath.ToSlash(rel))
		if err != nil {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(w, f)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", dir, err)
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// printGPO prints an analysis (or import answer): JSON as the server answered, or a table of
// the rows with the summary under it.
func (c *adminClient) printGPO(answer any, imported bool) error {
	raw, err := json.Marshal(answer)
	if err != nil {
		return err
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return err
	}
	if c.output == "json" {
		return c.print(out)
	}
	if dry, _ := out["dryRun"].(bool); c.output == "id" && imported && !dry {
		_, err := fmt.Fprintln(c.stdout, out["id"]) // -q: the new profile's ID only
		return err
	}
	table := *c
	table.output = "table"
	if err := table.print(out, "scope", "key", "valueName", "data", "setting", "mdmSupport", "cspMapping", "value"); err != nil {
		return err
	}
	var sum struct {
		Settings, Supported, NotSupported, Unknown, SupportedPercent int
	}
	raw, _ = json.Marshal(out["summary"])
	_ = json.Unmarshal(raw, &sum)
	fmt.Fprintf(c.stdout, "\n%d settings: %d supported (%d%%), %d not supported, %d unknown\n",
		sum.Settings, sum.Supported, sum.SupportedPercent, sum.NotSupported, sum.Unknown)
	if instr, _ := out["instructions"].([]any); len(instr) > 0 {
		fmt.Fprintf(c.stdout, "%d deletion instruction(s) (not configured in MDM: nothing is sent for them)\n", len(instr))
	}
	if !imported {
		return nil
	}
	if dry, _ := out["dryRun"].(bool); dry {
		prof, _ := out["profile"].(map[string]any)
		n := 0
		if s, ok := prof["omaSettings"].([]any); ok {
			n = len(s)
		}
		_, err := fmt.Fprintf(c.stdout, "dry run: would create custom profile %q with %d settings (nothing created)\n", prof["displayName"], n)
		return err
	}
	_, err = fmt.Fprintf(c.stdout, "created profile %v\n", out["id"])
	return err
}
