package loadgen

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"

	"github.com/google/uuid"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// newAdminClient returns the admin API client of a run. Its POSTs carry no Idempotency-Key
// (adminclient.Config.NoIdempotencyKeys): the server would keep a record of every queued
// command, and the queueing figures and the store the sessions run against would include
// them. hc is the run's HTTP client, shared with the sign-ins.
func newAdminClient(cfg Config, hc *http.Client) *adminclient.Client {
	return adminclient.New(adminclient.Config{Server: cfg.ServerURL, Token: cfg.AdminToken, HTTPClient: hc, NoIdempotencyKeys: true})
}

// makeTenant creates a throwaway tenant and user for the run.
func makeTenant(ctx context.Context, admin *adminclient.Client) (tenantID, upn, password string, err error) {
	domain := fmt.Sprintf("load-%08x.test", rand.Uint32())
	tn, err := admin.CreateTenant(ctx, wire.TenantRequest{ID: uuid.NewString(), DisplayName: "hellomdm load test",
		VerifiedDomains: []string{domain}, AuthPolicy: "Federated"})
	if err != nil {
		return "", "", "", fmt.Errorf("creating the load-test tenant: %w", err)
	}
	upn, password = "load@"+domain, uuid.NewString()
	if _, err := admin.CreateUser(ctx, tn.ID, wire.UserRequest{UserPrincipalName: upn,
		PasswordProfile: wire.PasswordProfile{Password: password}}); err != nil {
		return "", "", "", fmt.Errorf("creating the load-test user: %w", err)
	}
	return tn.ID, upn, password, nil
}

// queueRound queues one Replace command for every device, 32 requests in flight.
func queueRound(ctx context.Context, admin *adminclient.Client, tenantID string, devs []*simDevice, round int) error {
	return eachDevice(ctx, 32, devs, func(d *simDevice) error {
		_, err := admin.QueueCommand(ctx, tenantID, d.id, wire.CommandRequest{Verb: "Replace",
			LocURI: "./Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls", Format: "chr",
			Data: fmt.Sprintf("signin%d.contoso.com", round)})
		if err != nil {
			return fmt.Errorf("queueing a command for device %s: %w", d.id, err)
		}
		return nil
	})
}
