package device

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/asn1"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/cryptobyte"
	cbasn1 "golang.org/x/crypto/cryptobyte/asn1"

	"github.com/hellomdm/hellomdm/device/certs"
	"github.com/hellomdm/hellomdm/device/enroll"
	"github.com/hellomdm/hellomdm/device/identity"
	"github.com/hellomdm/hellomdm/device/internal/statefile"
	"github.com/hellomdm/hellomdm/enrollment/mde2"
	"github.com/hellomdm/hellomdm/internal/testpki"
)

// answerFunc picks the fake's answer to a valid renewal request for pub and deviceID: a
// certificate (nil: a provisioning document without one), or a fault subcode.
type answerFunc func(f *renewFake, pub crypto.PublicKey, deviceID string) (cert *x509.Certificate, faultSubcode string)

// renewFake is an MS-MDE2 enrollment service that only renews: it checks the request the
// way hellomdm's server does and answers with whatever certificate answer() picks. Like
// hellomdm's server it revokes the certificate a renewal replaces. When session is set, it
// also serves OMA-DM sessions at managementPath.
type renewFake struct {
	t      *testing.T
	ca     *testpki.CA
	ts     *httptest.Server
	answer answerFunc

	mu      sync.Mutex
	session http.HandlerFunc
	peers   []*x509.Certificate
	revoked []*x509.Certificate
}

func (f *renewFake) setSession(h http.HandlerFunc) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.session = h
}

const managementPath = "/ManagementServer/MDM.svc"

func newRenewFake(t *testing.T) *renewFake {
	f := &renewFake{t: t, ca: testpki.NewCA(t, "hellomdm test root")}
	key := testpki.Key(t)
	srvCert := f.ca.Issue(t, &key.PublicKey, "127.0.0.1", []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, net.IPv4(127, 0, 0, 1))
	pool := f.ca.Pool()
	f.ts = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.ts.TLS = &tls.Config{ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvCert.Raw}, PrivateKey: key, Leaf: srvCert}}}
	f.ts.StartTLS()
	t.Cleanup(f.ts.Close)
	return f
}

func (f *renewFake) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	session := f.session
	f.mu.Unlock()
	if session != nil && r.URL.Path == managementPath {
		session(w, r)
		return
	}
	if err := f.check(w, r); err != nil {
		f.t.Errorf("renewal request: %v", err)
		http.Error(w, err.Error(), http.StatusBadRequest)
	}
}

func (f *renewFake) check(w http.ResponseWriter, r *http.Request) error {
	if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
		return errors.New("no client certificate on the TLS connection")
	}
	peer := r.TLS.PeerCertificates[0]
	f.mu.Lock()
	f.peers = append(f.peers, peer)
	f.mu.Unlock()
	body, _ := io.ReadAll(r.Body)
	env, err := mde2.DecodeRequest(body)
	if err != nil {
		return err
	}
	if env.Header.Action != mde2.ActionRST {
		return fmt.Errorf("action %q", env.Header.Action)
	}
	if env.Header.Security != nil {
		return errors.New("renewal carries wsse:Security; the TLS certificate is the credential")
	}
	rst, err := env.RequestSecurityToken()
	switch {
	case err != nil:
		return err
	case !rst.Renew():
		return fmt.Errorf("request type %q", rst.RequestType)
	case rst.ValueType != mde2.ValueTypePKCS7:
		return errors.New("request is not PKCS#7")
	}
	deviceID := rst.DeviceContext().DeviceID
	if deviceID != peer.Subject.CommonName {
		return fmt.Errorf("DeviceID %q, certificate %q", deviceID, peer.Subject.CommonName)
	}
	csr, sigAlg, sig, err := parseTestPKCS7(rst.Request)
	if err != nil {
		return err
	}
	if err := peer.CheckSignature(sigAlg, csr, sig); err != nil {
		return fmt.Errorf("PKCS#7 signature by the current certificate: %w", err)
	}
	pub, err := csrPublicKey(csr)
	if err != nil {
		return err
	}
	cert, subcode := f.answer(f, pub, deviceID)
	w.Header().Set("Content-Type", mde2.ContentTypeSOAP)
	if subcode != "" {
		w.WriteHeader(http.StatusBadRequest)
		fault, err := mde2.Marshal(mde2.Header{Action: mde2.ActionRSTRC}, &mde2.Fault{Code: mde2.CodeSender, Subcode: subcode,
			Reason: "refused", Detail: &mde2.FaultDetail{ErrorType: mde2.ErrorTypeNotEligibleToRenew}})
		if err != nil {
			return err
		}
		_, err = w.Write(fault)
		return err
	}
	if cert != nil {
		f.mu.Lock()
		f.revoked = append(f.revoked, peer)
		f.mu.Unlock()
	}
	_, err = w.Write(renewalRSTR(f.ca.Cert, cert))
	return err
}

