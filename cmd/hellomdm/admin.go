package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
)

// adminCommand is one `hellomdm admin ...` command: a row of adminTable.
type adminCommand struct {
	name    string // one or two words: "tenant create", "apply"
	usage   string // e.g. "tenant create --id GUID --name NAME --domain D [--auth-policy P]"
	example string // what -h shows; "" is the usage line with the tour's names
	// noIDs, when set, says why the command has no IDs to print: -q is refused with it.
	// Every other command prints under -q the IDs of the objects it shows, created or
	// changed, one per line (user totp: the otpauth:// URI).
	noIDs string
	run   func(c *adminClient, args []string) error
}

// adminCommands indexes adminTable by name.
var adminCommands = indexAdminTable(adminTable)

func indexAdminTable(table []adminCommand) map[string]adminCommand {
	m := make(map[string]adminCommand, len(table))
	for _, cmd := range table {
		if _, dup := m[cmd.name]; dup {
			panic("admin command " + cmd.name + " is in adminTable twice")
		}
		m[cmd.name] = cmd
	}
	return m
}

// adminClient is one admin command's run: the API client, the output settings and the
// name lookups (admin_names.go).
type adminClient struct {
	api     *adminclient.Client
	ctx     context.Context
	server  string // base URL as given (for login and hints)
	caFile  string // as given (for login)
	context string // --context, for login and logout
	token   string
	output  string // "table", "json" or "id" (-q)
	stdout  io.Writer
	stderr  io.Writer
	names   map[string][]nameCandidate // name lookups of this run (admin_names.go)
	notes   []string                   // values that were neither an ID nor a name, for the next refusal
}

const adminDefaultServer = "https://127.0.0.1:8443"

// adminGlobals are the flags before the command.
type adminGlobals struct {
	fs                                         *flag.FlagSet
	server, token, caFile, contextName, output *string
	quiet                                      *bool
}

func newAdminGlobals() adminGlobals {
	fs := flag.NewFlagSet("hellomdm admin", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return adminGlobals{fs: fs,
		server:      fs.String("server", adminDefaultServer, "server base URL (or the context's)"),
		token:       fs.String("token", "", "admin bearer token (or HELLOMDM_ADMIN_TOKEN, or the context's)"),
		caFile:      fs.String("ca-file", "", "PEM file of the CA that signed the server certificate: DATA/ca.pem (or the context's)"),
		contextName: fs.String("context", "", "the stored login to use (admin login; default: the current one)"),
		output:      fs.String("o", "table", "output: table or json"),
		quiet:       fs.Bool("q", false, "print only the IDs of the objects shown, created or changed, one per line (user totp: the otpauth:// URI), for $(...) in scripts"),
	}
}

func (g adminGlobals) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: hellomdm admin [--server URL] [--token T] [--ca-file F] [--context NAME] [-o table|json] [-q] <command> ...\n\nCommands:\n")
	var names []string
	for n := range adminCommands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %s\n", adminCommands[n].usage)
	}
	fmt.Fprintln(w, "\nGlobal flags:")
	printFlagLines(w, g.fs)
	fmt.Fprintln(w, "\nRun 'hellomdm admin <command> -h' for a command's flags and an example.")
}

