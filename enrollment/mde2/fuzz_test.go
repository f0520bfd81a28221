package mde2

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Seeds beyond the golden files: hostile and unusual shapes.
var extraSeeds = []string{
	"",
	`<Envelope/>`,
	`<?xml version="1.0" encoding="ISO-8859-1"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x/></s:Body></s:Envelope>`,
	`<!DOCTYPE x [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;&a;">]><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Body><x>&b;</x></s:Body></s:Envelope>`,
	`<e:Envelope xmlns:e="http://schemas.xmlsoap.org/soap/envelope/"><e:Body><Discover xmlns="http://schemas.microsoft.com/windows/management/2012/01/enrollment/"><request><EmailAddress>a&#13;b</EmailAddress></request></Discover></e:Body></e:Envelope>`,
	`<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope"><s:Header><Security><UsernameToken Id=" x&#9;y "><Username> u </Username><Password>&#13; p </Password></UsernameToken><BinarySecurityToken ValueType="http://schemas.microsoft.com/5.0.0.0/ConfigurationManager/Enrollment/DeviceEnrollmentUserToken">YQ==</BinarySecurityToken><Timestamp><Created>1</Created></Timestamp></Security></s:Header><s:Body><s:Fault><s:Code><s:Value>s:Receiver</s:Value></s:Code><s:Detail><DeviceEnrollmentServiceError/></s:Detail></s:Fault></s:Body></s:Envelope>`,
}

// addSeeds adds every testdata/*.xml file and extraSeeds.
func addSeeds(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.xml"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range extraSeeds {
		f.Add([]byte(s))
	}
}

var requestKinds = []Body{&DiscoverRequest{}, &GetPoliciesRequest{}, &RequestSecurityToken{}}

var responseKinds = []Body{&DiscoverResponse{}, &GetPoliciesResponse{}, &RequestSecurityTokenResponse{}, &Fault{}}

// FuzzDecodeRequest checks that decoding a request never panics and fails only with an
// *Error, and that every message it accepts survives Marshal → decode unchanged, with a
// stable encoding.
func FuzzDecodeRequest(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) { roundTrip(t, in, false, requestKinds) })
}

// FuzzDecodeResponse is FuzzDecodeRequest for responses and faults.
func FuzzDecodeResponse(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, in []byte) { roundTrip(t, in, true, responseKinds) })
}

func roundTrip(t *testing.T, in []byte, response bool, kinds []Body) {
	env, err := decodeEnvelope(in, response)
	if err != nil {
		checkError(t, err)
		return
	}
	for _, kind := range kinds {
		body, err := decodeAs(env, kind)
		if err != nil {
			checkError(t, err)
			continue
		}
		if reflect.ValueOf(body).IsNil() {
			continue // no Fault in the Body
		}
		out, err := Marshal(env.Header, body)
		if err != nil {
			t.Fatalf("Marshal of a decoded %T: %v\ninput: %q", body, err, in)
		}
		back, err := decodeEnvelope(out, response)
		if err != nil {
			t.Fatalf("decoding Marshal: %v\ninput: %q\noutput: %q", err, in, out)
		}
		again, err := decodeAs(back, kind)
		if err != nil {
			t.Fatalf("decoding the body of Marshal: %v\ninput: %q\noutput: %q", err, in, out)
		}
		if !reflect.DeepEqual(back.Header, env.Header) || !reflect.DeepEqual(again, body) {
			t.Fatalf("round trip changed the message:\n got %+v %+v\nwant %+v %+v\ninput: %q", back.Header, again, env.Header, body, in)
		}
		if out2, err := Marshal(back.Header, again); err != nil || !bytes.Equal(out2, out) {
			t.Fatalf("encoding not stable (%v):\n%q\n%q", err, out2, out)
		}
	}
}

// FuzzParseProvisioningDoc checks the same for the wap-provisioningdoc.
func FuzzParseProvisioningDoc(f *testing.F) {
	addSeeds(f)
	f.Add([]byte(`<wap-provisioningdoc version=" 1.1 "><characteristic type="A"><parm name="x" value=" a&#9;b&#10;c "/><parm name="y" datatype="d"/>` +
		`<characteristic/></characteristic><parm name="stray"/></wap-provisioningdoc>`))
	f.Fuzz(func(t *testing.T, in []byte) {
		doc, err := ParseProvisioningDoc(in)
		if err != nil {
			checkError(t, err)
			return
		}
		out, err := doc.Marshal()
		if err != nil {
			t.Fatalf("Marshal: %v\ninput: %q", err, in)
		}
		back, err := ParseProvisioningDoc(out)
		if err != nil {
			t.Fatalf("ParseProvisioningDoc(Marshal): %v\ninput: %q\noutput: %q", err, in, out)
		}
		if !reflect.DeepEqual(back, doc) {
			t.Fatalf("round trip changed the document:\n got %+v\nwant %+v\ninput: %q", back, doc, in)
		}
		if out2, err := back.Marshal(); err != nil || !bytes.Equal(out2, out) {
			t.Fatalf("encoding not stable (%v)", err)
		}
	})
}

func checkError(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	if e.Subcode == "" || e.Reason == "" || strings.TrimSpace(e.Error()) == "" {
		t.Fatalf("error without subcode or reason: %#v", e)
	}
}
