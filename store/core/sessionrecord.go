package core

import (
	"encoding/binary"
	"errors"
	"maps"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/hellomdm/hellomdm/store"
)

// Session records (bSessions) are a stamp (8 bytes, big-endian Unix nanoseconds of the
// session's UpdatedAt, which eviction reads without decoding) followed by the session in one
// of two encodings, told apart by their first byte:
//
//   - '{': the JSON of store.Session. Format versions 1 to 3 wrote only this; version 4 still
//     writes it for a session the binary form cannot hold exactly (below).
//   - sessionBinary (0x01), from format version 4 on, written on every message of every
//     session: no reflection, LastReply as its bytes instead of base64, one allocation. After
//     the tag, in this order: DeviceID, SessionID, Key (each a string: uvarint length, bytes);
//     ClientMsgID, ServerMsgID (varints); the number of Sent entries (uvarint), then each
//     entry in ascending key order: the key, CommandID (strings), the number of Child indexes
//     (uvarint) and each index (varint), Verb (string); LastRequestHash (string); LastReply
//     (uvarint length, bytes); MaxMsgSize (varint); Ended (one byte, 0 or 1); StartedAt,
//     UpdatedAt (each a varint of Unix seconds and a uvarint of nanoseconds, 0 to 999999999,
//     in UTC). Nothing follows.
//
// Decoding either gives the session json.Unmarshal gives for the JSON json.Marshal writes of
// the same session (TestSessionRecord, FuzzSessionRecord): the binary form is written only when
// that holds, that is when every string is valid UTF-8 (JSON would replace invalid bytes) and
// both times are in UTC within the years 0 to 9999 (JSON keeps a time's offset, and refuses
// other years); empty Sent, Child and LastReply decode as nil, as JSON's omitempty gives them.
const sessionBinary = 0x01

// errSessionRecord reports a binary session record that does not decode.
var errSessionRecord = errors.New("decoding record: malformed binary session")

// binarySession reports whether s can be written in the binary form (see above).
func binarySession(s *store.Session) bool {
	for _, v := range [...]string{s.DeviceID, s.SessionID, s.Key, s.LastRequestHash} {
		if !utf8.ValidString(v) {
			return false
		}
	}
	for k, ref := range s.Sent {
		if !utf8.ValidString(k) || !utf8.ValidString(ref.CommandID) || !utf8.ValidString(ref.Verb) {
			return false
		}
	}
	return binaryTime(s.StartedAt) && binaryTime(s.UpdatedAt)
}

func binaryTime(t time.Time) bool {
	y := t.Year()
	return t.Location() == time.UTC && y >= 0 && y <= 9999
}

// appendSession appends s in the binary form, or reports false (and appends nothing) when
// the form cannot hold s exactly.
func appendSession(dst []byte, s *store.Session) ([]byte, bool) {
	if !binarySession(s) {
		return dst, false
	}
	b := append(dst, sessionBinary)
	b = appendString(b, s.DeviceID)
	b = appendString(b, s.SessionID)
	b = appendString(b, s.Key)
	b = binary.AppendVarint(b, int64(s.ClientMsgID))
	b = binary.AppendVarint(b, int64(s.ServerMsgID))
	b = binary.AppendUvarint(b, uint64(len(s.Sent)))
	keys := slices.Collect(maps.Keys(s.Sent))
	if len(keys) > 1 {
		slices.Sort(keys)
	}
	for _, k := range keys {
		ref := s.Sent[k]
		b = appendString(b, k)
		b = appendString(b, ref.CommandID)
		b = binary.AppendUvarint(b, uint64(len(ref.Child)))
		for _, c := range ref.Child {
			b = binary.AppendVarint(b, int64(c))
		}
		b = appendString(b, ref.Verb)
	}
	b = appendString(b, s.LastRequestHash)
	b = binary.AppendUvarint(b, uint64(len(s.LastReply)))
	b = append(b, s.LastReply...)
	b = binary.AppendVarint(b, int64(s.MaxMsgSize))
	ended := byte(0)
	if s.Ended {
		ended = 1
	}
	b = append(b, ended)
	b = appendTime(b, s.StartedAt)
	b = appendTime(b, s.UpdatedAt)
	return b, true
}

