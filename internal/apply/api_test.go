package apply

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hellomdm/hellomdm/internal/testserve"
	"github.com/hellomdm/hellomdm/server"
	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// Read, Plan and Execute against a real server: examples/policy is created in full, then
// read back and found unchanged; pruning an empty document set deletes it all again.
func TestReadExecute(t *testing.T) {
	dir := t.TempDir()
	const token = "hmdm_apply-test-token"
	const tid = "6d2a3f0e-1c55-4b0b-9a3e-2f4f7c1d9e01"
	app := testserve.Start(t, server.Options{DataDir: dir, AdminToken: token}, nil)
	pool, err := adminclient.LoadCAFile(filepath.Join(dir, server.CAFile))
	if err != nil {
		t.Fatal(err)
	}
	api := adminclient.New(adminclient.Config{Server: "https://" + app.Addr().String(), Token: token, RootCAs: pool})
	ctx := context.Background()
	if _, err := api.CreateTenant(ctx, wire.TenantRequest{ID: tid, DisplayName: "Contoso", VerifiedDomains: []string{"contoso.com"}, AuthPolicy: "OnPremise"}); err != nil {
		t.Fatal(err)
	}
	if _, err := api.CreateUser(ctx, tid, wire.UserRequest{UserPrincipalName: "alice@contoso.com", PasswordProfile: wire.PasswordProfile{Password: "Correct horse 1"}}); err != nil {
		t.Fatal(err)
	}
	want, err := Load(filepath.Join("..", "..", "examples", "policy"))
	if err != nil {
		t.Fatal(err)
	}
	step := func(want Desired, prune bool, action string) {
		t.Helper()
		have, err := Read(ctx, api, tid)
		if err != nil {
			t.Fatal(err)
		}
		plan, err := Plan(want, have, prune)
		if err != nil {
			t.Fatal(err)
		}
		if len(plan) != 6 {
			t.Fatalf("plan has %d changes: %+v", len(plan), plan)
		}
		for _, c := range plan {
			if c.Action != action {
				t.Fatalf("%s %s %s, want %s", c.Action, c.Kind, c.Name, action)
			}
		}
		var warned []string
		if err := Execute(ctx, api, tid, plan, func(what string, ws []string) { warned = append(warned, ws...) }); err != nil {
			t.Fatal(err)
		}
		if len(warned) != 0 {
			t.Fatalf("warnings: %v", warned)
		}
	}
	step(want, false, Create)
	step(want, false, Unchanged)
	// An empty set with prune: the 2 profiles and 2 groups go (assignments go with their
	// profiles, so the plan has 4 lines).
	have, err := Read(ctx, api, tid)
	if err != nil {
		t.Fatal(err)
	}
	plan, err := Plan(Desired{}, have, true)
	if err != nil || len(plan) != 4 {
		t.Fatalf("prune plan: %+v, %v", plan, err)
	}
	if err := Execute(ctx, api, tid, plan, nil); err != nil {
		t.Fatal(err)
	}
	if have, err = Read(ctx, api, tid); err != nil || len(have.Groups)+len(have.Profiles) != 0 {
		t.Fatalf("after prune: %+v, %v", have, err)
	}
}
