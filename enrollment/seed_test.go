package enrollment

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// TestWriteFuzzSeeds regenerates testdata/fuzz/* with -update from the same
// request shapes the parser tests use.
func TestWriteFuzzSeeds(t *testing.T) {
	if !*update {
		t.Skip("run with -update to regenerate seed corpora")
	}
	k := testKeys()
	win := windowsCSR(t, k.rsa2048, testDeviceID)
	onPrem := usernameSecurity("user@example.com", "pw")
	seeds := map[string]map[string][]byte{
		"FuzzParseDiscover": {
			"windows10":       []byte(discoverXML("user@example.com", "4.0")),
			"windows11":       []byte(discoverXML("user@example.com", "6.0")),
			"domain_user":     []byte(discoverXML(`EXAMPLE\user`, "5.0")),
			"bad_version":     []byte(discoverXML("user@example.com", "99")),
			"default_ns":      []byte(strings.ReplaceAll(discoverXML("u@example.com", "4.0"), "s:", "")),
			"not_an_envelope": []byte("<Discover/>"),
		},
		"FuzzParseGetPolicies": {
			"onpremise": []byte(getPoliciesXML(onPrem)),
			"federated": []byte(getPoliciesXML(tokenSecurity("header.payload.sig"))),
			"no_auth":   []byte(getPoliciesXML("")),
		},
		"FuzzParseRST": {
			"issue_full":   []byte(rstXML(onPrem, mde2.RequestTypeIssue, mde2.ValueTypePKCS10, win, windowsContext(testDeviceID, "Full"))),
			"issue_device": []byte(rstXML(tokenSecurity("t"), mde2.RequestTypeIssue, mde2.ValueTypePKCS10, win, windowsContext(testDeviceID, "Device"))),
			"renew_pkcs7":  []byte(rstXML("", mde2.RequestTypeRenew, mde2.ValueTypePKCS7, pkcs7Wrap(win), nil)),
		},
		"FuzzParseCSR": {
			"windows_sha1_oiw": win,
			"ecdsa_p256":       standardCSR(t, k.p256),
			"rsa_1024":         windowsCSR(t, k.rsa1024, testDeviceID),
			"garbage":          []byte("garbage"),
		},
	}
	for target, files := range seeds {
		dir := filepath.Join("testdata", "fuzz", target)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for name, data := range files {
			content := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
			if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