// isRevoked says whether a renewal replaced cert.
func (f *renewFake) isRevoked(cert *x509.Certificate) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range f.revoked {
		if c.Equal(cert) {
			return true
		}
	}
	return false
}

// renewalRSTR is the answer hellomdm's server gives a renewal: an RSTR whose provisioning
// document holds only the CertificateStore section (client may be nil).
func renewalRSTR(root, client *x509.Certificate) []byte {
	doc := mde2.NewProvisioningDoc()
	store := doc.Add("CertificateStore")
	store.Add("Root").Add("System").AddCertificate(root)
	if client != nil {
		user := store.Add("My").Add("User")
		user.AddCertificate(client)
		user.Add("PrivateKeyContainer")
	}
	prov, err := doc.Marshal()
	if err != nil {
		panic(err)
	}
	out, err := mde2.Marshal(mde2.Header{Action: mde2.ActionRSTRC}, &mde2.RequestSecurityTokenResponse{ProvisioningDoc: prov})
	if err != nil {
		panic(err)
	}
	return out
}

// OIDs of the CMS renewal request the fake reads (RFC 5652 §5; RFC 5754 for SHA-256 and its
// signatures).
var (
	oidCMSData         = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}
	oidCMSSignedData   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 2}
	oidSHA256WithRSA   = asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 1, 11}
	oidECDSAWithSHA256 = asn1.ObjectIdentifier{1, 2, 840, 10045, 4, 3, 2}
)

// parseTestPKCS7 reads the CMS SignedData renewal request: content, signature algorithm,
// signature.
func parseTestPKCS7(der []byte) ([]byte, x509.SignatureAlgorithm, []byte, error) {
	in := cryptobyte.String(der)
	var ci, content, sd, algs, encap, eContent, csr, certs, signers, si, sid, digAlg, sigAlgSeq cryptobyte.String
	var ctype, etype, sigOID asn1.ObjectIdentifier
	var version, siVersion int64
	var sig []byte
	explicit0 := cbasn1.Tag(0).Constructed().ContextSpecific()
	if !in.ReadASN1(&ci, cbasn1.SEQUENCE) || !ci.ReadASN1ObjectIdentifier(&ctype) || !ctype.Equal(oidCMSSignedData) ||
		!ci.ReadASN1(&content, explicit0) || !content.ReadASN1(&sd, cbasn1.SEQUENCE) || !sd.ReadASN1Integer(&version) ||
		!sd.ReadASN1(&algs, cbasn1.SET) || !sd.ReadASN1(&encap, cbasn1.SEQUENCE) ||
		!encap.ReadASN1ObjectIdentifier(&etype) || !etype.Equal(oidCMSData) || !encap.ReadASN1(&eContent, explicit0) ||
		!eContent.ReadASN1(&csr, cbasn1.OCTET_STRING) || !sd.ReadASN1(&certs, explicit0) || !sd.ReadASN1(&signers, cbasn1.SET) ||
		!signers.ReadASN1(&si, cbasn1.SEQUENCE) || !si.ReadASN1Integer(&siVersion) || !si.ReadASN1(&sid, cbasn1.SEQUENCE) ||
		!si.ReadASN1(&digAlg, cbasn1.SEQUENCE) || !si.ReadASN1(&sigAlgSeq, cbasn1.SEQUENCE) ||
		!sigAlgSeq.ReadASN1ObjectIdentifier(&sigOID) || !si.ReadASN1Bytes(&sig, cbasn1.OCTET_STRING) {
		return nil, 0, nil, errors.New("malformed CMS SignedData")
	}
	switch {
	case sigOID.Equal(oidSHA256WithRSA):
		return csr, x509.SHA256WithRSA, sig, nil
	case sigOID.Equal(oidECDSAWithSHA256):
		return csr, x509.ECDSAWithSHA256, sig, nil
	}
	return nil, 0, nil, fmt.Errorf("signature algorithm %v", sigOID)
}

