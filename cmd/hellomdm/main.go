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

	"github.com/hellomdm/hellomdm/internal/version"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `hellomdm: Windows Hello for Business PIN recovery policy, delivered and proven.

Usage:
  hellomdm serve  [flags]        run the server (HTTPS; bbolt in --data by default)
  hellomdm device <command> ...  the simulated Windows device agent
  hellomdm admin  <command> ...  administer a server over its /api/v1
  hellomdm bench  checkin ...    load tool: enroll devices and drive check-ins
  hellomdm version [-o json]     version, commit, build date and Go version (also --version)
  hellomdm authenticator code    print the current one-time code of an otpauth:// URI
  hellomdm healthcheck [flags]   probe the local server's /healthz (exit 0 when healthy)

Run 'hellomdm <command> -h' for the flags of a command.
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch {
	case args[0] == "serve":
		return runServe(args[1:], stdout, stderr)
	case args[0] == "version" || args[0] == "--version" || args[0] == "-version":
		return runVersion(args[1:], stdout, stderr)
	case isHelp(args[0]):
		fmt.Fprint(stdout, usage)
		return 0
	}
	if sub, ok := subcommands[args[0]]; ok {
		return sub(args[1:], stdout, stderr)
	}
	names := []string{"serve", "version"}
	for n := range subcommands {
		names = append(names, n)
	}
	fmt.Fprintf(stderr, "hellomdm: unknown command %q%s\n\n%s", args[0], didYouMean(args[0], names), usage)
	return 2
}

// subcommands other than serve register here from their own files.
var subcommands = map[string]func(args []string, stdout, stderr io.Writer) int{}

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
