package core

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/hellomdm/hellomdm/audit"
)

// decodeEvent decodes a stored audit event from raw, which may be bbolt memory valid only
// for its transaction: the event gets a copy of its own.
func decodeEvent(raw []byte, ev *audit.Event) error {
	return decodeOwnedEvent(bytes.Clone(raw), ev)
}

// decodeOwnedEvent decodes a stored audit event from buf, which the caller hands over: buf
// must not be modified afterwards, since the event's strings may alias it.
//
// Exports and verification read every event of a log, so the common case takes a fast
// path: the object exactly as encodeEvent writes it (known keys, strings without escapes,
// a time in UTC, compact Details) is read without copying anything: every string field is
// an unsafe.String over its bytes in buf and Details is a sub-slice of buf (capacity
// clipped, so appending to it copies). The string ranges and the Details range are
// disjoint, so a caller that edits Details in place never changes a string. Anything else
// — escapes, unknown keys, odd numbers or times — falls back to encoding/json, so the
// result is always what json.Unmarshal gives.
func decodeOwnedEvent(buf []byte, ev *audit.Event) error {
	if fastDecodeEvent(buf, ev) {
		return nil
	}
	*ev = audit.Event{}
	return unmarshal(buf, ev)
}

// fastDecodeEvent decodes buf into ev and reports whether it could. Strings and Details
// alias buf (see decodeOwnedEvent).
func fastDecodeEvent(buf []byte, ev *audit.Event) bool {
	if len(buf) == 0 {
		return false
	}
	// s shares buf's bytes; nothing writes to buf while s or a substring of it lives.
	p := scanner{s: unsafe.String(&buf[0], len(buf))}
	// Quotes are ASCII, so when the whole record is valid UTF-8 so is every string in it;
	// only records with invalid bytes somewhere check each string. A plain record has no
	// escapes or control characters anywhere, so a string simply ends at the next quote.
	p.plain = plainASCII(bytes.TrimRight(buf, " \t\r\n"))
	p.validUTF8 = p.plain || utf8.Valid(buf)
	*ev = audit.Event{}
	ok := p.object(func(key string) bool {
		switch key {
		case "id":
			return p.str(&ev.ID)
		case "seq":
			return p.uint(&ev.Seq)
		case "time":
			return p.eventTime(&ev.Time)
		case "tenant_id":
			return p.str(&ev.TenantID)
		case "kind":
			var s string
			ok := p.str(&s)
			ev.Kind = audit.Kind(s)
			return ok
		case "actor":
			return p.actor(&ev.Actor)
		case "subject":
			return p.subject(&ev.Subject)
		case "device_id":
			return p.str(&ev.DeviceID)
		case "profile_id":
			return p.str(&ev.ProfileID)
		case "action":
			return p.str(&ev.Action)
		case "details":
			start, end, ok := p.container()
			if ok {
				ev.Details = json.RawMessage(buf[start:end:end])
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

// eventTime reads an event's time: the UTC form time.Time.MarshalJSON writes on the fast
// path, any RFC 3339 time otherwise.
func (p *scanner) eventTime(dst *time.Time) bool {
	var s string
	if !p.str(&s) {
		return false
	}
	if t, ok := parseUTC(s); ok {
		*dst = t
		return true
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	*dst = t
	return err == nil
}

// actor reads an event's actor object.
func (p *scanner) actor(a *audit.Actor) bool {
	return p.object(func(key string) bool {
		switch key {
		case "type":
			return p.str(&a.Type)
		case "id":
			return p.str(&a.ID)
		case "token_id":
			return p.str(&a.TokenID)
		case "role":
			return p.str(&a.Role)
		case "source_addr":
			return p.str(&a.SourceAddr)
		}
		return false
	})
}

// subject reads an event's subject object.
func (p *scanner) subject(sub *audit.Subject) bool {
	return p.object(func(key string) bool {
		switch key {
		case "type":
			return p.str(&sub.Type)
		case "id":
			return p.str(&sub.ID)
		}
		return false
	})
}

// parseUTC parses the form time.Time.MarshalJSON writes for a UTC time,
// "2006-01-02T15:04:05[.fraction]Z" with 1 to 9 fraction digits, with the checks time.Parse
// applies (RFC 3339 §5.6 ranges, days in the month). It reports false for anything else,
// which the caller hands to time.Parse.
func parseUTC(s string) (time.Time, bool) {
	if len(s) < len("2006-01-02T15:04:05Z") || s[4] != '-' || s[7] != '-' || s[10] != 'T' ||
		s[13] != ':' || s[16] != ':' || s[len(s)-1] != 'Z' {
		return time.Time{}, false
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	hour, ok4 := digits(s[11:13])
	minute, ok5 := digits(s[14:16])
	sec, ok6 := digits(s[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 ||
		month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	if day > daysIn(time.Month(month), year) {
		return time.Time{}, false
	}
	nsec := 0
	if frac := s[19 : len(s)-1]; frac != "" {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return time.Time{}, false
		}
		n, ok := digits(frac[1:])
		if !ok {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			n *= 10
		}
		nsec = n
	}
	return time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC), true
}

// digits parses a non-empty run of ASCII digits (at most 9).
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, s != ""
}

// daysIn returns the number of days of month m in year y.
func daysIn(m time.Month, y int) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// scanner reads the subset of JSON encodeEvent writes.
type scanner struct {
	s         string
	i         int
	plain     bool // the record (but trailing whitespace) is printable ASCII without backslashes
	validUTF8 bool // the whole record is valid UTF-8, so strings need no check of their own
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
	if p.plain {
		n := strings.IndexByte(p.s[start:], '"')
		if n < 0 {
			return false
		}
		*dst = p.s[start : start+n]
		p.i = start + n + 1
		return true
	}
	for p.i < len(p.s) {
		switch c := p.s[p.i]; {
		case c == '"':
			v := p.s[start:p.i]
			p.i++
			if !p.validUTF8 && !utf8.ValidString(v) {
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

// container reads a JSON object or array and returns where its bytes start and end, if it
// is valid JSON (as json.Valid decides) and not too deeply nested.
func (p *scanner) container() (start, end int, ok bool) {
	p.ws()
	if p.i >= len(p.s) || (p.s[p.i] != '{' && p.s[p.i] != '[') {
		return 0, 0, false
	}
	start = p.i
	if !p.value(0) {
		return 0, 0, false
	}
	return start, p.i, true
}

// maxDepth bounds the nesting the fast path validates; deeper Details go to encoding/json.
const maxDepth = 64

// value skips one JSON value (RFC 8259 §3) at p.i, after optional whitespace, and reports
// whether it is valid. Strings may hold any bytes but control characters, with valid
// escapes, as encoding/json accepts them.
func (p *scanner) value(depth int) bool {
	p.ws()
	if p.i >= len(p.s) {
		return false
	}
	switch c := p.s[p.i]; {
	case c == '{':
		if depth == maxDepth {
			return false
		}
		p.i++
		if p.eat('}') {
			return true
		}
		for {
			p.ws()
			if p.i >= len(p.s) || p.s[p.i] != '"' || !p.skipString() || !p.eat(':') || !p.value(depth+1) {
				return false
			}
			if p.eat('}') {
				return true
			}
			if !p.eat(',') {
				return false
			}
		}
	case c == '[':
		if depth == maxDepth {
			return false
		}
		p.i++
		if p.eat(']') {
			return true
		}
		for {
			if !p.value(depth + 1) {
				return false
			}
			if p.eat(']') {
				return true
			}
			if !p.eat(',') {
				return false
			}
		}
	case c == '"':
		return p.skipString()
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number()
	case c == 't':
		return p.literal("true")
	case c == 'f':
		return p.literal("false")
	case c == 'n':
		return p.literal("null")
	}
	return false
}

// skipString skips the string starting at the quote at p.i.
func (p *scanner) skipString() bool {
	p.i++
	if p.plain {
		n := strings.IndexByte(p.s[p.i:], '"')
		p.i += n + 1
		return n >= 0
	}
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return true
		case c < 0x20:
			return false
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return false
			}
			switch p.s[p.i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				p.i += 2
			case 'u':
				if p.i+6 > len(p.s) {
					return false
				}
				for _, h := range []byte(p.s[p.i+2 : p.i+6]) {
					if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
						return false
					}
				}
				p.i += 6
			default:
				return false
			}
		default:
			p.i++
		}
	}
	return false
}

// number skips -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?.
func (p *scanner) number() bool {
	if p.s[p.i] == '-' {
		p.i++
	}
	if p.i < len(p.s) && p.s[p.i] == '0' {
		p.i++
	} else if !p.digits() {
		return false
	}
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		if !p.digits() {
			return false
		}
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') {
		p.i++
		if p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
			p.i++
		}
		if !p.digits() {
			return false
		}
	}
	return true
}

// digits skips one or more ASCII digits.
func (p *scanner) digits() bool {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}

// literal skips word.
func (p *scanner) literal(word string) bool {
	if !strings.HasPrefix(p.s[p.i:], word) {
		return false
	}
	p.i += len(word)
	return true
}

// plainASCII reports whether every byte of b is printable ASCII (0x20 to 0x7f) other than
// a backslash, eight bytes at a time.
func plainASCII(b []byte) bool {
	const (
		ones  = 0x0101010101010101
		highs = 0x8080808080808080
	)
	for len(b) >= 8 {
		x := binary.LittleEndian.Uint64(b)
		y := x ^ (ones * '\\')
		// A byte of x >= 0x80, < 0x20, or (in y) zero sets a high bit here.
		if (x|((x-ones*0x20)&^x)|((y-ones)&^y))&highs != 0 {
			return false
		}
		b = b[8:]
	}
	for _, c := range b {
		if c < 0x20 || c >= 0x80 || c == '\\' {
			return false
		}
	}
	return true
}
