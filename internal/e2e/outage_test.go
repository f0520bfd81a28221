package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/device"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/pinreset/idp"
	"github.com/hellomdm/hellomdm/syncml"
)

// discoverXML is an MS-MDE2 Discover request (MS-MDE2 3.1.4.1.1.1) for email.
func discoverXML(url, email string) string {
	return `<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://www.w3.org/2005/08/addressing">
<s:Header>
<a:Action s:mustUnderstand="1">http://schemas.microsoft.com/windows/management/2012/01/enrollment/IDiscoveryService/Discover</a:Action>
<a:MessageID>urn:uuid:748132ec-a575-4329-b01b-6171a9cf8478</a:MessageID>
<a:ReplyTo><a:Address>http://www.w3.org/2005/08/addressing/anonymous</a:Address></a:ReplyTo>
<a:To s:mustUnderstand="1">` + url + `/EnrollmentServer/Discovery.svc</a:To>
</s:Header>
<s:Body>
<Discover xmlns="http://schemas.microsoft.com/windows/management/2012/01/enrollment">
<request xmlns:i="http://www.w3.org/2001/XMLSchema-instance">
<EmailAddress>` + email + `</EmailAddress><RequestVersion>4.0</RequestVersion>
<DeviceType>CIMClient_Windows</DeviceType><ApplicationVersion>10.0.22631.2428</ApplicationVersion><OSEdition>48</OSEdition>
<AuthPolicies><AuthPolicy>OnPremise</AuthPolicy><AuthPolicy>Federated</AuthPolicy></AuthPolicies>
</request>
</Discover>
</s:Body>
</s:Envelope>`
}

// edgeCase is one request to one edge of the server and what it must answer during a store
// outage.
type edgeCase struct {
	name, method, path, contentType, body string
	token                                 bool // send the admin token
	device                                bool // present the device's client certificate
	status                                int
	retryAfter                            bool   // a positive Retry-After is required
	want                                  string // in the body
}

// outageEdges are the requests of devices, admins and users that reach the store, one per
// edge: SyncML check-in, MS-MDE2 enrollment, the admin API (read and write), the identity
// provider (token API, sign-in info), the PIN reset service (public key, protector release),
// and the readiness probe.
func outageEdges(e *env, deviceID string) []edgeCase {
	b := syncml.NewBuilder(syncml.Header{VerDTD: "1.2", VerProto: "DM/1.2", SessionID: "7", MsgID: "1",
		Target: e.url + "/ManagementServer/MDM.svc", Source: deviceID}, 2)
	b.Alert(syncml.AlertClientInitiated)
	b.Command(syncml.Command{Verb: syncml.VerbReplace, Items: []syncml.Item{{Source: "./DevInfo/DevId", Data: deviceID}}})
	sml, err := b.Bytes(true)
	if err != nil {
		e.t.Fatal(err)
	}
	tenant := "/api/v1/tenants/" + contosoTenant
	return []edgeCase{
		{name: "SyncML check-in", method: "POST", path: "/ManagementServer/MDM.svc?mode=Maintenance&Platform=WoA", contentType: syncml.ContentType,
			body: string(sml), device: true, status: 503, retryAfter: true, want: `"unavailable"`},
		{name: "enrollment discovery", method: "POST", path: "/EnrollmentServer/Discovery.svc", contentType: "application/soap+xml; charset=utf-8",
			body: discoverXML(e.url, "alice@contoso.com"), status: 500, retryAfter: true, want: "<ErrorType>InMaintenance</ErrorType>"},
		{name: "admin API read", method: "GET", path: tenant + "/devices", token: true, status: 503, want: `"unavailable"`},
		{name: "admin API write", method: "POST", path: tenant + "/users", contentType: "application/json",
			body: `{"upn":"carol@contoso.com","password":"Correct horse battery 2"}`, token: true, status: 503, want: `"unavailable"`},
		{name: "identity provider token", method: "POST", path: "/idp/token", contentType: "application/json",
			body: `{"upn":"alice@contoso.com","password":"` + password + `","audience":"` + idp.AudienceEnrollment + `"}`, status: 503, retryAfter: true, want: `"unavailable"`},
		{name: "identity provider sign-in info", method: "GET", path: "/idp/signin-info?upn=alice@contoso.com", status: 503, retryAfter: true, want: `"unavailable"`},
		{name: "PIN reset public key", method: "GET", path: "/pinreset/v1/tenants/" + contosoTenant + "/publickey", status: 503, retryAfter: true,
			want: `"temporarily_unavailable"`},
		{name: "PIN reset protector release", method: "POST", path: "/pinreset/v1/tenants/" + contosoTenant + "/decrypt", contentType: "application/json",
			body: `{"ciphertext":"AAAA"}`, device: true, status: 503, retryAfter: true, want: `"temporarily_unavailable"`},
		{name: "readiness", method: "GET", path: "/readyz", status: 503, retryAfter: true, want: `"notReady"`},
		{name: "liveness", method: "GET", path: "/healthz", status: 200, want: `"ok"`},
	}
}

