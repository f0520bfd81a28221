package replicas

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/internal/testbin"
	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/server"
)

const (
	adminToken = "hmdm_replicas-admin-token"
	tenantID   = "9a0c1e55-7b2d-4f3e-8c6a-1d2e3f4a5b6c"
	upn        = "fleet@fabrikam.test"
	password   = "Correct horse battery 9"
	fleetSize  = 300
	workers    = 24
	pinSuffix  = "/PassportForWork/" + tenantID + "/Policies/EnablePinRecovery"

	// An Intune settings-catalog export enabling PIN recovery ({tenantid} is the tenant's).
	catalogPinRecovery = `{"@odata.type":"#microsoft.graph.deviceManagementConfigurationPolicy","name":"WHfB - Enable PIN recovery","platforms":"windows10","technologies":"mdm",
"settings":[{"@odata.type":"#microsoft.graph.deviceManagementConfigurationSetting","settingInstance":{
"@odata.type":"#microsoft.graph.deviceManagementConfigurationGroupSettingCollectionInstance","settingDefinitionId":"device_vendor_msft_passportforwork_{tenantid}",
"groupSettingCollectionValue":[{"children":[{"@odata.type":"#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance",
"settingDefinitionId":"device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery",
"choiceSettingValue":{"value":"device_vendor_msft_passportforwork_{tenantid}_policies_enablepinrecovery_true","children":[]}}]}]}}]}`
)

// replica is one `hellomdm serve` process.
type replica struct {
	addr   string
	dir    string
	cmd    *exec.Cmd
	stderr *testbin.Buffer
	done   chan error
}

func startReplica(t *testing.T, bin string, pg testpg.Store, keyFile, publicURL string, flags ...string) *replica {
	t.Helper()
	r := &replica{addr: testbin.FreeAddr(t), dir: t.TempDir(), stderr: &testbin.Buffer{}, done: make(chan error, 1)}
	if publicURL == "" {
		publicURL = "https://localhost:" + r.addr[strings.LastIndexByte(r.addr, ':')+1:]
	}
	r.cmd = exec.Command(bin, append([]string{"serve", "--store", pg.DSN, "--store-key-file", keyFile, "--data", r.dir, "--addr", r.addr,
		"--public-url", publicURL, "--claim-lease", "1s", "--retry-backoff", "0", "--log-format", "json", "--log-level", "debug"}, flags...)...)
	r.cmd.Env = append(os.Environ(), "HELLOMDM_ADMIN_TOKEN="+adminToken)
	r.cmd.Stdout, r.cmd.Stderr = io.Discard, r.stderr
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { r.done <- r.cmd.Wait() }()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.done
		if t.Failed() {
			t.Logf("replica %s log tail:\n%s", r.addr, tail(r.stderr.String(), 30))
		}
	})
	return r
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// waitHealthy polls the replica's /healthz and returns its DATA/ca.pem.
func (r *replica) waitHealthy(t *testing.T) []byte {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-r.done:
			t.Fatalf("replica %s exited: %v\n%s", r.addr, err, r.stderr.String())
		default:
		}
		if caPEM, err := os.ReadFile(filepath.Join(r.dir, server.CAFile)); err == nil {
			resp, err := httpClient(pool(caPEM)).Get("https://" + r.addr + "/healthz")
			if err == nil {
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"postgres"`) {
					t.Fatalf("replica %s healthz: %d %s", r.addr, resp.StatusCode, body)
				}
				return caPEM
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("replica %s never became healthy\n%s", r.addr, r.stderr.String())
	return nil
}

// devicesServed returns the devices whose check-ins this replica answered (its debug log).
func (r *replica) devicesServed() map[string]int {
	out := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(r.stderr.String()))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var line struct{ Msg, Device string }
		if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "check-in" {
			out[line.Device]++
		}
	}
	return out
}

func pool(caPEM []byte) *x509.CertPool {
	p := x509.NewCertPool()
	p.AppendCertsFromPEM(caPEM)
	return p
}

func httpClient(roots *x509.CertPool) *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS12}}}
}

// api calls the admin API at base and decodes the answer into out.
func api(t *testing.T, c *http.Client, base, method, path string, body, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s %s: decoding %q: %v", method, path, raw, err)
		}
	}
	return resp.StatusCode
}

// parallel runs fn for every index with a bounded number in flight.
func parallel(n, inFlight int, fn func(i int)) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range inFlight {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}
