package server

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/server/omadm"
	"github.com/hellomdm/hellomdm/store"
)

// postKey sends a POST with an Idempotency-Key (none when key is "") and returns the answer.
func (ts *testServer) postKey(token, path, key, body string) (int, http.Header, []byte) {
	ts.t.Helper()
	req, err := http.NewRequest(http.MethodPost, ts.base+"/api/v1"+path, strings.NewReader(body))
	if err != nil {
		ts.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := ts.admin.Do(req)
	if err != nil {
		ts.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

func errorCode(body []byte) string {
	var e apiError
	_ = json.Unmarshal(body, &e)
	return e.Error.Code
}

// Issue 14 item 6: an admin client retrying a creating POST with the same Idempotency-Key
// gets the first answer (status and body, byte for byte) and creates nothing more, on every
// creating route, across a restart (the keys are in the store); another body or route under
// the same key is a 409; keys of another token are separate.
func TestIdempotencyKey(t *testing.T) {
	ts := startServer(t, t.TempDir(), omadm.Config{})
	dev := ts.enroll("AAAABBBBCCCCDDDDEEEEFFFF0000ABCD")
	profile, err := os.ReadFile(filepath.Join("..", "examples", "policy", "web-sign-in-allowed-urls.custom.json"))
	if err != nil {
		t.Fatal(err)
	}
	tp := "/tenants/" + testTenant
	command := `{"verb":"Replace","locUri":"` + pinRecovery + `","format":"bool","data":"true"}`
	count := func(path string) int {
		t.Helper()
		var out struct{ Value []json.RawMessage }
		if st := ts.api(http.MethodGet, path, nil, &out); st != http.StatusOK {
			t.Fatalf("GET %s: HTTP %d", path, st)
		}
		return len(out.Value)
	}
	creating := []struct {
		name, path, body, list string
	}{
		{"command", tp + "/devices/" + dev.id + "/commands", command, tp + "/devices/" + dev.id + "/commands"},
		{"user", tp + "/users", `{"userPrincipalName":"idem@contoso.com","passwordProfile":{"password":"Correct horse battery 1"}}`, tp + "/users"},
		{"group", tp + "/groups", `{"displayName":"Idempotent group"}`, tp + "/groups"},
		{"profile", tp + "/deviceConfigurations", string(profile), tp + "/deviceConfigurations"},
		{"tenant", "/tenants", `{"id":"0b7e4c2d-8f31-4a5e-9d0c-3e2f1a4b5c6d","displayName":"Fabrikam","verifiedDomains":["fabrikam.com"],"authPolicy":"OnPremise"}`, "/tenants"},
	}
	first := map[string][]byte{}
	for _, c := range creating {
		t.Run(c.name, func(t *testing.T) {
			key := "key-" + c.name
			st, _, body := ts.postKey(testToken, c.path, key, c.body)
			if st != http.StatusCreated {
				t.Fatalf("first POST: HTTP %d: %s", st, body)
			}
			first[c.name] = body
			n := count(c.list)
			st, hdr, again := ts.postKey(testToken, c.path, key, c.body)
			if st != http.StatusCreated || !bytes.Equal(again, body) || hdr.Get("Idempotency-Replayed") != "true" {
				t.Fatalf("retry: HTTP %d, replayed %q:\n%s\nwant the first answer:\n%s", st, hdr.Get("Idempotency-Replayed"), again, body)
			}
			if got := count(c.list); got != n {
				t.Fatalf("the retry created something: %d objects, then %d", n, got)
			}
			// The same key with another body, or on another route, is refused.
			if st, _, b := ts.postKey(testToken, c.path, key, strings.Replace(c.body, "{", `{ `, 1)); st != http.StatusConflict || errorCode(b) != "idempotencyKeyReused" {
				t.Fatalf("same key, other body: HTTP %d %s", st, b)
			}
			if st, _, b := ts.postKey(testToken, tp+"/groups", key, `{"displayName":"Other"}`); st != http.StatusConflict {
				t.Fatalf("same key, other route: HTTP %d %s", st, b)
			}
			if got := count(c.list); got != n {
				t.Fatalf("a refused retry created something: %d objects, then %d", n, got)
			}
		})
	}

	// Without a key, two POSTs are two commands (the behaviour the key exists to avoid).
	cmds := tp + "/devices/" + dev.id + "/commands"
	n := count(cmds)
	ts.postKey(testToken, cmds, "", command)
	ts.postKey(testToken, cmds, "", command)
	if got := count(cmds); got != n+2 {
		t.Fatalf("two POSTs without a key: %d commands, want %d", got, n+2)
	}

	// Another token's key space is its own.
	other := ts.newToken(store.RoleOperator, testTenant)
	if st, _, b := ts.postKey(other, cmds, "key-command", command); st != http.StatusCreated || bytes.Equal(b, first["command"]) {
		t.Fatalf("another token's key: HTTP %d %s", st, b)
	}

	// A token's secret is never kept: a retry of POST /tokens says it succeeded.
	tokenBody := `{"name":"ci","role":"reader","tenantId":"` + testTenant + `"}`
	st, hdr, b := ts.postKey(testToken, "/tokens", "key-token", tokenBody)
	if st != http.StatusCreated || hdr.Get("Cache-Control") != "no-store" {
		t.Fatalf("POST /tokens: HTTP %d %q %s", st, hdr.Get("Cache-Control"), b)
	}
	if st, _, b := ts.postKey(testToken, "/tokens", "key-token", tokenBody); st != http.StatusConflict || errorCode(b) != "idempotencyKeyWithheld" {
		t.Fatalf("retry of POST /tokens: HTTP %d %s", st, b)
	}

	// Bad keys.
	if st, _, _ := ts.postKey(testToken, cmds, strings.Repeat("k", 256), command); st != http.StatusBadRequest {
		t.Fatalf("a 256-character key: HTTP %d", st)
	}
	if st, _, _ := ts.postKey(testToken, cmds, "clé", command); st != http.StatusBadRequest {
		t.Fatalf("a non-ASCII key: HTTP %d", st)
	}

	// A request whose write committed but whose answer was never stored (the server stopped in
	// between): a retry is told it took effect and runs nothing.
	var tokens []store.AdminToken
	if tokens, err = ts.app.Store.ListTokens(context.Background()); err != nil {
		t.Fatal(err)
	}
	var scope string
	for _, tok := range tokens {
		if tok.TenantID == "" && tok.Role == store.RoleAdmin {
			scope = "token:" + tok.ID
		}
	}
	groupBody := `{"displayName":"Interrupted"}`
	h := sha256.Sum256([]byte("POST\n/api/v1" + tp + "/groups\n" + groupBody))
	now := time.Now().UTC()
	if _, mine, err := ts.app.Store.ReserveIdempotencyKey(context.Background(), store.IdempotencyRecord{Scope: scope, Key: "key-crash",
		RequestHash: hex.EncodeToString(h[:]), LeaseUntil: now.Add(-time.Second), CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, now); err != nil || !mine {
		t.Fatalf("reserving: %v %v", mine, err)
	}
	ctx := store.WithIdempotency(context.Background(), scope, "key-crash")
	if err := ts.app.Store.CreateTenant(ctx, store.Tenant{ID: "11111111-2222-4333-8444-555555555555", DisplayName: "Written", VerifiedDomains: []string{"written.example"}, AuthPolicy: store.AuthOnPremise}); err != nil {
		t.Fatal(err)
	}
	groups := count(tp + "/groups")
	if st, _, b := ts.postKey(testToken, tp+"/groups", "key-crash", groupBody); st != http.StatusConflict || errorCode(b) != "idempotencyKeyCommitted" {
		t.Fatalf("retry after a committed, unanswered request: HTTP %d %s", st, b)
	}
	if count(tp+"/groups") != groups {
		t.Fatal("the retry ran the request again")
	}

	// The OpenAPI document offers the header on every POST.
	var doc struct {
		Paths map[string]map[string]struct {
			Parameters []map[string]any `json:"parameters"`
		} `json:"paths"`
	}
	if st := ts.api(http.MethodGet, "/openapi.json", nil, &doc); st != http.StatusOK {
		t.Fatalf("openapi: HTTP %d", st)
	}
	posts := 0
	for path, item := range doc.Paths {
		op, ok := item["post"]
		if !ok {
			continue
		}
		posts++
		found := false
		for _, p := range op.Parameters {
			found = found || p["$ref"] == "#/components/parameters/IdempotencyKey"
		}
		if !found {
			t.Errorf("POST %s does not document Idempotency-Key", path)
		}
	}
	if posts < 10 {
		t.Errorf("only %d POST operations in the OpenAPI document", posts)
	}

	// The keys are in the store: after a restart a retry still gets the first answer.
	ts.restart()
	for _, c := range creating {
		st, _, again := ts.postKey(testToken, c.path, "key-"+c.name, c.body)
		if st != http.StatusCreated || !bytes.Equal(again, first[c.name]) {
			t.Fatalf("%s after a restart: HTTP %d:\n%s\nwant:\n%s", c.name, st, again, first[c.name])
		}
	}
}
