package main

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

func init() { subcommands["admin"] = runAdmin }

// adminCommand is one `hellomdm admin ...` command. Commands register themselves in
// adminCommands from their own files.
type adminCommand struct {
	usage string // e.g. "tenant create --id GUID --name NAME --domain D [--auth-policy P]"
	run   func(c *adminClient, args []string) error
}

var adminCommands = map[string]adminCommand{}

// adminClient talks to /api/v1 with a bearer token.
type adminClient struct {
	base   string
	token  string
	output string // "table" or "json"
	http   *http.Client
	stdout io.Writer
	stderr io.Writer
	names  map[string][]nameCandidate // name lookups of this run (admin_names.go)
	notes  []string                   // values that were neither an ID nor a name, for the next refusal
}

func runAdmin(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("admin", flag.ContinueOnError)
	fs.SetOutput(stderr)
	server := fs.String("server", "https://127.0.0.1:8443", "server base URL")
	token := fs.String("token", "", "admin bearer token (or HELLOMDM_ADMIN_TOKEN)")
	caFile := fs.String("ca-file", "", "PEM file of the CA that signed the server certificate (DATA/ca.pem)")
	output := fs.String("o", "table", "output: table or json")
	quiet := fs.Bool("q", false, "print only the ID of each row (user totp: the otpauth:// URI), for $(...) in scripts")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: hellomdm admin [--server URL] [--token T] [--ca-file F] [-o table|json] <command> ...\n\nCommands:\n")
		var names []string
		for n := range adminCommands {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			fmt.Fprintf(stderr, "  %s\n", adminCommands[n].usage)
		}
	}
	if err := parseFlags(fs, args, "HELLOMDM_ADMIN_"); err != nil {
		return 2
	}
	if *token == "" {
		*token = os.Getenv("HELLOMDM_ADMIN_TOKEN")
	}
	rest := fs.Args()
	if len(rest) == 0 {
		fs.Usage()
		return 2
	}
	// Commands are one or two words: "tenant create", "audit export", "apply".
	name, cmdArgs := rest[0], rest[1:]
	if _, ok := adminCommands[name]; !ok && len(rest) > 1 {
		name, cmdArgs = rest[0]+" "+rest[1], rest[2:]
	}
	cmd, ok := adminCommands[name]
	if !ok {
		fmt.Fprintf(stderr, "hellomdm admin: unknown command %q\n", strings.Join(rest, " "))
		fs.Usage()
		return 2
	}
	if *output != "table" && *output != "json" {
		fmt.Fprintf(stderr, "hellomdm admin: -o %q: want table or json\n", *output)
		return 2
	}
	if *quiet {
		*output = "id"
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if *caFile != "" {
		pemBytes, err := os.ReadFile(*caFile)
		if err != nil {
			fmt.Fprintln(stderr, "hellomdm admin:", err)
			return 2
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			fmt.Fprintf(stderr, "hellomdm admin: %s holds no PEM certificate\n", *caFile)
			return 2
		}
		tlsCfg.RootCAs = pool
	}
	c := &adminClient{base: strings.TrimRight(*server, "/") + "/api/v1", token: *token, output: *output, stdout: stdout, stderr: stderr,
		http: &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{TLSClientConfig: tlsCfg}}}
	if err := cmd.run(c, cmdArgs); err != nil {
		var ue usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(stderr, "hellomdm admin %s: %v\nusage: hellomdm admin %s\n", name, err, cmd.usage)
			return 2
		}
		fmt.Fprintf(stderr, "hellomdm admin %s: %v\n", name, err)
		return 1
	}
	return 0
}

// usageError marks a mistake in the command line (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// apiError is the server's JSON error, shown to the admin as "code: message (HTTP n)".
type apiError struct {
	Status  int
	Code    string
	Message string
	Note    string // the client's explanation, e.g. a value that is neither an ID nor a name
}