// sessionSize is about the size of s in the binary form, for sizing its buffer.
func sessionSize(s *store.Session) int {
	n := 48 + len(s.DeviceID) + len(s.SessionID) + len(s.Key) + len(s.LastRequestHash) + len(s.LastReply)
	for k, ref := range s.Sent {
		n += 8 + len(k) + len(ref.CommandID) + len(ref.Verb) + 2*len(ref.Child)
	}
	return n
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendTime(b []byte, t time.Time) []byte {
	b = binary.AppendVarint(b, t.Unix())
	return binary.AppendUvarint(b, uint64(t.Nanosecond()))
}

// decodeSession decodes a binary session record (raw starts with sessionBinary). Its strings
// share one copy of raw, which may be the backend's memory.
func decodeSession(raw []byte, s *store.Session) error {
	d := binReader{s: string(raw[1:])}
	*s = store.Session{DeviceID: d.text(), SessionID: d.text(), Key: d.text(), ClientMsgID: d.int(), ServerMsgID: d.int()}
	if n := d.count(4); n > 0 { // an entry takes at least 4 bytes
		s.Sent = make(map[string]store.SentRef, n)
		for range n {
			k := d.text()
			ref := store.SentRef{CommandID: d.text()}
			if c := d.count(1); c > 0 {
				ref.Child = make([]int, c)
				for i := range ref.Child {
					ref.Child[i] = d.int()
				}
			}
			ref.Verb = d.text()
			if _, dup := s.Sent[k]; dup {
				d.bad = true
			}
			s.Sent[k] = ref
		}
	}
	s.LastRequestHash = d.text()
	if reply := d.str(); reply != "" {
		s.LastReply = []byte(reply)
	}
	s.MaxMsgSize = d.int()
	switch d.byte() {
	case 0:
	case 1:
		s.Ended = true
	default:
		d.bad = true
	}
	s.StartedAt, s.UpdatedAt = d.time(), d.time()
	if d.bad || d.i != len(d.s) {
		*s = store.Session{}
		return errSessionRecord
	}
	return nil
}

// binReader reads the binary form; a read past the end or of a malformed value sets bad and
// gives zero values from then on.
type binReader struct {
	s   string
	i   int
	bad bool
}

func (d *binReader) uvarint() uint64 {
	if d.bad {
		return 0
	}
	var v uint64
	for shift := uint(0); shift < 64; shift += 7 {
		if d.i >= len(d.s) {
			break
		}
		c := d.s[d.i]
		d.i++
		if c < 0x80 {
			if shift == 63 && c > 1 {
				break // overflows 64 bits
			}
			return v | uint64(c)<<shift
		}
		v |= uint64(c&0x7f) << shift
	}
	d.bad = true
	return 0
}

func (d *binReader) varint() int64 {
	u := d.uvarint()
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

// int reads a varint that fits an int.
func (d *binReader) int() int {
	v := d.varint()
	if int64(int(v)) != v {
		d.bad = true
		return 0
	}
	return int(v)
}

// count reads a number of elements that each take at least min bytes, so that a damaged
// count cannot ask for more memory than the record could describe.
func (d *binReader) count(min int) int {
	n := d.uvarint()
	if n > uint64(len(d.s)-d.i)/uint64(min) {
		d.bad = true
		return 0
	}
	return int(n)
}

func (d *binReader) str() string {
	n := d.count(1)
	if d.bad {
		return ""
	}
	v := d.s[d.i : d.i+n]
	d.i += n
	return v
}

// text reads a string that must be valid UTF-8, as the encoder writes only those.
func (d *binReader) text() string {
	v := d.str()
	if !utf8.ValidString(v) {
		d.bad = true
	}
	return v
}

func (d *binReader) byte() byte {
	if d.bad || d.i >= len(d.s) {
		d.bad = true
		return 0
	}
	d.i++
	return d.s[d.i-1]
}

func (d *binReader) time() time.Time {
	sec, nsec := d.varint(), d.uvarint()
	if d.bad || nsec > 999_999_999 {
		d.bad = true
		return time.Time{}
	}
	t := time.Unix(sec, int64(nsec)).UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		d.bad = true
		return time.Time{}
	}
	return t
}
