package mde2

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/beevik/etree"

	"github.com/hellomdm/hellomdm/internal/xmlx"
)

// GetPoliciesRequest is the MS-XCEP GetPolicies operation (MS-XCEP 3.1.4.1.1.1). Windows
// sends client/lastUpdate, client/preferredLanguage and requestFilter as xsi:nil; a value
// left empty is written so.
type GetPoliciesRequest struct {
	LastUpdate        string
	PreferredLanguage string
}

// GetPolicies reads the Body as a GetPolicies request.
func (e *Envelope) GetPolicies() (*GetPoliciesRequest, error) {
	op, err := e.operation("GetPolicies", NSPolicy)
	if err != nil {
		return nil, err
	}
	client := xmlx.Child(op, "client")
	g := &GetPoliciesRequest{
		LastUpdate:        xmlx.Text(xmlx.Child(client, "lastUpdate")),
		PreferredLanguage: xmlx.Text(xmlx.Child(client, "preferredLanguage")),
	}
	if len(g.LastUpdate) > MaxFieldLen || len(g.PreferredLanguage) > MaxFieldLen {
		return nil, formatError("field too long", nil)
	}
	return g, nil
}

func (g *GetPoliciesRequest) element() (*etree.Element, error) {
	op := etree.NewElement("GetPolicies")
	op.CreateAttr("xmlns", NSPolicy)
	cl := op.CreateElement("client")
	textOrNil(cl, "lastUpdate", g.LastUpdate)
	textOrNil(cl, "preferredLanguage", g.PreferredLanguage)
	op.CreateElement("requestFilter").CreateAttr("xsi:nil", "true")
	op.CreateAttr("xmlns:xsi", NSXSI)
	return op, nil
}

// textOrNil adds name holding v, or marked xsi:nil when v is empty.
func textOrNil(parent *etree.Element, name, v string) {
	e := parent.CreateElement(name)
	if v == "" {
		e.CreateAttr("xsi:nil", "true")
		return
	}
	e.SetText(v)
}

// GetPoliciesResponse is the MS-XCEP GetPoliciesResponse (MS-XCEP 3.1.4.1.1.2): the
// certificate policies and the OIDs they refer to. Windows honours only minimalKeyLength,
// hashAlgorithmOIDReference with its oIDs entry, and crypto providers; the elements this
// type does not model are written as xsi:nil.
type GetPoliciesResponse struct {
	PolicyID string
	Policies []CertificatePolicy
	OIDs     []OID
}

// CertificatePolicy is one policy of a GetPoliciesResponse (MS-XCEP 3.1.4.1.3.3 and the
// attributes of 3.1.4.1.3.1).
type CertificatePolicy struct {
	OIDReference              int
	CommonName                string
	PolicySchema              int
	ValidityPeriodSeconds     int64
	RenewalPeriodSeconds      int64
	Enroll, AutoEnroll        bool
	MinimalKeyLength          int
	MajorRevision             int
	MinorRevision             int
	HashAlgorithmOIDReference int
}

// OID is an entry of oIDs (MS-XCEP 3.1.4.1.3.16); Group 1 is the hash algorithms.
type OID struct {
	Value       string
	Group       int
	ReferenceID int
	DefaultName string
}

// maxPolicies bounds the policies and OIDs of a GetPoliciesResponse.
const maxPolicies = 64

// GetPoliciesResponse reads the Body as a GetPoliciesResponse. Numbers must be decimal
// integers; a missing or nil one reads as 0.
func (e *Envelope) GetPoliciesResponse() (*GetPoliciesResponse, error) {
	op, err := e.operation("GetPoliciesResponse", NSPolicy)
	if err != nil {
		return nil, err
	}
	r := xmlx.Child(op, "response")
	policies := xmlx.Children(xmlx.Child(r, "policies"), "policy")
	oids := xmlx.Children(xmlx.Child(op, "oIDs"), "oID")
	if len(policies) > maxPolicies || len(oids) > maxPolicies {
		return nil, formatError("too many policies", nil)
	}
	nr := numberReader{}
	g := &GetPoliciesResponse{PolicyID: nr.text(r, "policyID")}
	for _, p := range policies {
		a := xmlx.Child(p, "attributes")
		v, perm := xmlx.Child(a, "certificateValidity"), xmlx.Child(a, "permission")
		rev := xmlx.Child(a, "revision")
		g.Policies = append(g.Policies, CertificatePolicy{
			OIDReference: nr.int(p, "policyOIDReference"), CommonName: nr.text(a, "commonName"),
			PolicySchema: nr.int(a, "policySchema"), ValidityPeriodSeconds: nr.int64(v, "validityPeriodSeconds"),
			RenewalPeriodSeconds: nr.int64(v, "renewalPeriodSeconds"),
			Enroll:               nr.bool(perm, "enroll"), AutoEnroll: nr.bool(perm, "autoEnroll"),
			MinimalKeyLength: nr.int(xmlx.Child(a, "privateKeyAttributes"), "minimalKeyLength"),
			MajorRevision:    nr.int(rev, "majorRevision"), MinorRevision: nr.int(rev, "minorRevision"),
			HashAlgorithmOIDReference: nr.int(a, "hashAlgorithmOIDReference"),
		})
	}
	for _, o := range oids {
		g.OIDs = append(g.OIDs, OID{Value: nr.text(o, "value"), Group: nr.int(o, "group"),
			ReferenceID: nr.int(o, "oIDReferenceID"), DefaultName: nr.text(o, "defaultName")})
	}
	if nr.err != nil {
		return nil, nr.err
	}
	return g, nil
}

