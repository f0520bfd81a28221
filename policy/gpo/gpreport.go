package gpo

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// A Get-GPOReport -ReportType Xml report (gpreport.xml; GPMC writes the same file into each
// backup folder) is UTF-16LE with a byte order mark and an encoding="utf-16" declaration.
// Its root is GPO (namespace http://www.microsoft.com/GroupPolicy/Settings) with the
// Computer and User halves; each half's ExtensionData/Extension of type RegistrySettings
// (namespace .../Settings/Registry) lists the administrative template settings as Policy
// elements (display Name, State Enabled/Disabled, Category, and the element values as
// CheckBox, Numeric and EditText children in presentation order) and values no loaded ADMX
// describes as RegistrySetting (KeyPath and a Value with Name and Number or String).
//
// A report names policies by their ADML display name, not by registry key, so Policy
// elements are translated back to the registry values their ADMX writes (see table.go)
// before they are mapped: a policy hellomdm does not know becomes an unresolved row.

type gpReport struct {
	XMLName    xml.Name `xml:"GPO"`
	Name       string   `xml:"Name"`
	Identifier struct {
		ID     string `xml:"Identifier"`
		Domain string `xml:"Domain"`
	} `xml:"Identifier"`
	Computer gpHalf `xml:"Computer"`
	User     gpHalf `xml:"User"`
}

type gpHalf struct {
	Enabled       string `xml:"Enabled"`
	ExtensionData []struct {
		Name      string `xml:"Name"`
		Extension struct {
			Type     string         `xml:"type,attr"`
			Policies []gpPolicy     `xml:"Policy"`
			Registry []gpRegSetting `xml:"RegistrySetting"`
		} `xml:"Extension"`
	} `xml:"ExtensionData"`
}

type gpPolicy struct {
	Name     string `xml:"Name"`
	State    string `xml:"State"`
	Category string `xml:"Category"`
	Checks   []struct {
		Name  string `xml:"Name"`
		State string `xml:"State"`
	} `xml:"CheckBox"`
	Numerics []struct {
		Name  string `xml:"Name"`
		Value string `xml:"Value"`
	} `xml:"Numeric"`
	Texts []struct {
		Name  string `xml:"Name"`
		Value string `xml:"Value"`
	} `xml:"EditText"`
}

type gpRegSetting struct {
	KeyPath string `xml:"KeyPath"`
	Value   struct {
		Name   string  `xml:"Name"`
		Number *string `xml:"Number"`
		String *string `xml:"String"`
	} `xml:"Value"`
}

// IsReport reports whether data looks like an XML document (any BOM) whose root is GPO.
func IsReport(data []byte) bool {
	head := data[:min(len(data), 4096)]
	var text string
	if bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}) {
		t, err := decodeText("", head[:len(head)&^1])
		if err != nil {
			return false
		}
		text = t
	} else {
		text = string(bytes.TrimPrefix(head, []byte{0xEF, 0xBB, 0xBF}))
	}
	return strings.HasPrefix(strings.TrimSpace(text), "<") && strings.Contains(text, "<GPO")
}

// ParseReport reads a gpreport.xml. Errors name the file and the line (or byte, for bad
// encoding) where reading stopped.
func ParseReport(file string, data []byte) (*Policy, error) {
	if len(data) > MaxInputBytes {
		return nil, &ParseError{File: file, Offset: MaxInputBytes, Msg: fmt.Sprintf("larger than %d bytes", MaxInputBytes)}
	}
	text, err := decodeText(file, data)
	if err != nil {
		return nil, err
	}
	dec := xml.NewDecoder(strings.NewReader(text))
	// The text is UTF-8 now whatever the declaration says.
	dec.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		switch strings.ToLower(label) {
		case "utf-16", "utf-16le", "utf-16be", "unicode", "utf-8":
			return r, nil
		}
		return nil, fmt.Errorf("unsupported encoding %q", label)
	}
	var rep gpReport
	if err := dec.Decode(&rep); err != nil {
		var se *xml.SyntaxError
		if errors.As(err, &se) {
			return nil, &ParseError{File: file, Line: se.Line, Offset: -1, Msg: se.Msg}
		}
		line := 1 + bytes.Count([]byte(text[:min(int(dec.InputOffset()), len(text))]), []byte("\n"))
		return nil, &ParseError{File: file, Line: line, Offset: -1, Msg: err.Error()}
	}
	p := &Policy{Source: Source{Format: FormatReport, File: file, GPOName: strings.TrimSpace(rep.Name), GPOID: strings.TrimSpace(rep.Identifier.ID)}}
	var st state
	for _, half := range []struct {
		scope Scope
		h     gpHalf
	}{{Machine, rep.Computer}, {User, rep.User}} {
		if strings.EqualFold(strings.TrimSpace(half.h.Enabled), "false") {
			p.Disabled = append(p.Disabled, half.scope)
		}
		for _, ed := range half.h.ExtensionData {
			for _, pol := range ed.Extension.Policies {
				es, reason := policyEntries(half.scope, pol)
				if reason != "" {
					p.Unresolved = append(p.Unresolved, ReportedPolicy{Scope: half.scope, Name: strings.TrimSpace(pol.Name),
						State: strings.TrimSpace(pol.State), Category: strings.TrimSpace(pol.Category), Reason: reason})
					continue
				}
				for _, e := range es {
					st.apply(e)
				}
			}
			for _, rs := range ed.Extension.Registry {
				es, err := registrySettingEntries(half.scope, rs)
				if err != nil {
					p.Unresolved = append(p.Unresolved, ReportedPolicy{Scope: half.scope, Name: strings.TrimSpace(rs.KeyPath) + "!" + rs.Value.Name,
						Reason: err.Error()})
					continue
				}
				for _, e := range es {
					st.apply(e)
				}
			}
		}
	}
	if len(st.values)+len(st.instr)+len(p.Unresolved) > MaxEntries {
		return nil, &ParseError{File: file, Line: 1, Offset: -1, Msg: fmt.Sprintf("more than %d entries", MaxEntries)}
	}
	p.Values, p.Instructions = st.values, st.instr
	return p, nil
}