// csrPublicKey reads the SPKI of a PKCS#10 request of either shape (the Windows one does not
// parse with the standard library).
func csrPublicKey(der []byte) (crypto.PublicKey, error) {
	in := cryptobyte.String(der)
	var req, tbs, name, spki cryptobyte.String
	var v int64
	if !in.ReadASN1(&req, cbasn1.SEQUENCE) || !req.ReadASN1(&tbs, cbasn1.SEQUENCE) || !tbs.ReadASN1Integer(&v) ||
		!tbs.ReadASN1(&name, cbasn1.SEQUENCE) || !tbs.ReadASN1Element(&spki, cbasn1.SEQUENCE) {
		return nil, errors.New("malformed PKCS#10")
	}
	return x509.ParsePKIXPublicKey(spki)
}

// renewableAgent writes the state of a device enrolled with f in the given CSR shape (an RSA
// key for windows, P-256 for clean) and opens it.
func renewableAgent(t *testing.T, f *renewFake, shape enroll.CSRShape) *Agent {
	t.Helper()
	id, err := identity.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := renewableState(t, f, id, shape, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), nil)
	a, err := Open(dir, Options{Identity: &id})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// renewableState writes the state directory of device id enrolled with f in the given CSR
// shape, with a certificate valid from notBefore to notAfter and the renewal schedule given
// (nil: a record written before the agent kept one). It returns the directory and the
// certificate.
func renewableState(t *testing.T, f *renewFake, id identity.Identity, shape enroll.CSRShape, notBefore, notAfter time.Time, renewal *enroll.RenewSchedule) (string, *x509.Certificate) {
	t.Helper()
	dir := t.TempDir()
	var key crypto.Signer = testpki.Key(t)
	if shape == enroll.CSRWindows {
		rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		key = rsaKey
	}
	cert := f.ca.IssueValid(t, key.Public(), id.DeviceID, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, notBefore, notAfter)
	if cert == nil {
		t.FailNow()
	}
	kder, _ := x509.MarshalPKCS8PrivateKey(key)
	for name, data := range map[string][]byte{
		certs.FileKey:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}),
		certs.FileCert: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}),
		certs.FileCA:   pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: f.ca.Cert.Raw}),
	} {
		if err := statefile.WriteFileAtomic(dir+"/"+name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := statefile.WriteJSON(dir+"/"+fileEnrollment, enroll.Enrollment{State: enroll.StateEnrolled, ServerURL: f.ts.URL,
		EnrollmentURL: f.ts.URL + "/EnrollmentServer/enroll.Enrollment.svc", ManagementURL: f.ts.URL + managementPath,
		ProviderID: "hellomdm", UPN: "alice@contoso.com", TenantID: testTenant, CSRShape: shape, CertThumbprint: mde2.Thumbprint(cert),
		Renewal: renewal}); err != nil {
		t.Fatal(err)
	}
	return dir, cert
}

// stateFiles reads the files a renewal may change.
func stateFiles(t *testing.T, a *Agent) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, name := range []string{certs.FileKey, certs.FileCert, certs.FileCA, fileEnrollment} {
		raw, err := os.ReadFile(a.path(name))
		if err != nil {
			t.Fatal(err)
		}
		out[name] = raw
	}
	return out
}

