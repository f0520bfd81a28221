package gpo

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// LGPO text is what `LGPO.exe /parse /m|/u registry.pol` prints and `LGPO.exe /t` reads
// (LGPO.exe v2.2 documentation, "LGPO text file format"): lines starting with ";" are
// comments, blank lines separate records, and each record is four lines:
//
//	Computer | User
//	registry key path (no hive)
//	value name ("*" with DELETEALLVALUES and CREATEKEY)
//	DWORD:n | QWORD:n | SZ:text | EXSZ:text | MULTISZ:a\0b | DELETE | DELETEALLVALUES | CREATEKEY
//
// DWORD and QWORD are decimal (a 0x prefix is accepted); MULTISZ separates its strings with
// the two characters \0. Output redirected by PowerShell is UTF-16LE with a BOM, by cmd.exe
// ANSI; both are read.

// ParseLGPOText decodes an LGPO text file. Errors name the file and line.
func ParseLGPOText(file string, data []byte) ([]Entry, error) {
	if len(data) > MaxInputBytes {
		return nil, &ParseError{File: file, Offset: MaxInputBytes, Msg: fmt.Sprintf("larger than %d bytes", MaxInputBytes)}
	}
	text, err := decodeText(file, data)
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	var (
		out    []Entry
		record []string
		first  int
	)
	for i, line := range lines {
		trimmed := strings.TrimRight(line, " \t\r")
		if strings.HasPrefix(strings.TrimSpace(trimmed), ";") || strings.TrimSpace(trimmed) == "" {
			if len(record) > 0 {
				return nil, &ParseError{File: file, Line: i + 1, Offset: -1,
					Msg: fmt.Sprintf("record starting on line %d has %d of 4 lines (scope, key, value name, action)", first, len(record))}
			}
			continue
		}
		if len(record) == 0 {
			first = i + 1
		}
		record = append(record, trimmed)
		if len(record) < 4 {
			continue
		}
		es, err := lgpoRecord(record)
		if err != nil {
			return nil, &ParseError{File: file, Line: first + err.line, Offset: -1, Msg: err.msg}
		}
		out = append(out, es...)
		if len(out) > MaxEntries {
			return nil, &ParseError{File: file, Line: first, Offset: -1, Msg: fmt.Sprintf("more than %d entries", MaxEntries)}
		}
		record = nil
	}
	if len(record) > 0 {
		return nil, &ParseError{File: file, Line: len(lines), Offset: -1,
			Msg: fmt.Sprintf("truncated: record starting on line %d has %d of 4 lines (scope, key, value name, action)", first, len(record))}
	}
	return out, nil
}

type lineErr struct {
	line int // 0-based within the record
	msg  string
}

func lgpoRecord(r []string) ([]Entry, *lineErr) {
	var scope Scope
	switch strings.ToLower(strings.TrimSpace(r[0])) {
	case "computer":
		scope = Machine
	case "user":
		scope = User
	default:
		return nil, &lineErr{0, fmt.Sprintf("configuration %q: want Computer or User", clip(r[0]))}
	}
	key := strings.TrimSpace(r[1])
	if key == "" || strings.ContainsRune(key, 0) {
		return nil, &lineErr{1, "empty registry key"}
	}
	name := strings.TrimSpace(r[2])
	action := strings.TrimLeft(r[3], " \t")
	verb, arg, hasArg := strings.Cut(action, ":")
	verb = strings.ToUpper(strings.TrimSpace(verb))
	e := Entry{Scope: scope, Key: key, ValueName: name, Action: ActionSet}
	switch {
	case verb == "DELETE" && !hasArg:
		e.Action = ActionDelete
	case verb == "DELETEALLVALUES" && !hasArg:
		e.Action, e.ValueName = ActionDeleteAllValues, ""
	case verb == "CREATEKEY" && !hasArg:
		e.Action, e.ValueName = ActionCreateKey, ""
	case verb == "DWORD" && hasArg:
		n, err := parseNum(arg, 32)
		if err != nil {
			return nil, &lineErr{3, "DWORD: " + err.Error()}
		}
		e.Value = Value{Type: RegDWord, Num: n}
	case verb == "QWORD" && hasArg:
		n, err := parseNum(arg, 64)
		if err != nil {
			return nil, &lineErr{3, "QWORD: " + err.Error()}
		}
		e.Value = Value{Type: RegQWord, Num: n}
	case verb == "SZ" && hasArg:
		e.Value = Value{Type: RegSZ, Str: arg}
	case verb == "EXSZ" && hasArg:
		e.Value = Value{Type: RegExpandSZ, Str: arg}
	case verb == "MULTISZ" && hasArg:
		e.Value = Value{Type: RegMultiSZ, Multi: splitMulti(strings.ReplaceAll(arg, `\0`, "\x00"))}
	default:
		return nil, &lineErr{3, fmt.Sprintf("action %q: want DWORD:, QWORD:, SZ:, EXSZ:, MULTISZ:, DELETE, DELETEALLVALUES or CREATEKEY", clip(action))}
	}
	if e.Action == ActionSet || e.Action == ActionDelete {
		if e.ValueName == "" || e.ValueName == "*" {
			return nil, &lineErr{2, "a value name is required"}
		}
		// LGPO prints registry.pol's special names as they are; read them the same way.
		if strings.HasPrefix(e.ValueName, "**") && e.Action == ActionSet {
			return entryFor(scope, key, e.ValueName, e.Value), nil
		}
	}
	return []Entry{e}, nil
}

func parseNum(s string, bits int) (uint64, error) {
	s = strings.TrimSpace(s)
	base := 10
	if rest, ok := strings.CutPrefix(strings.ToLower(s), "0x"); ok {
		s, base = rest, 16
	}
	return strconv.ParseUint(s, base, bits)
}

// decodeText turns a text file into UTF-8: UTF-16LE or UTF-16BE with a BOM, UTF-8 with or
// without a BOM. Anything else that is not valid UTF-8 is an error naming the first bad
// byte.
func decodeText(file string, data []byte) (string, error) {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		return utf16Text(file, data[2:], binary.LittleEndian, 2)
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return utf16Text(file, data[2:], binary.BigEndian, 2)
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		data = data[3:]
	}
	if !utf8.Valid(data) {
		off := 0
		for off < len(data) {
			r, n := utf8.DecodeRune(data[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return "", &ParseError{File: file, Offset: int64(off), Msg: "not UTF-8 or UTF-16 with a byte order mark"}
	}
	return string(data), nil
}

func utf16Text(file string, data []byte, order binary.ByteOrder, skipped int) (string, error) {
	if len(data)%2 != 0 {
		return "", &ParseError{File: file, Offset: int64(skipped + len(data) - 1), Msg: "UTF-16 text of odd length (truncated)"}
	}
	units := make([]uint16, len(data)/2)
	for i := range units {
		units[i] = order.Uint16(data[2*i:])
	}
	return string(utf16.Decode(units)), nil
}

// clip shortens a quoted input fragment for an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}
