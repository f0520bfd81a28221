package gpo

import (
	"encoding/binary"
	"fmt"
	"unicode/utf16"
)

// The Registry Policy File Format (MS-GPREG, "Registry Policy File Format"): a header
// of the signature "PReg" (0x67655250 little-endian) and version 1, then zero or more
// entries [key;value;type;size;data] where the brackets and semicolons are UTF-16LE
// characters, key and value are NUL-terminated UTF-16LE strings, type and size are
// little-endian DWORDs and data is size bytes. A file of only the header is a valid, empty
// policy (GPMC writes one when every setting of a half is removed).
const (
	regPolSignature = "PReg"
	regPolVersion   = 1
	regPolHeader    = 8
)

// IsRegistryPol reports whether data starts with the registry.pol signature.
func IsRegistryPol(data []byte) bool {
	return len(data) >= 4 && string(data[:4]) == regPolSignature
}

// ParseRegistryPol decodes a registry.pol file of one half of a GPO. file names it in
// errors. It returns the entries in file order, instructions included.
func ParseRegistryPol(file string, scope Scope, data []byte) ([]Entry, error) {
	fail := func(off int, format string, args ...any) error {
		return &ParseError{File: file, Offset: int64(off), Msg: fmt.Sprintf(format, args...)}
	}
	if len(data) > MaxInputBytes {
		return nil, fail(MaxInputBytes, "larger than %d bytes", MaxInputBytes)
	}
	if len(data) < regPolHeader {
		return nil, fail(len(data), "truncated header: %d of %d bytes", len(data), regPolHeader)
	}
	if string(data[:4]) != regPolSignature {
		return nil, fail(0, "signature is %q, want %q", data[:4], regPolSignature)
	}
	if v := binary.LittleEndian.Uint32(data[4:8]); v != regPolVersion {
		return nil, fail(4, "version %d, want %d", v, regPolVersion)
	}
	r := polReader{data: data, off: regPolHeader, fail: fail}
	var out []Entry
	for r.off < len(data) {
		start := r.off
		if err := r.char('['); err != nil {
			return nil, err
		}
		key, err := r.str()
		if err != nil {
			return nil, err
		}
		if key == "" {
			return nil, fail(start+2, "empty key")
		}
		if err := r.char(';'); err != nil {
			return nil, err
		}
		name, err := r.str()
		if err != nil {
			return nil, err
		}
		if err := r.char(';'); err != nil {
			return nil, err
		}
		typ, err := r.dword()
		if err != nil {
			return nil, err
		}
		if err := r.char(';'); err != nil {
			return nil, err
		}
		size, err := r.dword()
		if err != nil {
			return nil, err
		}
		if err := r.char(';'); err != nil {
			return nil, err
		}
		if uint64(size) > uint64(len(data)-r.off) {
			return nil, fail(r.off, "data of %d bytes runs past the end of the file (%d bytes left)", size, len(data)-r.off)
		}
		dataOff := r.off
		raw := data[r.off : r.off+int(size)]
		r.off += int(size)
		if err := r.char(']'); err != nil {
			return nil, err
		}
		v, err := decodeValue(RegType(typ), raw)
		if err != nil {
			return nil, fail(dataOff, "value %q of key %q: %v", name, key, err)
		}
		out = append(out, entryFor(scope, key, name, v)...)
		if len(out) > MaxEntries {
			return nil, fail(start, "more than %d entries", MaxEntries)
		}
	}
	return out, nil
}

type polReader struct {
	data []byte
	off  int
	fail func(off int, format string, args ...any) error
}

func (r *polReader) char(c rune) error {
	if len(r.data)-r.off < 2 {
		return r.fail(r.off, "truncated: expected %q", c)
	}
	got := rune(binary.LittleEndian.Uint16(r.data[r.off:]))
	if got != c {
		return r.fail(r.off, "expected %q, found %q", c, got)
	}
	r.off += 2
	return nil
}

func (r *polReader) dword() (uint32, error) {
	if len(r.data)-r.off < 4 {
		return 0, r.fail(r.off, "truncated: expected a 4-byte number")
	}
	v := binary.LittleEndian.Uint32(r.data[r.off:])
	r.off += 4
	return v, nil
}

// str reads a NUL-terminated UTF-16LE string.
func (r *polReader) str() (string, error) {
	start := r.off
	var units []uint16
	for {
		if len(r.data)-r.off < 2 {
			return "", r.fail(start, "unterminated string")
		}
		u := binary.LittleEndian.Uint16(r.data[r.off:])
		r.off += 2
		if u == 0 {
			break
		}
		units = append(units, u)
		if len(units) > maxStringLen {
			return "", r.fail(start, "string longer than %d characters", maxStringLen)
		}
	}
	return string(utf16.Decode(units)), nil
}