// numberReader reads child values, keeping the first error.
type numberReader struct{ err error }

func (nr *numberReader) text(parent *etree.Element, name string) string {
	v := xmlx.Text(xmlx.Child(parent, name))
	if len(v) > MaxFieldLen && nr.err == nil {
		nr.err = formatError("field too long", fmt.Errorf("%s", name))
	}
	return v
}

func (nr *numberReader) int64(parent *etree.Element, name string) int64 {
	v := nr.text(parent, name)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil && nr.err == nil {
		nr.err = formatError(name+" is not an integer", err)
	}
	return n
}

func (nr *numberReader) int(parent *etree.Element, name string) int {
	n := nr.int64(parent, name)
	if int64(int32(n)) != n && nr.err == nil {
		nr.err = formatError(name+" is out of range", nil)
	}
	return int(n)
}

func (nr *numberReader) bool(parent *etree.Element, name string) bool {
	return strings.EqualFold(nr.text(parent, name), "true")
}

func (g *GetPoliciesResponse) element() (*etree.Element, error) {
	nilEl := func(parent *etree.Element, names ...string) {
		for _, n := range names {
			parent.CreateElement(n).CreateAttr("xsi:nil", "true")
		}
	}
	op := etree.NewElement("GetPoliciesResponse")
	op.CreateAttr("xmlns", NSPolicy)
	op.CreateAttr("xmlns:xsi", NSXSI)
	r := op.CreateElement("response")
	r.CreateElement("policyID").SetText(g.PolicyID)
	nilEl(r, "policyFriendlyName", "nextUpdateHours", "policiesNotChanged")
	ps := r.CreateElement("policies")
	for _, p := range g.Policies {
		p.encode(ps.CreateElement("policy"), nilEl)
	}
	nilEl(op, "cAs")
	oids := op.CreateElement("oIDs")
	for _, o := range g.OIDs {
		e := oids.CreateElement("oID")
		e.CreateElement("value").SetText(o.Value)
		e.CreateElement("group").SetText(strconv.Itoa(o.Group))
		e.CreateElement("oIDReferenceID").SetText(strconv.Itoa(o.ReferenceID))
		e.CreateElement("defaultName").SetText(o.DefaultName)
	}
	return op, nil
}

func (p CertificatePolicy) encode(pol *etree.Element, nilEl func(*etree.Element, ...string)) {
	pol.CreateElement("policyOIDReference").SetText(strconv.Itoa(p.OIDReference))
	nilEl(pol, "cAs")
	a := pol.CreateElement("attributes")
	a.CreateElement("commonName").SetText(p.CommonName)
	a.CreateElement("policySchema").SetText(strconv.Itoa(p.PolicySchema))
	v := a.CreateElement("certificateValidity")
	v.CreateElement("validityPeriodSeconds").SetText(strconv.FormatInt(p.ValidityPeriodSeconds, 10))
	v.CreateElement("renewalPeriodSeconds").SetText(strconv.FormatInt(p.RenewalPeriodSeconds, 10))
	perm := a.CreateElement("permission")
	perm.CreateElement("enroll").SetText(strconv.FormatBool(p.Enroll))
	perm.CreateElement("autoEnroll").SetText(strconv.FormatBool(p.AutoEnroll))
	pk := a.CreateElement("privateKeyAttributes")
	pk.CreateElement("minimalKeyLength").SetText(strconv.Itoa(p.MinimalKeyLength))
	nilEl(pk, "keySpec", "keyUsageProperty", "permissions", "algorithmOIDReference", "cryptoProviders")
	rev := a.CreateElement("revision")
	rev.CreateElement("majorRevision").SetText(strconv.Itoa(p.MajorRevision))
	rev.CreateElement("minorRevision").SetText(strconv.Itoa(p.MinorRevision))
	nilEl(a, "supersededPolicies", "privateKeyFlags", "subjectNameFlags", "enrollmentFlags", "generalFlags")
	a.CreateElement("hashAlgorithmOIDReference").SetText(strconv.Itoa(p.HashAlgorithmOIDReference))
	nilEl(a, "rARequirements", "keyArchivalAttributes", "extensions")
}
