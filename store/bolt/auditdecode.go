package bolt

import (
	"encoding/json"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hellomdm/hellomdm/audit"
)

// decodeEvent decodes a stored audit event. Exports and verification read every event of a
// log, so the common case takes a fast path: the object exactly as encodeEvent writes it
// (known keys, strings without escapes, compact Details) is read with one string
// conversion for all string fields and one copy of Details. Anything else — escapes,
// unknown keys, odd numbers or times — falls back to encoding/json, so the result is always
// what json.Unmarshal gives.
func decodeEvent(raw []byte, ev *audit.Event) error {
	if fastDecodeEvent(raw, ev) {
		return nil
	}
	*ev = audit.Event{}
	return unmarshal(raw, ev)
}

// fastDecodeEvent decodes raw into ev and reports whether it could.
func fastDecodeEvent(raw []byte, ev *audit.Event) bool {
	p := scanner{s: string(raw)}
	*ev = audit.Event{}
	ok := p.object(func(key string) bool {
		switch key {
		case "id":
			return p.str(&ev.ID)
		case "seq":
			return p.uint(&ev.Seq)
		case "time":
			var s string
			if !p.str(&s) {
				return false
			}
			t, err := time.Parse(time.RFC3339Nano, s)
			ev.Time = t
			return err == nil
		case "tenant_id":
			return p.str(&ev.TenantID)
		case "kind":
			var s string
			ok := p.str(&s)
			ev.Kind = audit.Kind(s)
			return ok
		case "actor":
			return p.object(func(key string) bool {
				switch key {
				case "type":
					return p.str(&ev.Actor.Type)
				case "id":
					return p.str(&ev.Actor.ID)
				case "token_id":
					return p.str(&ev.Actor.TokenID)
				case "role":
					return p.str(&ev.Actor.Role)
				case "source_addr":
					return p.str(&ev.Actor.SourceAddr)
				}
				return false
			})
		case "subject":
			return p.object(func(key string) bool {
				switch key {
				case "type":
					return p.str(&ev.Subject.Type)
				case "id":
					return p.str(&ev.Subject.ID)
				}
				return false
			})
		case "device_id":
			return p.str(&ev.DeviceID)
		case "profile_id":
			return p.str(&ev.ProfileID)
		case "action":
			return p.str(&ev.Action)
		case "details":
			d, ok := p.container()
			if ok {
				ev.Details = json.RawMessage(d)
			}
			return ok
		case "prev_hash":
			return p.str(&ev.PrevHash)
		case "hash":
			return p.str(&ev.Hash)
		}
		return false
	})
	if !ok {
		return false
	}
	p.ws()
	return p.i == len(p.s)
}

// scanner reads the subset of JSON encodeEvent writes.
type scanner struct {
	s string
	i int
}

func (p *scanner) ws() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

func (p *scanner) eat(c byte) bool {
	p.ws()
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

// object reads {"key": value, ...}, calling field for each key with the scanner at the value.
func (p *scanner) object(field func(key string) bool) bool {
	if !p.eat('{') {
		return false
	}
	if p.eat('}') {
		return true
	}
	for {
		var key string
		if !p.str(&key) || !p.eat(':') {
			return false
		}
		p.ws()
		if !field(key) {
			return false
		}
		if p.eat('}') {
			return true
		}
		if !p.eat(',') {
			return false
		}
	}
}

// str reads a string without escapes or control characters into dst, as a substring of the
// record (no copy). It fails on anything else so that decoding falls back to encoding/json.
func (p *scanner) str(dst *string) bool {
	if !p.eat('"') {
		return false
	}
	start := p.i
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == '"':
			v := p.s[start:p.i]
			p.i++
			if !utf8.ValidString(v) {
				return false
			}
			*dst = v
			return true
		case c == '\\' || c < 0x20:
			return false
		}
		p.i++
	}
	return false
}

// uint reads a plain decimal number.
func (p *scanner) uint(dst *uint64) bool {
	p.ws()
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	if p.i == start || (p.s[start] == '0' && p.i-start > 1) {
		return false
	}
	n, err := strconv.ParseUint(p.s[start:p.i], 10, 64)
	*dst = n
	return err == nil
}

// container reads a JSON object or array and returns a copy of its bytes, if it is valid JSON.
func (p *scanner) container() ([]byte, bool) {
	p.ws()
	if p.i >= len(p.s) || (p.s[p.i] != '{' && p.s[p.i] != '[') {
		return nil, false
	}
	start, depth, inString := p.i, 0, false
	for ; p.i < len(p.s); p.i++ {
		c := p.s[p.i]
		switch {
		case inString && c == '\\':
			p.i++
		case c == '"':
			inString = !inString
		case inString:
		case c == '{' || c == '[':
			depth++
		case c == '}' || c == ']':
			depth--
			if depth == 0 {
				p.i++
				v := []byte(p.s[start:p.i])
				return v, json.Valid(v)
			}
		}
	}
	return nil, false
}
