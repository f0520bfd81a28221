// Command hellomdm is the one hellomdm binary: `serve` runs the server, `device` runs the
// simulated Windows device agent, `admin` talks to the admin API.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/hellomdm/hellomdm/internal/version"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// topCommand is one `hellomdm <command>`: a row of topCommands.
type topCommand struct {
	name    string
	aliases []string // other words that run it (--version)
	// line is its line in the usage text ("" leaves it out: completion's own help says
	// how to load it, and __complete is the completion scripts' hook).
	line string
	run  func(args []string, stdout, stderr io.Writer) int
}

// topCommands is the table of the commands after `hellomdm`; the usage text, dispatch,
// did-you-mean and completion derive from it. It is filled in by init because completion
// runs commands (their -h) through run, which reads the table: a variable initialised
// with it would depend on itself.
var topCommands []topCommand

func init() {
	topCommands = []topCommand{
		{name: "serve", line: "serve  [flags]        run the server (HTTPS; bbolt in --data by default)", run: runServe},
		{name: "device", line: "device <command> ...  the simulated Windows device agent", run: runDevice},
		{name: "admin", line: "admin  <command> ...  administer a server over its /api/v1", run: runAdmin},
		{name: "bench", line: "bench  checkin ...    load tool: enroll devices and drive check-ins", run: runBench},
		{name: "version", aliases: []string{"--version", "-version"}, line: "version [-o json]     version, commit, build date and Go version (also --version)", run: runVersion},
		{name: "authenticator", line: "authenticator code    print the current one-time code of an otpauth:// URI", run: runAuthenticator},
		{name: "healthcheck", line: "healthcheck [flags]   probe the local server's /healthz (exit 0 when healthy)", run: runHealthcheck},
		{name: "completion", run: runCompletion},
		{name: "__complete", run: runComplete},
	}
}

// usage is the text of `hellomdm -h`.
func usage() string {
	var b strings.Builder
	b.WriteString("hellomdm: Windows Hello for Business PIN recovery policy, delivered and proven.\n\nUsage:\n")
	for _, c := range topCommands {
		if c.line != "" {
			b.WriteString("  hellomdm " + c.line + "\n")
		}
	}
	b.WriteString("\nRun 'hellomdm <command> -h' for the flags of a command.\n")
	return b.String()
}

// findTop returns the command that word names, or nil.
func findTop(word string) *topCommand {
	for i, c := range topCommands {
		if c.name == word || slices.Contains(c.aliases, word) {
			return &topCommands[i]
		}
	}
	return nil
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return 2
	}
	if isHelp(args[0]) {
		fmt.Fprint(stdout, usage())
		return 0
	}
	if c := findTop(args[0]); c != nil {
		return c.run(args[1:], stdout, stderr)
	}
	var names []string
	for _, c := range topCommands {
		names = append(names, c.name)
	}
	fmt.Fprintf(stderr, "hellomdm: unknown command %q%s\n\n%s", args[0], didYouMean(args[0], names), usage())
	return 2
}

// runVersion prints the build's version, commit, build date and Go version.
func runVersion(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hellomdm version", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("o", "text", "output: text or json")
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		printFlagHelp(stdout, "hellomdm version [-o text|json]   (also hellomdm --version)", fs, "hellomdm version -o json")
		return exitOK
	case err != nil:
		fmt.Fprintf(stderr, "hellomdm version: %s\nRun 'hellomdm version -h' for its flags.\n", flagError(fs, err))
		return exitUsage
	case fs.NArg() > 0:
		fmt.Fprintf(stderr, "hellomdm version: unexpected argument %q\n", fs.Arg(0))
		return exitUsage
	}
	info := version.Get()
	switch *out {
	case "json":
		b, _ := json.MarshalIndent(info, "", "  ")
		fmt.Fprintf(stdout, "%s\n", b)
	case "text":
		fmt.Fprintln(stdout, info.String())
	default:
		fmt.Fprintf(stderr, "hellomdm version: -o %q: want text or json\n", *out)
		return 2
	}
	return 0
}
