package loadgen

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"

	"github.com/google/uuid"
)

// apiClient is the little of the admin API the load tool needs.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

func (c *apiClient) call(ctx context.Context, method, path string, body, out any) error {
	raw, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(raw))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s %s: HTTP %d: %s", method, path, resp.StatusCode, strings.TrimSpace(string(data)))
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

// makeTenant creates a throwaway tenant and user for the run.
func (c *apiClient) makeTenant(ctx context.Context) (tenantID, upn, password string, err error) {
	tenantID = uuid.NewString()
	domain := fmt.Sprintf("load-%08x.test", rand.Uint32())
	if err := c.call(ctx, http.MethodPost, "/tenants", map[string]any{"id": tenantID, "displayName": "hellomdm load test", "verifiedDomains": []string{domain}, "authPolicy": "Federated"}, nil); err != nil {
		return "", "", "", fmt.Errorf("creating the load-test tenant: %w", err)
	}
	upn, password = "load@"+domain, uuid.NewString()
	if err := c.call(ctx, http.MethodPost, "/tenants/"+tenantID+"/users", map[string]any{"userPrincipalName": upn, "passwordProfile": map[string]string{"password": password}}, nil); err != nil {
		return "", "", "", fmt.Errorf("creating the load-test user: %w", err)
	}
	return tenantID, upn, password, nil
}

// queueRound queues one Replace command for every device, 32 requests in flight.
func (c *apiClient) queueRound(ctx context.Context, tenantID string, devs []*simDevice, round int) error {
	return eachDevice(ctx, 32, devs, func(d *simDevice) error {
		cmd := map[string]string{"verb": "Replace", "locUri": "./Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls", "format": "chr", "data": fmt.Sprintf("signin%d.contoso.com", round)}
		return c.call(ctx, http.MethodPost, "/tenants/"+tenantID+"/devices/"+d.id+"/commands", cmd, nil)
	})
}
