package enrollment

import (
	"errors"
	"testing"

	"github.com/hellomdm/hellomdm/enrollment/mde2"
)

// Each fuzz target feeds network input to a parser and checks that it never
// panics and that every refusal is a Fault (so the edge can map it).

func checkFault(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var f *Fault
	if !errors.As(err, &f) {
		t.Fatalf("error is not a Fault: %v", err)
	}
	if f.Subcode == "" || f.Reason == "" {
		t.Fatalf("fault without subcode or reason: %+v", f)
	}
}

func FuzzParseDiscover(f *testing.F) {
	f.Add([]byte(discoverXML("user@example.com", "4.0")))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := decodeRequest(data)
		checkFault(t, err)
		if err != nil {
			return
		}
		d, err := parseDiscover(env)
		checkFault(t, err)
		if err == nil && (d.EmailAddress == "" || !supportedVersions[d.RequestVersion]) {
			t.Fatalf("accepted invalid request %+v", d)
		}
		if err == nil {
			_, _ = domainOf(d.EmailAddress)
		}
	})
}

func FuzzParseGetPolicies(f *testing.F) {
	f.Add([]byte(getPoliciesXML(usernameSecurity("user@example.com", "pw"))))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := decodeRequest(data)
		checkFault(t, err)
		if err != nil {
			return
		}
		_, err = env.GetPolicies()
		checkFault(t, decodeFault(err))
		if sec := env.Header.Security; sec != nil && sec.UsernameToken != nil && sec.HasUserToken {
			t.Fatal("both credential kinds set")
		}
	})
}

func FuzzParseRST(f *testing.F) {
	f.Add([]byte(rstXML(usernameSecurity("user@example.com", "pw"), mde2.RequestTypeIssue, mde2.ValueTypePKCS10,
		[]byte{0x30, 0x03, 0x02, 0x01, 0x00}, windowsContext(testDeviceID, "Full"))))
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := decodeRequest(data)
		checkFault(t, err)
		if err != nil {
			return
		}
		r, err := parseRST(env)
		checkFault(t, err)
		if err == nil && !r.Renew && checkDeviceID(r.Ctx.DeviceID) != nil {
			t.Fatalf("accepted invalid DeviceID %q", r.Ctx.DeviceID)
		}
	})
}

func FuzzParseCSR(f *testing.F) {
	f.Add([]byte{0x30, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		info, err := parseCSR(der)
		if err != nil {
			if !errors.Is(err, ErrBadCSR) {
				t.Fatalf("error does not wrap ErrBadCSR: %v", err)
			}
			return
		}
		if checkCSRKey(info.PublicKey) != nil {
			t.Fatal("accepted a key the policy refuses")
		}
	})
}
