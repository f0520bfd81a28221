package mde2

import (
	"github.com/beevik/etree"

	"github.com/hellomdm/hellomdm/internal/xmlx"
)

// DiscoverRequest is the Discover operation (MS-MDE2 3.1.4.1.1.1 and 3.1.4.1.3.1).
type DiscoverRequest struct {
	// EmailAddress is what the user typed: a UPN, or domain\user when no e-mail was given.
	EmailAddress       string
	RequestVersion     string // "4.0" on Windows 10 21H1, "6.0" on Windows 11 22H2
	DeviceType         string // "CIMClient_Windows" on Windows desktops
	ApplicationVersion string // the OS build
	OSEdition          string // decimal product type
	AuthPolicies       []string
}

// Discover reads the Body as a Discover request. Each field is at most MaxFieldLen long and
// there are at most MaxAuthPolicies AuthPolicy values; what the values mean is the server's
// to judge.
func (e *Envelope) Discover() (*DiscoverRequest, error) {
	op, err := e.operation("Discover", NSDiscovery)
	if err != nil {
		return nil, err
	}
	req := xmlx.Child(op, "request")
	if req == nil {
		return nil, formatError("missing request element", nil)
	}
	d := &DiscoverRequest{
		EmailAddress:       xmlx.Text(xmlx.Child(req, "EmailAddress")),
		RequestVersion:     xmlx.Text(xmlx.Child(req, "RequestVersion")),
		DeviceType:         xmlx.Text(xmlx.Child(req, "DeviceType")),
		ApplicationVersion: xmlx.Text(xmlx.Child(req, "ApplicationVersion")),
		OSEdition:          xmlx.Text(xmlx.Child(req, "OSEdition")),
	}
	for _, p := range xmlx.Children(xmlx.Child(req, "AuthPolicies"), "AuthPolicy") {
		d.AuthPolicies = append(d.AuthPolicies, xmlx.Text(p))
	}
	for _, f := range append([]string{d.EmailAddress, d.RequestVersion, d.DeviceType, d.ApplicationVersion, d.OSEdition}, d.AuthPolicies...) {
		if len(f) > MaxFieldLen {
			return nil, formatError("field too long", nil)
		}
	}
	if len(d.AuthPolicies) > MaxAuthPolicies {
		return nil, formatError("too many AuthPolicy values", nil)
	}
	return d, nil
}

// DiscoverEmail is the EmailAddress of a Discover request as sent, read without any check,
// or "" when the Body is no Discover. A server names it when it audits a refused request.
func (e *Envelope) DiscoverEmail() string {
	if e == nil || e.op == nil || e.op.Tag != "Discover" {
		return ""
	}
	return xmlx.Text(xmlx.Child(xmlx.Child(e.op, "request"), "EmailAddress"))
}

func (d *DiscoverRequest) element() (*etree.Element, error) {
	op := etree.NewElement("Discover")
	op.CreateAttr("xmlns", NSDiscovery)
	r := op.CreateElement("request")
	r.CreateAttr("xmlns:i", NSXSI)
	r.CreateElement("EmailAddress").SetText(d.EmailAddress)
	r.CreateElement("RequestVersion").SetText(d.RequestVersion)
	r.CreateElement("DeviceType").SetText(d.DeviceType)
	r.CreateElement("ApplicationVersion").SetText(d.ApplicationVersion)
	r.CreateElement("OSEdition").SetText(d.OSEdition)
	if len(d.AuthPolicies) > 0 {
		ap := r.CreateElement("AuthPolicies")
		for _, p := range d.AuthPolicies {
			ap.CreateElement("AuthPolicy").SetText(p)
		}
	}
	return op, nil
}

// DiscoverResponse is the DiscoverResult of a DiscoverResponse (MS-MDE2 3.1.4.1.1.2 and
// 3.1.4.1.3.2). AuthenticationServiceURL is required, and HTTPS, for AuthPolicyFederated.
type DiscoverResponse struct {
	AuthPolicy                 string
	EnrollmentVersion          string
	EnrollmentPolicyServiceURL string
	EnrollmentServiceURL       string
	AuthenticationServiceURL   string // "" is left out
}

// DiscoverResponse reads the Body as a DiscoverResponse.
func (e *Envelope) DiscoverResponse() (*DiscoverResponse, error) {
	op, err := e.operation("DiscoverResponse", NSDiscovery)
	if err != nil {
		return nil, err
	}
	res := xmlx.Child(op, "DiscoverResult")
	if res == nil {
		return nil, formatError("missing DiscoverResult element", nil)
	}
	d := &DiscoverResponse{
		AuthPolicy:                 xmlx.Text(xmlx.Child(res, "AuthPolicy")),
		EnrollmentVersion:          xmlx.Text(xmlx.Child(res, "EnrollmentVersion")),
		EnrollmentPolicyServiceURL: xmlx.Text(xmlx.Child(res, "EnrollmentPolicyServiceUrl")),
		EnrollmentServiceURL:       xmlx.Text(xmlx.Child(res, "EnrollmentServiceUrl")),
		AuthenticationServiceURL:   xmlx.Text(xmlx.Child(res, "AuthenticationServiceUrl")),
	}
	for _, f := range []string{d.AuthPolicy, d.EnrollmentVersion, d.EnrollmentPolicyServiceURL, d.EnrollmentServiceURL, d.AuthenticationServiceURL} {
		if len(f) > MaxFieldLen {
			return nil, formatError("field too long", nil)
		}
	}
	return d, nil
}

func (d *DiscoverResponse) element() (*etree.Element, error) {
	op := etree.NewElement("DiscoverResponse")
	op.CreateAttr("xmlns", NSDiscovery)
	res := op.CreateElement("DiscoverResult")
	res.CreateElement("AuthPolicy").SetText(d.AuthPolicy)
	res.CreateElement("EnrollmentVersion").SetText(d.EnrollmentVersion)
	res.CreateElement("EnrollmentPolicyServiceUrl").SetText(d.EnrollmentPolicyServiceURL)
	res.CreateElement("EnrollmentServiceUrl").SetText(d.EnrollmentServiceURL)
	if d.AuthenticationServiceURL != "" {
		res.CreateElement("AuthenticationServiceUrl").SetText(d.AuthenticationServiceURL)
	}
	return op, nil
}
