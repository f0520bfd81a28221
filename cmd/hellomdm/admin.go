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
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
)

func init() { subcommands["admin"] = runAdmin }

// adminCommand is one `hellomdm admin ...` command. Commands register themselves in
// adminCommands from their own files.
type adminCommand struct {
	usage string // e.g. "tenant create --id GUID --name NAME --domain D [--auth-policy P]"
	run   func(c *adminClient, args []string) error
	// noIDs, when set, says why the command has no IDs to print: -q is refused with it.
	// Every other command prints under -q the IDs of the objects it shows, created or
	// changed, one per line (user totp: the otpauth:// URI).
	noIDs string
}

var adminCommands = map[string]adminCommand{}

// adminClient talks to /api/v1 with a bearer token.
type adminClient struct {
	base    string
	server  string // base URL as given (for login and hints)
	caFile  string // as given (for login)
	context string // --context, for login and logout
	token   string
	output  string // "table" or "json"
	http    *http.Client
	stdout  io.Writer
	stderr  io.Writer
	names   map[string][]nameCandidate // name lookups of this run (admin_names.go)
	notes   []string                   // values that were neither an ID nor a name, for the next refusal
}

const adminDefaultServer = "https://127.0.0.1:8443"

func runAdmin(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hellomdm admin", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	server := fs.String("server", adminDefaultServer, "server base URL (or the context's)")
	token := fs.String("token", "", "admin bearer token (or HELLOMDM_ADMIN_TOKEN, or the context's)")
	caFile := fs.String("ca-file", "", "PEM file of the CA that signed the server certificate: DATA/ca.pem (or the context's)")
	contextName := fs.String("context", "", "the stored login to use (admin login; default: the current one)")
	output := fs.String("o", "table", "output: table or json")
	quiet := fs.Bool("q", false, "print only the IDs of the objects shown, created or changed, one per line (user totp: the otpauth:// URI), for $(...) in scripts")
	usage := func(w io.Writer) {
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
		printFlagLines(w, fs)
		fmt.Fprintln(w, "\nRun 'hellomdm admin <command> -h' for a command's flags and an example.")
	}
	err := parseFlags(fs, args, "HELLOMDM_ADMIN_")
	switch {
	case errors.Is(err, flag.ErrHelp):
		usage(stdout)
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "hellomdm admin: %s\nRun 'hellomdm admin -h' for its flags and commands.\n", flagError(fs, err))
		return exitUsage
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	rest := fs.Args()
	if len(rest) == 0 {
		usage(stderr)
		return exitUsage
	}
	if isHelp(rest[0]) {
		usage(stdout)
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
	if *output != "table" && *output != "json" {
		fmt.Fprintf(stderr, "hellomdm admin: -o %q: want table or json\n", *output)
		return exitUsage
	}
	if *quiet {
		if cmd.noIDs != "" && !slices.ContainsFunc(cmdArgs, isHelp) {
			fmt.Fprintf(stderr, "hellomdm admin %s: -q prints only IDs, and %s has none to print: %s\n", name, name, cmd.noIDs)
			return exitUsage
		}
		*output = "id"
	}
	// Settings not given as flags or environment come from the stored login (admin login).
	// login itself stores what it is given; logout and context commands only edit the file.
	if name != "login" {
		cfg, _, cfgErr := loadAdminConfig()
		use := *contextName
		if use == "" {
			use = cfg.Current
		}
		if use != "" {
			ctx, ok := cfg.Contexts[use]
			switch {
			case cfgErr != nil && *contextName != "":
				fmt.Fprintf(stderr, "hellomdm admin: --context %s: %v\n", use, cfgErr)
				return exitUsage
			case !ok && *contextName != "" && name != "logout":
				fmt.Fprintf(stderr, "hellomdm admin: no context %q%s (hellomdm admin context list shows them; hellomdm admin login --context %s stores one)\n",
					use, didYouMean(use, cfg.names()), use)
				return exitUsage
			case ok:
				if !given["server"] {
					*server = ctx.Server
				}
				if !given["ca-file"] {
					*caFile = ctx.CAFile
				}
				if !given["token"] {
					*token = ctx.Token
				}
			}
		}
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if *caFile != "" {
		pemBytes, err := os.ReadFile(*caFile)
		if err != nil {
			fmt.Fprintf(stderr, "hellomdm admin: --ca-file: %v\n", err)
			return exitUsage
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pemBytes) {
			fmt.Fprintf(stderr, "hellomdm admin: %s holds no PEM certificate (want the server's DATA/ca.pem)\n", *caFile)
			return exitUsage
		}
		tlsCfg.RootCAs = pool
	}
	base := strings.TrimRight(*server, "/")
	c := &adminClient{base: base + "/api/v1", server: base, caFile: *caFile, context: *contextName, token: *token, output: *output,
		stdout: stdout, stderr: stderr,
		http: &http.Client{Timeout: 5 * time.Minute, Transport: &http.Transport{TLSClientConfig: tlsCfg}}}
	err = cmd.run(c, cmdArgs)
	var ue usageError
	var he helpRequest
	var ae *apiError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &he):
		printFlagHelp(stdout, "hellomdm admin "+cmd.usage, he.fs, adminExample(name, cmd))
		return exitOK
	case errors.As(err, &ue) && ue.msg == flag.ErrHelp.Error():
		// A command that parses its flags itself: its usage line and example.
		fmt.Fprintf(stdout, "Usage: hellomdm admin %s\n\nExample:\n  %s\n", cmd.usage, adminExample(name, cmd))
		return exitOK
	case errors.As(err, &ue):
		fmt.Fprintf(stderr, "hellomdm admin %s: %v\nusage: hellomdm admin %s\nRun 'hellomdm admin %s -h' for its flags and an example.\n", name, err, cmd.usage, name)
		return exitUsage
	case transportError(err):
		fmt.Fprintf(stderr, "hellomdm admin %s: %v\n%s\n", name, err, transportHint(err, base, caFileAdvice))
		return exitTransport
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized && c.token == "":
		fmt.Fprintf(stderr, "hellomdm admin %s: %v\nNo admin token was sent: pass --token or set HELLOMDM_ADMIN_TOKEN (or store one with hellomdm admin login).\n", name, err)
		return exitFailed
	case errors.As(err, &ae) && ae.Status == http.StatusUnauthorized:
		fmt.Fprintf(stderr, "hellomdm admin %s: %v\nThe server does not accept this token: check --token, HELLOMDM_ADMIN_TOKEN or the stored login (hellomdm admin context list).\n", name, err)
		return exitFailed
	}
	fmt.Fprintf(stderr, "hellomdm admin %s: %v\n", name, err)
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
	c.warnAnswer(out)
	return c.print(out, columns...)
}

// warnAnswer prints the "warnings" of an API answer on stderr: the write was done, but
// something about it will not work as the admin may expect (e.g. PIN reset in a government
// cloud).
func (c *adminClient) warnAnswer(out map[string]any) {
	list, _ := out["warnings"].([]any)
	for _, w := range list {
		if s, ok := w.(string); ok {
			fmt.Fprintln(c.stderr, "warning: "+s)
		}
	}
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

// postAttempts and postRetryPause: a POST whose connection fails before an answer arrives is
// sent again, with the same Idempotency-Key, so a reply lost on the way back is answered from
// the server's record instead of creating the object twice.
const (
	postAttempts   = 3
	postRetryPause = time.Second
)

func (c *adminClient) exchange(method, path string, body any) (*http.Response, error) {
	var raw []byte
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, err
		}
		raw = b
	}
	key := ""
	attempts := 1
	if method == http.MethodPost {
		key, attempts = uuid.NewString(), postAttempts
	}
	var (
		resp *http.Response
		err  error
	)
	for i := 0; i < attempts; i++ {
		if i > 0 {
			time.Sleep(postRetryPause)
		}
		var rd io.Reader
		if raw != nil {
			rd = bytes.NewReader(raw)
		}
		req, rerr := http.NewRequest(method, c.base+path, rd)
		if rerr != nil {
			return nil, rerr
		}
		if c.token != "" {
			req.Header.Set("Authorization", "Bearer "+c.token)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set("Idempotency-Key", key)
		}
		if resp, err = c.http.Do(req); err == nil {
			break
		}
	}
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
