package csp

import (
	"errors"
	"testing"

	"github.com/hellomdm/hellomdm/syncml"
)

// FuzzLookup feeds LocURIs as they arrive from the network through Canonical, Lookup and
// Suggest: nothing may panic, Canonical is idempotent, a resolved URI resolves again to the
// same node, and a suggestion always resolves.
func FuzzLookup(f *testing.F) {
	f.Add("./Device/Vendor/MSFT/PassportForWork/" + tenant + "/Policies/EnablePinRecovery")
	f.Add("./Vendor/MSFT/Policy/PassportForWork/" + tenant + "/Policies/EnablePinRecovery")
	f.Add("./DevInfo/DevId")
	f.Add("/Vendor//MSFT/")
	c := Default()
	f.Fuzz(func(t *testing.T, uri string) {
		can := Canonical(uri)
		if Canonical(can) != can {
			t.Fatalf("Canonical not idempotent: %q → %q → %q", uri, can, Canonical(can))
		}
		if m, ok := c.Lookup(uri); ok {
			m2, ok := c.Lookup(m.URI)
			if !ok || m2.Node != m.Node || m2.URI != m.URI {
				t.Fatalf("Lookup(%q) not stable", uri)
			}
		}
		c.InKnownCSP(uri)
		if s, ok := c.Suggest(uri); ok {
			if _, ok := c.Lookup(s); !ok {
				t.Fatalf("Suggest(%q) = %q does not resolve", uri, s)
			}
		}
	})
}

// FuzzValidateValue checks that validation never panics and that a normalized value
// validates to itself.
func FuzzValidateValue(f *testing.F) {
	f.Add(0, "bool", "True")
	f.Add(1, "int", "+12")
	f.Add(2, "chr", " a.contoso.com;B.contoso.com;")
	f.Add(3, "b64", "TUlJ\nQg==")
	c := Default()
	uris := []string{
		"./Device/Vendor/MSFT/PassportForWork/" + tenant + "/Policies/EnablePinRecovery",
		"./Device/Vendor/MSFT/PassportForWork/" + tenant + "/Policies/PINComplexity/MinimumPINLength",
		"./Device/Vendor/MSFT/Policy/Config/Authentication/ConfigureWebSignInAllowedUrls",
		"./Device/Vendor/MSFT/CertificateStore/Root/System/0123456789ABCDEF0123456789ABCDEF01234567/EncodedCertificate",
		"./Device/Vendor/MSFT/CertificateStore/My/WSTEP/Renew/ServerURL",
	}
	f.Fuzz(func(t *testing.T, i int, format, value string) {
		m, ok := c.Lookup(uris[uint(i)%uint(len(uris))])
		if !ok {
			t.Fatal("seed URI does not resolve")
		}
		norm, err := c.ValidateValue(m, Format(format), value)
		if err != nil {
			if !errors.Is(err, ErrFormat) && !errors.Is(err, ErrValue) {
				t.Fatalf("unexpected error kind: %v", err)
			}
			return
		}
		again, err := c.ValidateValue(m, m.Node.Format, norm)
		if err != nil || again != norm {
			t.Fatalf("normalized %q does not validate to itself: %q, %v", norm, again, err)
		}
	})
}

// FuzzExecute runs arbitrary single-item commands against a tree: it must never panic and
// must answer exactly one status per item.
func FuzzExecute(f *testing.F) {
	f.Add("Add", "./Vendor/MSFT/PassportForWork/"+tenant+"/Policies/EnablePinRecovery", "bool", "true")
	f.Add("Replace", "./Device/Vendor/MSFT/Policy/Config/Authentication/AllowFastReconnect", "int", "0")
	f.Add("Delete", "./Device/Vendor/MSFT/PassportForWork/"+tenant, "", "")
	f.Add("Get", "./Device/Vendor/MSFT/PassportForWork", "", "")
	f.Fuzz(func(t *testing.T, verb, uri, format, data string) {
		tr, err := NewTree(Default(), "", Env{OSVersion: "10.0.22631", Edition: EditionPro})
		if err != nil {
			t.Fatal(err)
		}
		cmd := syncml.Command{Verb: verb, CmdID: "1", Items: []syncml.Item{{Target: uri, Data: data, Meta: &syncml.Meta{Format: format}}}}
		outs := tr.Execute(cmd)
		switch verb {
		case syncml.VerbStatus, syncml.VerbResults:
			if len(outs) != 0 {
				t.Fatalf("responses answered: %+v", outs)
			}
		case syncml.VerbAtomic, syncml.VerbSequence:
		default:
			if len(outs) != 1 {
				t.Fatalf("%d outcomes for one item", len(outs))
			}
		}
		tr.Execute(syncml.Command{Verb: syncml.VerbGet, CmdID: "2", Items: []syncml.Item{{Target: uri}}})
	})
}
