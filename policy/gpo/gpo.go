package gpo

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Scope is the half of a GPO a registry value comes from: Computer Configuration (HKLM,
// Machine\registry.pol) or User Configuration (HKCU, User\registry.pol).
type Scope string

// The two halves of a GPO.
const (
	Machine Scope = "machine"
	User    Scope = "user"
)

// RegType is a registry value type as registry.pol stores it (winnt.h REG_* values).
type RegType uint32

// Registry value types (winnt.h).
const (
	RegNone             RegType = 0
	RegSZ               RegType = 1
	RegExpandSZ         RegType = 2
	RegBinary           RegType = 3
	RegDWord            RegType = 4
	RegDWordBigEndian   RegType = 5
	RegLink             RegType = 6
	RegMultiSZ          RegType = 7
	RegResourceList     RegType = 8
	RegFullResourceDesc RegType = 9
	RegResourceReqList  RegType = 10
	RegQWord            RegType = 11
)

// String is the winnt.h name, e.g. REG_DWORD.
func (t RegType) String() string {
	switch t {
	case RegNone:
		return "REG_NONE"
	case RegSZ:
		return "REG_SZ"
	case RegExpandSZ:
		return "REG_EXPAND_SZ"
	case RegBinary:
		return "REG_BINARY"
	case RegDWord:
		return "REG_DWORD"
	case RegDWordBigEndian:
		return "REG_DWORD_BIG_ENDIAN"
	case RegLink:
		return "REG_LINK"
	case RegMultiSZ:
		return "REG_MULTI_SZ"
	case RegResourceList:
		return "REG_RESOURCE_LIST"
	case RegFullResourceDesc:
		return "REG_FULL_RESOURCE_DESCRIPTOR"
	case RegResourceReqList:
		return "REG_RESOURCE_REQUIREMENTS_LIST"
	case RegQWord:
		return "REG_QWORD"
	}
	return "REG_TYPE_" + strconv.FormatUint(uint64(t), 10)
}

// Value is the data of one registry value.
type Value struct {
	Type  RegType
	Num   uint64   // REG_DWORD, REG_DWORD_BIG_ENDIAN, REG_QWORD
	Str   string   // REG_SZ, REG_EXPAND_SZ, REG_LINK
	Multi []string // REG_MULTI_SZ: never nil for that type; an empty multi-string is []string{}
	Bin   []byte   // every other type, as stored
}

// Data renders the value for a report: numbers in decimal, strings as they are, a
// multi-string as a JSON list (so an empty one reads [] and is told apart from [""]), other
// types in hex.
func (v Value) Data() string {
	switch v.Type {
	case RegDWord, RegDWordBigEndian, RegQWord:
		return strconv.FormatUint(v.Num, 10)
	case RegSZ, RegExpandSZ, RegLink:
		return v.Str
	case RegMultiSZ:
		m := v.Multi
		if m == nil {
			m = []string{}
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	return fmt.Sprintf("%x", v.Bin)
}

// Action says what a registry.pol entry or LGPO line does. Only ActionSet carries a value;
// the others are instructions to the Group Policy registry extension (the **del.,
// **delvals., **DeleteValues, **DeleteKeys, **SecureKey and **soft. value names of MS-GPREG,
// "Registry Policy File Format"; LGPO's DELETE, DELETEALLVALUES and CREATEKEY actions).
type Action string

// Actions.
const (
	ActionSet             Action = "set"
	ActionDelete          Action = "delete"          // **del.NAME, LGPO DELETE
	ActionDeleteAllValues Action = "deleteAllValues" // **delvals., LGPO DELETEALLVALUES
	ActionDeleteKeys      Action = "deleteKeys"      // **DeleteKeys (subkeys in ValueName, ";"-separated)
	ActionCreateKey       Action = "createKey"       // an entry with no value name, LGPO CREATEKEY
	ActionSecureKey       Action = "secureKey"       // **SecureKey
)

// Entry is one registry.pol record or LGPO text record, decoded.
type Entry struct {
	Scope     Scope
	Key       string // without hive, e.g. SOFTWARE\Policies\Microsoft\PassportForWork
	ValueName string // for ActionSet and ActionDelete: the value's name
	Action    Action
	Value     Value // ActionSet only
	Soft      bool  // **soft.NAME: set only when the value is absent on the device
}

// Instruction is an entry that is not a value: a deletion, a key creation or a key ACL
// request. A report lists them; they never become a setting (a deleted value is "not
// configured", which MDM expresses by not sending the node, never by sending false).
type Instruction struct {
	Scope     Scope  `json:"scope"`
	Key       string `json:"key"`
	ValueName string `json:"valueName,omitempty"`
	Action    Action `json:"action"`
}

// Source describes what was parsed.
type Source struct {
	Format  string `json:"format"` // gpmcBackup, gpreport, registryPol or lgpoText
	File    string `json:"file"`   // the name given to the parser
	GPOName string `json:"gpoName,omitempty"`
	GPOID   string `json:"gpoId,omitempty"`
}

// Input formats.
const (
	FormatBackup   = "gpmcBackup"
	FormatReport   = "gpreport"
	FormatRegPol   = "registryPol"
	FormatLGPOText = "lgpoText"
)

// Policy is a parsed GPO: the values that are left after every entry has been applied in
// order, per half, and the instructions met on the way.
type Policy struct {
	Source       Source
	Values       []Entry // ActionSet entries only, in order of first appearance
	Instructions []Instruction
	// Unresolved are gpreport policies whose registry values hellomdm cannot derive (an
	// ADMX policy it does not know, or an element it cannot place).
	Unresolved []ReportedPolicy
	// Disabled are the halves the GPO's status switches off ("Computer/User configuration
	// settings disabled"): clients do not apply them, so an import leaves them out. Only a
	// backup (Backup.xml Options) and a gpreport (Computer/User Enabled) say so.
	Disabled []Scope
}

// ReportedPolicy is one administrative template setting as a gpreport names it.
type ReportedPolicy struct {
	Scope    Scope
	Name     string
	State    string
	Category string
	Reason   string
}

// ParseError is a file that could not be read: it names the file and the byte offset
// (binary and XML input) or line (LGPO text) where parsing stopped.
type ParseError struct {
	File   string
	Offset int64 // byte offset, or -1 when Line is set
	Line   int   // 1-based line, or 0 when Offset is set
	Msg    string
}

func (e *ParseError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s: line %d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: byte %d: %s", e.File, e.Offset, e.Msg)
}

// ErrUnrecognised is returned (wrapped in a *ParseError) for input that is none of the
// four formats.
var ErrUnrecognised = errors.New("not a GPMC backup, gpreport.xml, registry.pol or LGPO text file")

// Limits on what the parsers accept.
const (
	MaxInputBytes = 16 << 20 // one file, or a backup archive as uploaded
	MaxEntries    = 100000   // registry entries in one input
	maxStringLen  = 1 << 20  // one key, value name or string value
)

// state applies entries in order, as the Group Policy registry extension does (MS-GPREG
// "Policy Application": the file is processed from the start; a later entry overrides an
// earlier one).
type state struct {
	values []Entry
	instr  []Instruction
}

func lowerKey(s Scope, key, name string) string {
	return string(s) + "\x00" + strings.ToLower(key) + "\x00" + strings.ToLower(name)
}

func (st *state) apply(e Entry) {
	if e.Action != ActionSet {
		st.instr = append(st.instr, Instruction{Scope: e.Scope, Key: e.Key, ValueName: e.ValueName, Action: e.Action})
	}
	switch e.Action {
	case ActionSet:
		k := lowerKey(e.Scope, e.Key, e.ValueName)
		for i := range st.values {
			if lowerKey(st.values[i].Scope, st.values[i].Key, st.values[i].ValueName) == k {
				st.values[i] = e
				return
			}
		}
		st.values = append(st.values, e)
	case ActionDelete:
		k := lowerKey(e.Scope, e.Key, e.ValueName)
		st.drop(func(v Entry) bool { return lowerKey(v.Scope, v.Key, v.ValueName) == k })
	case ActionDeleteAllValues:
		st.drop(func(v Entry) bool { return v.Scope == e.Scope && strings.EqualFold(v.Key, e.Key) })
	case ActionDeleteKeys:
		for _, sub := range strings.Split(e.ValueName, ";") {
			sub = strings.TrimSpace(sub)
			if sub == "" {
				continue
			}
			full := e.Key + `\` + sub
			st.drop(func(v Entry) bool {
				return v.Scope == e.Scope && (strings.EqualFold(v.Key, full) || hasPrefixFold(v.Key, full+`\`))
			})
		}
	}
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

func (st *state) drop(match func(Entry) bool) {
	out := st.values[:0]
	for _, v := range st.values {
		if !match(v) {
			out = append(out, v)
		}
	}
	st.values = out
}

// entryFor turns a registry.pol record into an Entry, reading the special value names of
// MS-GPREG ("Registry Policy File Format") as instructions.
func entryFor(scope Scope, key, name string, v Value) []Entry {
	lower := strings.ToLower(name)
	switch {
	case strings.HasPrefix(lower, "**del."):
		return []Entry{{Scope: scope, Key: key, ValueName: name[len("**del."):], Action: ActionDelete}}
	case strings.HasPrefix(lower, "**delvals"):
		return []Entry{{Scope: scope, Key: key, Action: ActionDeleteAllValues}}
	case lower == "**deletevalues":
		var out []Entry
		for _, n := range strings.Split(v.Str, ";") {
			if n = strings.TrimSpace(n); n != "" {
				out = append(out, Entry{Scope: scope, Key: key, ValueName: n, Action: ActionDelete})
			}
		}
		return out
	case lower == "**deletekeys":
		return []Entry{{Scope: scope, Key: key, ValueName: v.Str, Action: ActionDeleteKeys}}
	case lower == "**securekey":
		return []Entry{{Scope: scope, Key: key, Action: ActionSecureKey}}
	case strings.HasPrefix(lower, "**soft."):
		return []Entry{{Scope: scope, Key: key, ValueName: name[len("**soft."):], Action: ActionSet, Value: v, Soft: true}}
	case name == "" && v.Type == RegNone && len(v.Bin) == 0:
		return []Entry{{Scope: scope, Key: key, Action: ActionCreateKey}}
	}
	return []Entry{{Scope: scope, Key: key, ValueName: name, Action: ActionSet, Value: v}}
}
