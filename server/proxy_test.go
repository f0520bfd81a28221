package server

import (
	"bytes"
	"context"
	"encoding/pem"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/enrollment/ca"
	"github.com/hellomdm/hellomdm/internal/testpki"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/syncml"
)

// Behind a TLS-terminating proxy the client certificate arrives in a header; the server
// honours it only when the flag names the header and the request comes from a configured
// proxy address, and the certificate must still be one our CA issued to an enrolled device.
func TestClientCertificateFromTrustedProxy(t *testing.T) {
	const header = "X-SSL-Client-Cert"
	cases := []struct {
		name    string
		proxies []netip.Prefix
		cert    func(app *App, deviceID string) []byte // PEM in the header; nil = no header
		want    int                                    // HTTP status
		wantHdr int                                    // SyncHdr status when HTTP 200
	}{
		{"trusted proxy, issued certificate", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, issuedPEM, http.StatusOK, syncml.StatusOK},
		{"untrusted address: header ignored", []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}, issuedPEM, http.StatusUnauthorized, 0},
		{"trusted proxy, self-signed certificate", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, selfSignedPEM, http.StatusUnauthorized, 0},
		{"trusted proxy, no header", []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, nil, http.StatusUnauthorized, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			openStore, _ := testBackend(t)
			app, err := Open(context.Background(), Options{DataDir: t.TempDir(), Addr: "127.0.0.1:0", Hostname: "localhost",
				AdminToken: testToken, ClientCertHeader: header, TrustedProxies: tc.proxies, OpenStore: openStore}, nil)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() { done <- app.Serve() }()
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				_ = app.Shutdown(ctx)
				<-done
			}()
			ctx := context.Background()
			if err := app.Store.CreateTenant(ctx, store.Tenant{ID: testTenant, DisplayName: "Contoso", VerifiedDomains: []string{"contoso.com"}, AuthPolicy: store.AuthOnPremise}); err != nil {
				t.Fatal(err)
			}
			const id = "C0FFEE00C0FFEE00C0FFEE00C0FFEE00"
			var hdrValue string
			if tc.cert != nil {
				hdrValue = url.QueryEscape(string(tc.cert(app, id)))
			}
			h := syncml.Header{VerDTD: "1.2", VerProto: "DM/1.2", SessionID: "1", MsgID: "1", Target: app.PublicURL.String() + ManagementPath, Source: id}
			b := syncml.NewBuilder(h, 2)
			b.Alert(syncml.AlertClientInitiated)
			body, _ := b.Bytes(true)
			req, _ := http.NewRequest(http.MethodPost, "https://"+app.Addr().String()+ManagementPath, bytes.NewReader(body))
			req.Header.Set("Content-Type", syncml.ContentType)
			if hdrValue != "" {
				req.Header.Set(header, hdrValue)
			}
			// The "proxy" connects without a client certificate of its own.
			resp, err := testpki.HTTPClient(testpki.ClientTLS(app.CA.Pool(), nil, nil)).Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Fatalf("HTTP %d, want %d", resp.StatusCode, tc.want)
			}
			if tc.want == http.StatusOK {
				var buf bytes.Buffer
				_, _ = buf.ReadFrom(resp.Body)
				m, err := syncml.Parse(buf.Bytes())
				if err != nil {
					t.Fatal(err)
				}
				if code, _ := statusFor(m, "0"); code != tc.wantHdr {
					t.Fatalf("SyncHdr status %d, want %d", code, tc.wantHdr)
				}
			}
		})
	}
}

// issuedPEM enrolls deviceID with a certificate from the app's CA and returns it as PEM.
func issuedPEM(app *App, deviceID string) []byte {
	key := testpki.Key(&testing.T{})
	cert, err := app.CA.IssueDevice(ca.DeviceCertRequest{PublicKey: &key.PublicKey, DeviceID: deviceID, NotBefore: time.Now().Add(-time.Minute)})
	if err != nil {
		panic(err)
	}
	_, err = app.Store.RegisterDevice(context.Background(), store.Device{ID: deviceID, TenantID: testTenant, State: store.DeviceEnrolled,
		CertSerial: strings.ToUpper(cert.SerialNumber.Text(16)), EnrolledAt: time.Now()})
	if err != nil {
		panic(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}

// selfSignedPEM is a certificate naming deviceID that our CA never issued.
func selfSignedPEM(app *App, deviceID string) []byte {
	issuedPEM(app, deviceID) // the device exists; only the certificate is forged
	cert, _ := testpki.SelfSigned(&testing.T{}, deviceID)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}