// decodeValue interprets registry data by type (winnt.h; MS-RRP 3.1.1.5 for the layouts):
// strings are UTF-16LE with a terminating NUL (tolerated when missing), a multi-string is
// NUL-separated strings ended by an extra NUL, DWORD and QWORD are little-endian.
func decodeValue(t RegType, raw []byte) (Value, error) {
	v := Value{Type: t}
	switch t {
	case RegSZ, RegExpandSZ, RegLink:
		s, err := utf16String(raw)
		if err != nil {
			return v, err
		}
		v.Str = trimNULs(s)
	case RegMultiSZ:
		s, err := utf16String(raw)
		if err != nil {
			return v, err
		}
		v.Multi = splitMulti(s)
	case RegDWord:
		if len(raw) != 4 {
			return v, fmt.Errorf("REG_DWORD of %d bytes, want 4", len(raw))
		}
		v.Num = uint64(binary.LittleEndian.Uint32(raw))
	case RegDWordBigEndian:
		if len(raw) != 4 {
			return v, fmt.Errorf("REG_DWORD_BIG_ENDIAN of %d bytes, want 4", len(raw))
		}
		v.Num = uint64(binary.BigEndian.Uint32(raw))
	case RegQWord:
		if len(raw) != 8 {
			return v, fmt.Errorf("REG_QWORD of %d bytes, want 8", len(raw))
		}
		v.Num = binary.LittleEndian.Uint64(raw)
	default:
		v.Bin = append([]byte{}, raw...)
	}
	return v, nil
}

func utf16String(raw []byte) (string, error) {
	if len(raw)%2 != 0 {
		return "", fmt.Errorf("string data of odd length %d", len(raw))
	}
	units := make([]uint16, len(raw)/2)
	for i := range units {
		units[i] = binary.LittleEndian.Uint16(raw[2*i:])
	}
	return string(utf16.Decode(units)), nil
}

func trimNULs(s string) string {
	for len(s) > 0 && s[len(s)-1] == 0 {
		s = s[:len(s)-1]
	}
	return s
}

// splitMulti splits a multi-string's NUL-separated strings; an empty multi-string (no data,
// or only terminators) is an empty list, never a list of one empty string.
func splitMulti(s string) []string {
	s = trimNULs(s)
	if s == "" {
		return []string{}
	}
	var out []string
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// EncodeRegistryPol writes entries (all of one half) in the registry.pol format: the
// inverse of ParseRegistryPol for values and instructions. Tests use it to make fixtures;
// it is exported so tools can write a half back.
func EncodeRegistryPol(entries []Entry) []byte {
	out := []byte(regPolSignature)
	out = binary.LittleEndian.AppendUint32(out, regPolVersion)
	for _, e := range entries {
		name, v := e.ValueName, e.Value
		switch e.Action {
		case ActionDelete:
			name, v = "**del."+e.ValueName, Value{Type: RegSZ, Str: " "}
		case ActionDeleteAllValues:
			name, v = "**delvals.", Value{Type: RegSZ, Str: " "}
		case ActionDeleteKeys:
			name, v = "**DeleteKeys", Value{Type: RegSZ, Str: e.ValueName}
		case ActionSecureKey:
			name, v = "**SecureKey", Value{Type: RegDWord, Num: 1}
		case ActionCreateKey:
			name, v = "", Value{Type: RegNone}
		default:
			if e.Soft {
				name = "**soft." + name
			}
		}
		out = appendChar(out, '[')
		out = appendUTF16Z(out, e.Key)
		out = appendChar(out, ';')
		out = appendUTF16Z(out, name)
		out = appendChar(out, ';')
		out = binary.LittleEndian.AppendUint32(out, uint32(v.Type))
		out = appendChar(out, ';')
		data := encodeValue(v)
		out = binary.LittleEndian.AppendUint32(out, uint32(len(data)))
		out = appendChar(out, ';')
		out = append(out, data...)
		out = appendChar(out, ']')
	}
	return out
}

func appendChar(b []byte, c rune) []byte { return binary.LittleEndian.AppendUint16(b, uint16(c)) }

func appendUTF16(b []byte, s string) []byte {
	for _, u := range utf16.Encode([]rune(s)) {
		b = binary.LittleEndian.AppendUint16(b, u)
	}
	return b
}

func appendUTF16Z(b []byte, s string) []byte {
	return binary.LittleEndian.AppendUint16(appendUTF16(b, s), 0)
}

func encodeValue(v Value) []byte {
	switch v.Type {
	case RegSZ, RegExpandSZ, RegLink:
		return appendUTF16Z(nil, v.Str)
	case RegMultiSZ:
		var b []byte
		for _, s := range v.Multi {
			b = appendUTF16Z(b, s)
		}
		return binary.LittleEndian.AppendUint16(b, 0)
	case RegDWord:
		return binary.LittleEndian.AppendUint32(nil, uint32(v.Num))
	case RegDWordBigEndian:
		return binary.BigEndian.AppendUint32(nil, uint32(v.Num))
	case RegQWord:
		return binary.LittleEndian.AppendUint64(nil, v.Num)
	}
	return v.Bin
}