func runAdmin(args []string, stdout, stderr io.Writer) int {
	g := newAdminGlobals()
	err := parseFlags(g.fs, args, "HELLOMDM_ADMIN_")
	switch {
	case errors.Is(err, flag.ErrHelp):
		g.usage(stdout)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "hellomdm admin: %s\nRun 'hellomdm admin -h' for its flags and commands.\n", flagError(g.fs, err))
		return exitUsage
	}
	rest := g.fs.Args()
	if len(rest) == 0 {
		g.usage(stderr)
		return exitUsage
	}
	if isHelp(rest[0]) {
		g.usage(stdout)
		return exitOK
	}
	// Commands are one or two words: "tenant create", "audit export", "apply".
	name, cmdArgs := rest[0], rest[1:]
	if _, ok := adminCommands[name]; !ok && len(rest) > 1 {
		name, cmdArgs = rest[0]+" "+rest[1], rest[2:]
	}
	cmd, ok := adminCommands[name]
	if !ok {
		fmt.Fprintf(stderr, "hellomdm admin: unknown command %q%s\nRun 'hellomdm admin -h' for the commands.\n", strings.Join(rest, " "), adminSuggestion(rest))
		return exitUsage
	}
	c, code := g.client(name, cmd, cmdArgs, stdout, stderr)
	if c == nil {
		return code
	}
	return c.finish(name, cmd, cmd.run(c, cmdArgs))
}

// client checks the output flags, fills in the stored login's settings and builds the
// command's client; nil, with the exit code, when the command line is refused.
func (g adminGlobals) client(name string, cmd adminCommand, cmdArgs []string, stdout, stderr io.Writer) (*adminClient, int) {
	if *g.output != "table" && *g.output != "json" {
		fmt.Fprintf(stderr, "hellomdm admin: -o %q: want table or json\n", *g.output)
		return nil, exitUsage
	}
	if *g.quiet {
		if cmd.noIDs != "" && !slices.ContainsFunc(cmdArgs, isHelp) {
			fmt.Fprintf(stderr, "hellomdm admin %s: -q prints only IDs, and %s has none to print: %s\n", name, name, cmd.noIDs)
			return nil, exitUsage
		}
		*g.output = "id"
	}
	// Settings not given as flags or environment come from the stored login (admin login).
	// login itself stores what it is given; logout and context commands only edit the file.
	if name != "login" {
		if msg := g.fromContext(name); msg != "" {
			fmt.Fprintln(stderr, msg)
			return nil, exitUsage
		}
	}
	var pool *x509.CertPool
	if *g.caFile != "" {
		var err error
		pool, err = adminclient.LoadCAFile(*g.caFile)
		switch {
		case errors.Is(err, adminclient.ErrNoCertificate):
			fmt.Fprintf(stderr, "hellomdm admin: %s holds no PEM certificate (want the server's DATA/ca.pem)\n", *g.caFile)
			return nil, exitUsage
		case err != nil:
			fmt.Fprintf(stderr, "hellomdm admin: --ca-file: %v\n", err)
			return nil, exitUsage
		}
	}
	base := strings.TrimRight(*g.server, "/")
	api := adminclient.New(adminclient.Config{Server: base, Token: *g.token, RootCAs: pool, Timeout: 5 * time.Minute})
	return &adminClient{api: api, ctx: context.Background(), server: base, caFile: *g.caFile, context: *g.contextName,
		token: *g.token, output: *g.output, stdout: stdout, stderr: stderr}, exitOK
}

// fromContext fills the settings not given as flags or environment from the stored login
// (--context, else the current one); it returns the refusal of a --context that is not there.
func (g adminGlobals) fromContext(name string) string {
	given := map[string]bool{}
	g.fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	cfg, _, cfgErr := loadAdminConfig()
	use := *g.contextName
	if use == "" {
		use = cfg.Current
	}
	if use == "" {
		return ""
	}
	ctx, ok := cfg.Contexts[use]
	switch {
	case cfgErr != nil && *g.contextName != "":
		return fmt.Sprintf("hellomdm admin: --context %s: %v", use, cfgErr)
	case !ok && *g.contextName != "" && name != "logout":
		return fmt.Sprintf("hellomdm admin: no context %q%s (hellomdm admin context list shows them; hellomdm admin login --context %s stores one)",
			use, didYouMean(use, cfg.names()), use)
	case ok:
		if !given["server"] {
			*g.server = ctx.Server
		}
		if !given["ca-file"] {
			*g.caFile = ctx.CAFile
		}
		if !given["token"] {
			*g.token = ctx.Token
		}
	}
	return ""
}