func TestRenew(t *testing.T) {
	other := testpki.NewCA(t, "another root")
	clientEKU := []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	issued := func(f *renewFake, pub crypto.PublicKey, id string) (*x509.Certificate, string) {
		return f.ca.Issue(t, pub, id, clientEKU), ""
	}
	for _, tc := range []struct {
		name    string
		shape   enroll.CSRShape
		answer  answerFunc
		wantErr string // "" = renewal succeeds
	}{
		{"P-256 device, clean CSR", enroll.CSRClean, issued, ""},
		{"RSA device, Windows CSR", enroll.CSRWindows, issued, ""},
		{"server refuses with a fault", enroll.CSRClean, func(*renewFake, crypto.PublicKey, string) (*x509.Certificate, string) {
			return nil, "s:Authorization"
		}, "NotEligibleToRenew"},
		{"certificate for another key", enroll.CSRClean, func(f *renewFake, _ crypto.PublicKey, id string) (*x509.Certificate, string) {
			return f.ca.Issue(t, &testpki.Key(t).PublicKey, id, clientEKU), ""
		}, "not for the new key"},
		{"certificate from another CA", enroll.CSRClean, func(_ *renewFake, pub crypto.PublicKey, id string) (*x509.Certificate, string) {
			return other.Issue(t, pub, id, clientEKU), ""
		}, "unknown authority"},
		{"certificate for another device", enroll.CSRClean, func(f *renewFake, pub crypto.PublicKey, _ string) (*x509.Certificate, string) {
			return f.ca.Issue(t, pub, "00000000000000000000000000000000", clientEKU), ""
		}, "is not the DeviceID"},
		{"certificate without client authentication", enroll.CSRClean, func(f *renewFake, pub crypto.PublicKey, id string) (*x509.Certificate, string) {
			return f.ca.Issue(t, pub, id, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}), ""
		}, "usage"},
		{"provisioning document without a client certificate", enroll.CSRClean, func(*renewFake, crypto.PublicKey, string) (*x509.Certificate, string) {
			return nil, ""
		}, "no client certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRenewFake(t)
			f.answer = tc.answer
			a := renewableAgent(t, f, tc.shape)
			old := tlsCertOfAgent(t, a)
			before := stateFiles(t, a)

			err := a.Renew(context.Background())
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Renew = %v, want an error containing %q", err, tc.wantErr)
				}
				after := stateFiles(t, a)
				for name := range before {
					if name != fileEnrollment && !bytes.Equal(before[name], after[name]) {
						t.Errorf("%s changed by a failed renewal", name)
					}
				}
				// The enrollment record changes only by the attempt's record
				// (CertificateStore My/WSTEP/Renew Status, ErrorCode, LastRenewalAttemptTime).
				enr := a.Enrollment()
				if enr.RenewalStatus != enroll.RenewalFailed || enr.RenewalErrorCode == 0 || enr.LastRenewalAttempt.IsZero() {
					t.Errorf("failed attempt recorded as status %d, error %d, at %v", enr.RenewalStatus, enr.RenewalErrorCode, enr.LastRenewalAttempt)
				}
				var was enroll.Enrollment
				if err := json.Unmarshal(before[fileEnrollment], &was); err != nil {
					t.Fatal(err)
				}
				enr.LastRenewalAttempt, enr.RenewalStatus, enr.RenewalErrorCode = was.LastRenewalAttempt, was.RenewalStatus, was.RenewalErrorCode
				if !reflect.DeepEqual(enr, was) {
					t.Errorf("a failed renewal changed the enrollment beyond the attempt's record:\n%+v\nwas\n%+v", enr, was)
				}
				return
			}
			if err != nil {
				t.Fatalf("Renew: %v", err)
			}
			renewed := tlsCertOfAgent(t, a)
			if bytes.Equal(renewed.Leaf.Raw, old.Leaf.Raw) || renewed.Leaf.Subject.CommonName != a.Identity().DeviceID {
				t.Fatalf("certificate after renewal: %v (old %v)", renewed.Leaf.Subject, old.Leaf.SerialNumber)
			}
			if got := a.Enrollment().CertThumbprint; got != mde2.Thumbprint(renewed.Leaf) {
				t.Errorf("enrollment thumbprint %s, want %s", got, mde2.Thumbprint(renewed.Leaf))
			}
			if enr := a.Enrollment(); enr.RenewalStatus != enroll.RenewalSucceeded || enr.RenewalErrorCode != 0 || enr.LastRenewalAttempt.IsZero() {
				t.Errorf("renewal recorded as status %d, error %d, at %v", enr.RenewalStatus, enr.RenewalErrorCode, enr.LastRenewalAttempt)
			}
			if _, isRSA := renewed.PrivateKey.(*rsa.PrivateKey); isRSA != (tc.shape == enroll.CSRWindows) {
				t.Errorf("new key %T for CSR shape %s", renewed.PrivateKey, tc.shape)
			}
			// A second renewal authenticates with the renewed certificate.
			if err := a.Renew(context.Background()); err != nil {
				t.Fatalf("second Renew: %v", err)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if len(f.peers) != 2 || !f.peers[0].Equal(old.Leaf) || !f.peers[1].Equal(renewed.Leaf) {
				t.Errorf("TLS client certificates presented: %d, want the old then the renewed one", len(f.peers))
			}
		})
	}
}

func TestRenewNotEnrolled(t *testing.T) {
	a, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Renew(context.Background()); !errors.Is(err, enroll.ErrNotEnrolled) {
		t.Fatalf("Renew = %v, want enroll.ErrNotEnrolled", err)
	}
}

func tlsCertOfAgent(t *testing.T, a *Agent) tls.Certificate {
	t.Helper()
	cfg, err := a.ClientTLS()
	if err != nil {
		t.Fatal(err)
	}
	c := cfg.Certificates[0]
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			t.Fatal(err)
		}
	}
	return c
}
