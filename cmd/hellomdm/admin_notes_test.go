package main

import (
	"bytes"
	"strings"
	"testing"
)

// A profile named by a value that is neither its ID nor a name goes to the server on both
// profile routes (and, for status, on the report's): the refusal says what the value is not,
// whichever request it came from.
func TestAdminUnknownProfileNote(t *testing.T) {
	base := startCLIServer(t)
	cli := func(args ...string) (int, string) {
		var out, errOut bytes.Buffer
		code := run(append(append([]string{}, base...), args...), &out, &errOut)
		return code, errOut.String()
	}
	if code, e := cli("tenant", "create", "--id", "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01", "--name", "Contoso", "--domain", "contoso.com"); code != 0 {
		t.Fatal(e)
	}
	const note = `"No such profile" is not a profile ID, and no profile in tenant 6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01 has that name`
	for _, cmd := range [][]string{
		{"profile", "status"}, {"profile", "show"}, {"profile", "delete"}, {"profile", "assign", "--all-devices"},
	} {
		code, e := cli(append(cmd, "--tenant", "contoso.com", "--profile", "No such profile")...)
		if code != exitFailed || !strings.Contains(e, "(HTTP 404): "+note) {
			t.Errorf("%v: exit %d\n%s", cmd, code, e)
		}
	}
}