func (e *apiError) Error() string {
	if e.Note != "" {
		return fmt.Sprintf("%s: %s (HTTP %d): %s", e.Code, e.Message, e.Status, e.Note)
	}
	return fmt.Sprintf("%s: %s (HTTP %d)", e.Code, e.Message, e.Status)
}

// do sends a JSON request and decodes a JSON answer into out (when non-nil).
func (c *adminClient) do(method, path string, body, out any) error {
	resolved, err := c.resolvePath(path)
	if err != nil {
		return err
	}
	return c.doRaw(method, resolved, body, out)
}

// doRaw is do without name resolution in path.
func (c *adminClient) doRaw(method, path string, body, out any) error {
	resp, err := c.sendRaw(method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decoding the server's answer: %w", err)
	}
	return nil
}

// call sends a JSON request and prints the answer (see print) with the given columns.
func (c *adminClient) call(method, path string, body any, columns ...string) error {
	var out map[string]any
	if err := c.do(method, path, body, &out); err != nil {
		return err
	}
	return c.print(out, columns...)
}

// send performs a request and turns non-2xx answers into *apiError; the caller closes the
// body of a successful response (for streaming). Names in path become IDs (resolvePath).
func (c *adminClient) send(method, path string, body any) (*http.Response, error) {
	resolved, err := c.resolvePath(path)
	if err != nil {
		return nil, err
	}
	return c.sendRaw(method, resolved, body)
}

// sendRaw is send without name resolution. A write forgets the names looked up so far.
func (c *adminClient) sendRaw(method, path string, body any) (*http.Response, error) {
	if method != http.MethodGet {
		c.names = nil
	}
	resp, err := c.exchange(method, path, body)
	var ae *apiError
	if errors.As(err, &ae) && len(c.notes) > 0 {
		ae.Note = strings.Join(c.notes, "; ")
	}
	c.notes = nil
	return resp, err
}

func (c *adminClient) exchange(method, path string, body any) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return nil, err
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		var e struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if json.Unmarshal(raw, &e) != nil || e.Error.Code == "" {
			e.Error.Code, e.Error.Message = "httpError", strings.TrimSpace(string(raw))
		}
		return nil, &apiError{Status: resp.StatusCode, Code: e.Error.Code, Message: e.Error.Message}
	}
	return resp, nil
}

// print writes v as indented JSON (-o json) or as a table of the given columns, each row
// taken from v's "value" list (or v itself) by JSON field name.
func (c *adminClient) print(v any, columns ...string) error {
	if c.output == "json" {
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(v)
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	var rows []map[string]any
	var list struct {
		Value []map[string]any `json:"value"`
	}
	if json.Unmarshal(raw, &list) == nil && list.Value != nil {
		rows = list.Value
	} else {
		var one map[string]any
		if err := json.Unmarshal(raw, &one); err != nil {
			return err
		}
		rows = []map[string]any{one}
	}
	if c.output == "id" {
		for _, r := range rows {
			if id := cell(r["id"]); id != "" {
				fmt.Fprintln(c.stdout, id)
			}
		}
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, strings.ToUpper(strings.Join(columns, "\t")))
	for _, r := range rows {
		cells := make([]string, len(columns))
		for i, col := range columns {
			cells[i] = cell(r[col])
		}
		fmt.Fprintln(tw, strings.Join(cells, "\t"))
	}
	return tw.Flush()
}

func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, p := range x {
			parts[i] = cell(p)
		}
		return strings.Join(parts, ",")
	case float64:
		if x == float64(int64(x)) {
			return fmt.Sprint(int64(x))
		}
		return fmt.Sprint(x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// commandFlags is a FlagSet for one admin command that reports mistakes as usage errors.
func commandFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

func parseCommand(fs *flag.FlagSet, args []string, required ...string) error {
	if err := fs.Parse(args); err != nil {
		return usageError{err.Error()}
	}
	for _, r := range required {
		if f := fs.Lookup(r); f != nil && f.Value.String() == "" {
			return usageError{"--" + r + " is required"}
		}
	}
	return nil
}