// finish prints what the command's error means and returns the exit code.
func (c *adminClient) finish(name string, cmd adminCommand, err error) int {
	var ue usageError
	var he helpRequest
	var ae *adminclient.Error
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &he):
		printFlagHelp(c.stdout, "hellomdm admin "+cmd.usage, he.fs, adminExample(name, cmd))
		return exitOK
	case errors.As(err, &ue) && ue.msg == flag.ErrHelp.Error():
		// A command that parses its flags itself: its usage line and example.
		fmt.Fprintf(c.stdout, "Usage: hellomdm admin %s\n\nExample:\n  %s\n", cmd.usage, adminExample(name, cmd))
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(c.stderr, "hellomdm admin %s: %v\nusage: hellomdm admin %s\nRun 'hellomdm admin %s -h' for its flags and an example.\n", name, err, cmd.usage, name)
		return exitUsage
	case transportError(err):
		fmt.Fprintf(c.stderr, "hellomdm admin %s: %v\n%s\n", name, err, transportHint(err, c.server, caFileAdvice))
		return exitTransport
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && c.token == "":
		fmt.Fprintf(c.stderr, "hellomdm admin %s: %v\nNo admin token was sent: pass --token or set HELLOMDM_ADMIN_TOKEN (or store one with hellomdm admin login).\n", name, err)
		return exitFailed
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
		fmt.Fprintf(c.stderr, "hellomdm admin %s: %v\nThe server does not accept this token: check --token, HELLOMDM_ADMIN_TOKEN or the stored login (hellomdm admin context list).\n", name, err)
		return exitFailed
	}
	fmt.Fprintf(c.stderr, "hellomdm admin %s: %v\n", name, err)
	return exitFailed
}

// adminSuggestion is the did-you-mean for a mistyped admin command (one or two words).
func adminSuggestion(rest []string) string {
	var names, firsts []string
	seen := map[string]bool{}
	for n := range adminCommands {
		names = append(names, n)
		w, _, _ := strings.Cut(n, " ")
		if !seen[w] {
			seen[w] = true
			firsts = append(firsts, w)
		}
	}
	if len(rest) > 1 && seen[rest[0]] {
		var seconds []string
		for _, n := range names {
			if w, second, ok := strings.Cut(n, " "); ok && w == rest[0] {
				seconds = append(seconds, second)
			}
		}
		if m := suggest(rest[1], seconds); m != "" {
			return fmt.Sprintf("; did you mean %q?", rest[0]+" "+m)
		}
		return fmt.Sprintf("; %s takes one of: %s", rest[0], strings.Join(sortedCopy(seconds), ", "))
	}
	if len(rest) > 1 {
		if m := suggest(rest[0]+" "+rest[1], names); m != "" {
			return fmt.Sprintf("; did you mean %q?", m)
		}
	}
	return didYouMean(rest[0], firsts)
}

func sortedCopy(s []string) []string {
	out := append([]string{}, s...)
	sort.Strings(out)
	return out
}

// flagParseError is the error of an admin command whose flags did not parse: -h is a
// helpRequest, anything else a usageError with a suggestion for a mistyped flag.
func flagParseError(fs *flag.FlagSet, err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return helpRequest{fs}
	}
	return usageError{flagError(fs, err)}
}

// helpRequest is -h given to an admin command: its help goes to stdout, exit 0.
type helpRequest struct{ fs *flag.FlagSet }

func (helpRequest) Error() string { return "help requested" }

// usageError marks a mistake in the command line (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// notedError is the server's refusal of a value the client could not resolve: the note says
// it is neither an ID nor a name ("code: message (HTTP n): note").
type notedError struct {
	api  *adminclient.Error
	note string
}

func (e *notedError) Error() string { return e.api.Error() + ": " + e.note }
func (e *notedError) Unwrap() error { return e.api }

