package main

import (
	"encoding/json"
	"github.com/hellomdm/hellomdm/store/bolt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestAdminTokenExpiresAndRevoke(t *testing.T) {
	base := startCLIServer(t)
	cli := func(args ...string) (int, string, string) {
		return cliRun(append(append([]string{}, base...), args...)...)
	}
	code, out, errOut := cli("-o", "json", "token", "create", "--name", "ci", "--role", "reader", "--expires", "1h")
	if code != 0 {
		t.Fatalf("token create --expires: exit %d: %s", code, errOut)
	}
	var tok struct {
		ID        string    `json:"id"`
		Token     string    `json:"token"`
		ExpiresAt time.Time `json:"expiresAt"`
	}
	if err := json.Unmarshal([]byte(out), &tok); err != nil || tok.ID == "" || time.Until(tok.ExpiresAt) < 59*time.Minute || time.Until(tok.ExpiresAt) > 61*time.Minute {
		t.Fatalf("token create --expires 1h: %v %s", err, out)
	}
	if code, out, _ := cli("token", "list"); code != 0 || !strings.Contains(out, "EXPIRESAT") || !strings.Contains(out, tok.ExpiresAt.Format("2006-01-02")) {
		t.Errorf("token list lacks the expiry:\n%s", out)
	}
	if code, _, errOut := cli("token", "create", "--name", "x", "--role", "reader", "--expires", "yesterday"); code != exitUsage || !strings.Contains(errOut, "RFC 3339") {
		t.Errorf("--expires yesterday: exit %d: %s", code, errOut)
	}
	if code, _, errOut := cli("token", "create", "--name", "x", "--role", "reader", "--expires", "2001-01-01T00:00:00Z"); code == 0 || !strings.Contains(errOut, "not in the future") {
		t.Errorf("--expires in the past: exit %d: %s", code, errOut)
	}
	// The token works, is revoked, and no longer works.
	reader := []string{"admin", "--server", base[2], "--token", tok.Token, "--ca-file", base[6]}
	if code, _, errOut := cliRun(append(reader, "tenant", "list")...); code != 0 {
		t.Fatalf("the new token: exit %d: %s", code, errOut)
	}
	if code, out, errOut := cli("token", "revoke", "--id", tok.ID); code != 0 || !strings.Contains(out, "revoked token "+tok.ID) {
		t.Fatalf("token revoke: exit %d: %s%s", code, out, errOut)
	}
	if code, _, errOut := cliRun(append(reader, "tenant", "list")...); code == 0 || !strings.Contains(errOut, "401") {
		t.Errorf("a revoked token still works: exit %d: %s", code, errOut)
	}
	if code, _, errOut := cli("token", "revoke", "--id", tok.ID); code == 0 || !strings.Contains(errOut, "404") {
		t.Errorf("revoking twice: exit %d: %s", code, errOut)
	}
	// --id takes the token's name too; a name two tokens have is refused with both.
	var ids []string
	for _, name := range []string{"helpdesk", "dup", "dup"} {
		code, out, errOut := cli("-o", "json", "token", "create", "--name", name, "--role", "reader")
		if err := json.Unmarshal([]byte(out), &tok); code != 0 || err != nil {
			t.Fatalf("token create %s: exit %d: %s%s", name, code, out, errOut)
		}
		ids = append(ids, tok.ID)
	}
	if code, out, errOut := cli("token", "revoke", "--id", "HelpDesk"); code != 0 || !strings.Contains(out, "revoked token "+ids[0]+" (HelpDesk)") {
		t.Fatalf("token revoke by name: exit %d: %s%s", code, out, errOut)
	}
	if code, _, errOut := cli("token", "revoke", "--id", "dup"); code != exitFailed || !strings.Contains(errOut, `"dup" names 2 tokens: `) ||
		!strings.Contains(errOut, ids[1]+" (dup)") || !strings.Contains(errOut, ids[2]+" (dup)") {
		t.Errorf("token revoke by a shared name: exit %d: %s", code, errOut)
	}
	if code, _, errOut := cli("token", "revoke", "--id", "nope"); code != exitFailed || !strings.Contains(errOut, `"nope" is not a token ID, and no token has that name`) {
		t.Errorf("token revoke of an unknown name: exit %d: %s", code, errOut)
	}
}

func TestAdminBackup(t *testing.T) {
	base := startCLIServer(t)
	out := filepath.Join(t.TempDir(), "copy.db")
	code, stdout, errOut := cliRun(append(append([]string{}, base...), "backup", "--out", out)...)
	if code != 0 || !strings.Contains(stdout, "backed up") {
		t.Fatalf("admin backup: exit %d: %s%s", code, stdout, errOut)
	}
	if err := bolt.Check(out); err != nil {
		t.Fatalf("the backup is not a bbolt database: %v", err)
	}
	if fi, err := os.Stat(out); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file mode: %v %v, want 0600", fi, err)
	}
	if err := os.WriteFile(out+"x", []byte("not a database"), 0o600); err != nil {
		t.Fatal(err)
	}
	if bolt.Check(out+"x") == nil {
		t.Errorf("checkBolt accepted garbage")
	}
}
