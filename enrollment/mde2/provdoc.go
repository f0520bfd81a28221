package mde2

import (
	"crypto/sha1" //nolint:gosec // certificate thumbprints are SHA-1 by definition (CertificateStore CSP)
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/beevik/etree"

	"github.com/hellomdm/hellomdm/internal/xmlx"
)

// ProvisioningDoc is a wap-provisioningdoc (MS-MDE2 2.2.9.1): a tree of characteristics,
// each with parms, configuring CSPs (CertificateStore, w7 APPLICATION, DMClient). Type and
// parm names are case sensitive. Within a characteristic the parms are written before the
// child characteristics, as hellomdm and Windows' examples order them.
type ProvisioningDoc struct {
	Version         string // "1.1"
	Characteristics []*Characteristic
}

// Characteristic is one characteristic element; Type names the CSP node.
type Characteristic struct {
	Type            string
	Parms           []Parm
	Characteristics []*Characteristic
}

// Parm is one parm element. Value and Datatype are left out when both are empty.
type Parm struct {
	Name, Value, Datatype string
}

// NewProvisioningDoc returns an empty version 1.1 document.
func NewProvisioningDoc() *ProvisioningDoc { return &ProvisioningDoc{Version: "1.1"} }

// Add appends a characteristic of type typ to the document and returns it.
func (d *ProvisioningDoc) Add(typ string) *Characteristic {
	c := &Characteristic{Type: typ}
	d.Characteristics = append(d.Characteristics, c)
	return c
}

// Characteristic returns the first top-level characteristic of type typ, or nil.
func (d *ProvisioningDoc) Characteristic(typ string) *Characteristic {
	return find(d.Characteristics, typ)
}

// Add appends a child characteristic of type typ and returns it.
func (c *Characteristic) Add(typ string) *Characteristic {
	n := &Characteristic{Type: typ}
	c.Characteristics = append(c.Characteristics, n)
	return n
}

// Set appends a parm.
func (c *Characteristic) Set(name, value, datatype string) {
	c.Parms = append(c.Parms, Parm{Name: name, Value: value, Datatype: datatype})
}

// Child returns the first child characteristic of type typ, or nil; a nil c has none.
func (c *Characteristic) Child(typ string) *Characteristic {
	if c == nil {
		return nil
	}
	return find(c.Characteristics, typ)
}

// Parm returns the value of the first parm named name, or ""; a nil c has none.
func (c *Characteristic) Parm(name string) string {
	if c == nil {
		return ""
	}
	for _, p := range c.Parms {
		if p.Name == name {
			return p.Value
		}
	}
	return ""
}

func find(cs []*Characteristic, typ string) *Characteristic {
	for _, c := range cs {
		if c.Type == typ {
			return c
		}
	}
	return nil
}

// Thumbprint is the upper-case hex SHA-1 of a certificate's DER, the name of its
// CertificateStore CSP node.
func Thumbprint(cert *x509.Certificate) string {
	sum := sha1.Sum(cert.Raw) //nolint:gosec
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

// AddCertificate appends the CertificateStore node of cert: a characteristic named by its
// thumbprint holding EncodedCertificate, base64 DER.
func (c *Characteristic) AddCertificate(cert *x509.Certificate) *Characteristic {
	n := c.Add(Thumbprint(cert))
	n.Set("EncodedCertificate", base64.StdEncoding.EncodeToString(cert.Raw), "")
	return n
}

// Certificate reads the certificate of a node written by AddCertificate and checks that
// the node is named by its thumbprint (in either letter case).
func (c *Characteristic) Certificate() (*x509.Certificate, error) {
	raw, err := base64.StdEncoding.DecodeString(c.Parm("EncodedCertificate"))
	if err != nil || len(raw) == 0 {
		return nil, fmt.Errorf("%s: EncodedCertificate is not base64", c.Type)
	}
	cert, err := x509.ParseCertificate(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", c.Type, err)
	}
	if tp := Thumbprint(cert); !strings.EqualFold(tp, c.Type) {
		return nil, fmt.Errorf("characteristic %q is not the certificate's thumbprint %s", c.Type, tp)
	}
	return cert, nil
}

// ParseProvisioningDoc reads a wap-provisioningdoc of at most MaxProvisioningDocBytes by
// local names, at most MaxDepth deep, UTF-8 only. The error is an *Error.
func ParseProvisioningDoc(data []byte) (*ProvisioningDoc, error) {
	if len(data) > MaxProvisioningDocBytes {
		return nil, formatError(fmt.Sprintf("provisioning document larger than %d bytes", MaxProvisioningDocBytes), nil)
	}
	root, err := readXML(data)
	if err != nil {
		return nil, err
	}
	if root == nil || root.Tag != "wap-provisioningdoc" {
		return nil, formatError("root is not wap-provisioningdoc", nil)
	}
	return &ProvisioningDoc{Version: xmlx.Attr(root, "version"), Characteristics: readCharacteristics(root)}, nil
}

func readCharacteristics(e *etree.Element) []*Characteristic {
	var out []*Characteristic
	for _, ce := range xmlx.Children(e, "characteristic") {
		c := &Characteristic{Type: xmlx.Attr(ce, "type"), Characteristics: readCharacteristics(ce)}
		for _, p := range xmlx.Children(ce, "parm") {
			c.Parms = append(c.Parms, Parm{Name: xmlx.Attr(p, "name"), Value: xmlx.Attr(p, "value"), Datatype: xmlx.Attr(p, "datatype")})
		}
		out = append(out, c)
	}
	return out
}

// Marshal writes the document with an XML declaration, indented by two spaces.
func (d *ProvisioningDoc) Marshal() ([]byte, error) {
	doc := etree.NewDocument()
	doc.WriteSettings = writeSettings
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	root := doc.CreateElement("wap-provisioningdoc")
	root.CreateAttr("version", d.Version)
	writeCharacteristics(root, d.Characteristics)
	doc.Indent(2)
	b, err := doc.WriteToBytes()
	if err != nil {
		return nil, fmt.Errorf("writing provisioning document: %w", err)
	}
	return b, nil
}

func writeCharacteristics(parent *etree.Element, cs []*Characteristic) {
	for _, c := range cs {
		e := parent.CreateElement("characteristic")
		e.CreateAttr("type", c.Type)
		for _, p := range c.Parms {
			pe := e.CreateElement("parm")
			pe.CreateAttr("name", p.Name)
			if p.Value != "" || p.Datatype != "" {
				pe.CreateAttr("value", p.Value)
			}
			if p.Datatype != "" {
				pe.CreateAttr("datatype", p.Datatype)
			}
		}
		writeCharacteristics(e, c.Characteristics)
	}
}