// policyEntries translates one reported policy into the registry entries its ADMX writes
// (the ADMX schema's rules: Enabled writes enabledValue and each element's value; Disabled
// writes disabledValue, or deletes the value when the ADMX has none, and deletes the
// elements' values). reason is set when that cannot be done.
func policyEntries(scope Scope, pol gpPolicy) ([]Entry, string) {
	name := strings.TrimSpace(pol.Name)
	p, ok := byDisplayName[strings.ToLower(name)]
	if !ok {
		return nil, "not a Windows Hello for Business policy hellomdm knows (policies are recognised by their en-US display name)"
	}
	var out []Entry
	set := func(key, valueName string, v Value) {
		out = append(out, Entry{Scope: scope, Key: key, ValueName: valueName, Action: ActionSet, Value: v})
	}
	del := func(key, valueName string) {
		out = append(out, Entry{Scope: scope, Key: key, ValueName: valueName, Action: ActionDelete})
	}
	switch state := strings.TrimSpace(pol.State); {
	case strings.EqualFold(state, "Enabled"):
		if p.valueName != "" && p.on != nil {
			set(p.key, p.valueName, Value{Type: RegDWord, Num: uint64(*p.on)})
		}
		var nb, nd, nt int
		for _, el := range p.elements {
			switch el.kind {
			case "boolean":
				if nb < len(pol.Checks) {
					switch s := strings.TrimSpace(pol.Checks[nb].State); {
					case strings.EqualFold(s, "Enabled"):
						set(el.keyOf(p), el.valueName, Value{Type: RegDWord, Num: 1})
					case strings.EqualFold(s, "Disabled"):
						set(el.keyOf(p), el.valueName, Value{Type: RegDWord, Num: 0})
					default:
						return nil, fmt.Sprintf("check box %q has state %q", pol.Checks[nb].Name, s)
					}
				}
				nb++
			case "decimal":
				if nd < len(pol.Numerics) {
					n, err := strconv.ParseUint(strings.TrimSpace(pol.Numerics[nd].Value), 10, 32)
					if err != nil {
						return nil, fmt.Sprintf("number %q is %q, not a DWORD", pol.Numerics[nd].Name, pol.Numerics[nd].Value)
					}
					set(el.keyOf(p), el.valueName, Value{Type: RegDWord, Num: n})
				}
				nd++
			case "text":
				if nt < len(pol.Texts) {
					set(el.keyOf(p), el.valueName, Value{Type: RegSZ, Str: pol.Texts[nt].Value})
				}
				nt++
			}
		}
	case strings.EqualFold(state, "Disabled"):
		switch {
		case p.valueName != "" && p.off != nil:
			set(p.key, p.valueName, Value{Type: RegDWord, Num: uint64(*p.off)})
		case p.valueName != "":
			del(p.key, p.valueName)
		}
		for _, el := range p.elements {
			del(el.keyOf(p), el.valueName)
		}
	default:
		return nil, fmt.Sprintf("state %q is neither Enabled nor Disabled", state)
	}
	return out, ""
}

// registrySettingEntries reads an "Extra Registry Settings" value.
func registrySettingEntries(scope Scope, rs gpRegSetting) ([]Entry, error) {
	key := stripHive(strings.TrimSpace(rs.KeyPath))
	name := rs.Value.Name
	if key == "" {
		return nil, errors.New("RegistrySetting without KeyPath")
	}
	var v Value
	switch {
	case rs.Value.Number != nil:
		n, err := strconv.ParseUint(strings.TrimSpace(*rs.Value.Number), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("RegistrySetting %s!%s: number %q", key, name, *rs.Value.Number)
		}
		v = Value{Type: RegDWord, Num: n}
		if n > 1<<32-1 {
			v.Type = RegQWord
		}
	case rs.Value.String != nil:
		v = Value{Type: RegSZ, Str: *rs.Value.String}
	default:
		v = Value{Type: RegSZ}
	}
	return entryFor(scope, key, name, v), nil
}

func stripHive(key string) string {
	for _, h := range []string{`HKEY_LOCAL_MACHINE\`, `HKEY_CURRENT_USER\`, `HKLM\`, `HKCU\`} {
		if hasPrefixFold(key, h) {
			return key[len(h):]
		}
	}
	return key
}