// read finishes a call of the API: a refusal carries the notes of the values that were
// neither an ID nor a name (admin_names.go), which are then spent.
func (c *adminClient) read(err error) error {
	notes := c.notes
	c.notes = nil
	var ae *adminclient.Error
	if errors.As(err, &ae) && len(notes) > 0 {
		return &notedError{api: ae, note: strings.Join(notes, "; ")}
	}
	return err
}

// wrote finishes a write: as read, and the names looked up so far are forgotten.
func (c *adminClient) wrote(err error) error {
	c.names = nil
	return c.read(err)
}

// warnAnswer prints the warnings of an API answer on stderr: the write was done, but
// something about it will not work as the admin may expect (e.g. PIN reset in a government
// cloud).
func (c *adminClient) warnAnswer(warnings []string) {
	for _, w := range warnings {
		fmt.Fprintln(c.stderr, "warning: "+w)
	}
}

// print writes v as indented JSON (-o json) or as a table of the given columns, each row
// taken from v's "value" list (or v itself) by JSON field name.
func (c *adminClient) print(v any, columns ...string) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if c.output == "json" {
		// As the server's JSON decoded into maps: properties in name order, numbers as sent.
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		var norm any
		if err := dec.Decode(&norm); err != nil {
			return err
		}
		enc := json.NewEncoder(c.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(norm)
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
		var ids []string
		for _, r := range rows {
			ids = append(ids, cell(r["id"]))
		}
		return c.printIDs(ids...)
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

// printJSON writes v as indented JSON with its properties in the order of its type (a
// command's own report: the apply plan, a profile's status, the audit check).
func (c *adminClient) printJSON(v any) error {
	enc := json.NewEncoder(c.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// printList prints a list the API answered as {"value": [...]}.
func printList[T any](c *adminClient, list []T, columns ...string) error {
	if list == nil {
		list = []T{}
	}
	return c.print(map[string]any{"value": list}, columns...)
}

// listInTenant runs a list command whose one flag is --tenant: it resolves the tenant (ID,
// domain or name), fetches the list and prints its columns.
func listInTenant[T any](c *adminClient, args []string, command string, fetch func(context.Context, string) ([]T, error), columns ...string) error {
	fs := commandFlags(command)
	tid := fs.String("tenant", "", "tenant ID or domain")
	if err := parseCommand(fs, args, "tenant"); err != nil {
		return err
	}
	tenant, err := c.resolve("tenant", "", *tid)
	if err != nil {
		return err
	}
	list, err := fetch(c.ctx, tenant)
	if err := c.read(err); err != nil {
		return err
	}
	return printList(c, list, columns...)
}

// inTenantHelp is the help of the flag naming a tenant's user, device or group.
var inTenantHelp = map[string]string{"device": "device ID or name", "group": "group ID or name", "user": "user ID or user principal name"}

// parseInTenant parses a command whose only flags are --tenant and --<kind> (user, device or
// group) and resolves both, each an ID or a name, to IDs.
func (c *adminClient) parseInTenant(command, kind string, args []string) (tenantID, id string, err error) {
	fs := commandFlags(command)
	tid := fs.String("tenant", "", "tenant ID or domain")
	v := fs.String(kind, "", inTenantHelp[kind])
	if err := parseCommand(fs, args, "tenant", kind); err != nil {
		return "", "", err
	}
	return c.resolveIn(kind, *tid, *v)
}

// printIDs is the -q output: each non-empty ID on a line of its own.
func (c *adminClient) printIDs(ids ...string) error {
	for _, id := range ids {
		if id == "" {
			continue
		}
		if _, err := fmt.Fprintln(c.stdout, id); err != nil {
			return err
		}
	}
	return nil
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
	case json.Number:
		return x.String()
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
		return flagParseError(fs, err)
	}
	for _, r := range required {
		if f := fs.Lookup(r); f != nil && f.Value.String() == "" {
			return usageError{"--" + r + " is required"}
		}
	}
	return nil
}