// checkEdges sends every edge request and checks the answers.
func checkEdges(t *testing.T, e *env, cert *tls.Certificate, cases []edgeCase) {
	t.Helper()
	for _, c := range cases {
		cfg := &tls.Config{RootCAs: e.app.CA.Pool(), MinVersion: tls.VersionTLS12}
		if c.device {
			cfg.Certificates = []tls.Certificate{*cert}
		}
		var body io.Reader
		if c.body != "" {
			body = strings.NewReader(c.body)
		}
		req, err := http.NewRequest(c.method, e.url+c.path, body)
		if err != nil {
			t.Fatal(err)
		}
		if c.contentType != "" {
			req.Header.Set("Content-Type", c.contentType)
		}
		if c.token {
			req.Header.Set("Authorization", "Bearer "+adminToken)
		}
		resp, err := (&http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{TLSClientConfig: cfg}}).Do(req)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		raw, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status || !bytes.Contains(raw, []byte(c.want)) {
			t.Errorf("%s: HTTP %d %s, want %d with %s", c.name, resp.StatusCode, raw, c.status, c.want)
		}
		if ra, err := strconv.Atoi(resp.Header.Get("Retry-After")); c.retryAfter && (err != nil || ra <= 0) {
			t.Errorf("%s: Retry-After %q, want a positive number of seconds", c.name, resp.Header.Get("Retry-After"))
		}
		if strings.Contains(resp.Header.Get("Content-Type"), "json") && !json.Valid(raw) {
			t.Errorf("%s: body is not JSON: %s", c.name, raw)
		}
	}
}

// prepareOutage starts the product, enrolls a device and consents to PIN reset, so that
// every edge would succeed past its own checks with a healthy store.
func prepareOutage(t *testing.T, e *env) (*device.Agent, *tls.Certificate) {
	t.Helper()
	e.consent(contosoTenant, true)
	a := e.agent(newIdentity(t, identity.OSVersionWindows11v23H2, identity.EditionPro))
	e.enroll(a, "alice@contoso.com", enroll.CSRWindows)
	if _, err := a.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	return a, tlsCertOf(t, a)
}

// While the store is down (closed under the running server: bbolt's file, or PostgreSQL's
// pool), every edge answers "try again later" the way its clients understand it: SyncML and
// the admin API 503 with a JSON message (SyncML with Retry-After), enrollment a SOAP fault
// with the MS-MDE2 InMaintenance error type and Retry-After, the identity provider and the
// PIN reset service 503 with Retry-After; /readyz fails while /healthz stays up.
func TestStoreOutageEdges(t *testing.T) {
	e := start(t)
	a, cert := prepareOutage(t, e)
	if err := e.app.Store.Close(); err != nil {
		t.Fatal(err)
	}
	checkEdges(t, e, cert, outageEdges(e, a.Identity().DeviceID))
}

// The outage of the issue on PostgreSQL: the database stops accepting connections (new ones
// get SQLSTATE 55000) and every edge answers as in TestStoreOutageEdges; when it accepts
// them again everything works without a restart.
func TestPostgresRefusingConnections(t *testing.T) {
	if !testpg.Postgres(t) {
		t.Skip("runs with HELLOMDM_TEST_BACKEND=postgres")
	}
	pg, name := testpg.NewDatabase(t)
	e := startStore(t, pg.Open, nil)
	a, cert := prepareOutage(t, e)
	testpg.AllowConnections(t, name, false)
	checkEdges(t, e, cert, outageEdges(e, a.Identity().DeviceID))

	testpg.AllowConnections(t, name, true)
	if _, err := a.Sync(context.Background()); err != nil {
		t.Fatalf("sync after the database came back: %v", err)
	}
	if code := e.api("GET", "/tenants/"+contosoTenant+"/devices", nil, nil); code != http.StatusOK {
		t.Fatalf("admin API after the database came back: %d", code)
	}
	if _, err := e.app.Store.Device(context.Background(), a.Identity().DeviceID); err != nil {
		t.Fatal(err)
	}
}
