package core

import (
	"encoding/base64"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/hellomdm/hellomdm/store"
)

// Fast decoders of the records every check-in reads: the device, its session, its open
// commands and its resolved-policy record. They read the JSON encoding/json writes for these types (known keys in their
// exact case, strings without escapes, plain integers, RFC 3339 times, base64 bytes) with one
// string conversion of the record, and give up on anything else — an escape, an unknown or
// repeated key, a float, nesting deeper than maxFastDepth — so that decoding falls back to
// encoding/json. The result is always what json.Unmarshal into a zero value gives
// (TestRecordDecoders, FuzzDecodeCommand, FuzzDecodeDevice, FuzzDecodeSession).

// maxFastDepth bounds the nesting of Atomic/Sequence payloads the fast path follows.
const maxFastDepth = 16

// record is a scanner over a stored record that keeps the raw bytes, so that values whose
// own decoders take JSON (time.Time) get their literal without a copy.
type record struct {
	scanner
	raw []byte
}

func newRecord(raw []byte) *record { return &record{scanner: scanner{s: string(raw)}, raw: raw} }

// end reports whether only whitespace is left.
func (p *record) end() bool {
	p.ws()
	return p.i == len(p.s)
}

// fields reads an object like scanner.object, its keys in the order encoding/json writes
// them. For a struct, order lists the keys the decoder knows in the order of the struct's
// fields (a key may be missing, as omitempty leaves it out, but none comes before one read
// earlier); for a map (order nil) the keys ascend in byte order, as json.Marshal sorts them.
// Any other key (unknown, repeated — encoding/json merges or overwrites those — or out of
// order) fails, leaving the record to encoding/json. The check costs one pass over order
// per object and keeps no list of the keys seen.
func (p *record) fields(order []string, field func(key string) bool) bool {
	next := 0               // struct: the first entry of order the next key may be
	prev, first := "", true // map: the key before
	return p.object(func(key string) bool {
		if order == nil {
			if !first && key <= prev {
				return false
			}
			prev, first = key, false
		} else {
			for next < len(order) && order[next] != key {
				next++
			}
			if next == len(order) {
				return false
			}
			next++
		}
		if p.null() {
			// null leaves a field of a zero value as it is, whatever its type (time.Time's
			// UnmarshalJSON ignores null too).
			return true
		}
		return field(key)
	})
}

// The keys of the records the fast decoders read, in the order of their types' fields
// (TestFieldOrders checks them against the types).
var (
	deviceKeys = []string{"id", "tenantId", "hwDevId", "userId", "userPrincipalName", "deviceName", "osVersion",
		"osEdition", "enrollmentType", "enrollmentState", "certSerial", "certThumbprint", "certNotAfter", "enrolledAt",
		"updatedAt", "lastSeenAt", "nodes", "policyDirty", "scopeTags", "wns"}
	wnsKeys = []string{"pfn", "channelUri", "status", "expiresAt", "readAt", "refused", "needsRead", "lastWakeAt",
		"lastWakeResult"}
	devicePolicyKeys = []string{"version", "osVersion", "osEdition", "userId", "resolvedAt"}
	sessionKeys      = []string{"deviceId", "sessionId", "key", "clientMsgId", "serverMsgId", "sent", "lastRequestHash",
		"lastReply", "maxMsgSize", "ended", "startedAt", "updatedAt"}
	sentRefKeys = []string{"commandId", "child", "verb"}
	commandKeys = []string{"id", "tenantId", "deviceId", "seq", "payload", "source", "state", "attempts", "maxAttempts",
		"nextAttemptAt", "statusCode", "childStatus", "results", "claimSession", "claimUntil", "lastSession", "sentCount",
		"resentAs", "createdAt", "updatedAt"}
	payloadKeys = []string{"Verb", "CmdID", "NoResp", "MsgRef", "CmdRef", "Cmd", "TargetRef", "SourceRef", "Chal", "Data",
		"Meta", "Items", "Commands"}
	chalKeys = []string{"Format", "Type", "NextNonce"}
	itemKeys = []string{"Target", "Source", "Meta", "Data", "DataXML", "MoreData"}
	metaKeys = []string{"Format", "Type", "Mark", "NextNonce", "Size", "MaxMsgSize", "MaxObjSize"}
)

// null consumes a JSON null.
func (p *record) null() bool {
	p.ws()
	if len(p.s)-p.i >= 4 && p.s[p.i:p.i+4] == "null" {
		p.i += 4
		return true
	}
	return false
}

func (p *record) boolean(dst *bool) bool {
	p.ws()
	switch {
	case len(p.s)-p.i >= 4 && p.s[p.i:p.i+4] == "true":
		p.i += 4
		*dst = true
		return true
	case len(p.s)-p.i >= 5 && p.s[p.i:p.i+5] == "false":
		p.i += 5
		*dst = false
		return true
	}
	return false
}

// int reads a plain decimal integer (optional minus, no leading zero, no fraction or
// exponent) that fits an int.
func (p *record) int(dst *int) bool {
	p.ws()
	start := p.i
	if p.i < len(p.s) && p.s[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	if p.i == digits || (p.s[digits] == '0' && p.i-digits > 1) {
		return false
	}
	n, err := strconv.ParseInt(p.s[start:p.i], 10, strconv.IntSize)
	*dst = int(n)
	return err == nil
}

// text reads a string without escapes or control characters, like scanner.str, checking
// UTF-8 only when a non-ASCII byte was seen.
func (p *record) text(dst *string) bool {
	if !p.eat('"') {
		return false
	}
	start, ascii := p.i, true
	for ; p.i < len(p.s); p.i++ {
		switch c := p.s[p.i]; {
		case c == '"':
			v := p.s[start:p.i]
			p.i++
			if !ascii && !utf8.ValidString(v) {
				return false
			}
			*dst = v
			return true
		case c == '\\' || c < 0x20:
			return false
		case c >= utf8.RuneSelf:
			ascii = false
		}
	}
	return false
}

// time reads an RFC 3339 string with time.Time's own JSON decoder.
func (p *record) time(dst *time.Time) bool {
	p.ws()
	start := p.i
	var s string
	if !p.text(&s) {
		return false
	}
	return dst.UnmarshalJSON(p.raw[start:p.i]) == nil
}

// bytes reads a base64 string (standard encoding, as encoding/json writes []byte).
func (p *record) bytes(dst *[]byte) bool {
	p.ws()
	start := p.i
	var s string
	if !p.text(&s) {
		return false
	}
	b := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(b, p.raw[start+1:p.i-1])
	*dst = b[:n]
	return err == nil
}

// array reads [v, ...], calling elem for each value; empty arrays give a non-nil slice in
// the callers, as encoding/json does.
func (p *record) array(elem func() bool) bool {
	if !p.eat('[') {
		return false
	}
	if p.eat(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if p.eat(']') {
			return true
		}
		if !p.eat(',') {
			return false
		}
	}
}

func (p *record) strings(dst *[]string) bool {
	out := []string{}
	ok := p.array(func() bool {
		var s string
		if !p.text(&s) {
			return false
		}
		out = append(out, s)
		return true
	})
	*dst = out
	return ok
}

func (p *record) ints(dst *[]int) bool {
	out := []int{}
	ok := p.array(func() bool {
		var n int
		if !p.int(&n) {
			return false
		}
		out = append(out, n)
		return true
	})
	*dst = out
	return ok
}

// unmarshal decodes a stored record into v, which must hold a zero value: the records of the
// check-in path take their fast decoders, everything else encoding/json.
func unmarshal(raw []byte, v any) error {
	ok := false
	switch v := v.(type) {
	case *store.Device:
		if ok = fastDecodeDevice(raw, v); !ok {
			*v = store.Device{}
		}
	case *store.Command:
		if ok = fastDecodeCommand(raw, v); !ok {
			*v = store.Command{}
		}
	case *store.Session:
		if len(raw) > 0 && raw[0] == sessionBinary {
			return decodeSession(raw, v)
		}
		if ok = fastDecodeSession(raw, v); !ok {
			*v = store.Session{}
		}
	case *store.DevicePolicy:
		if ok = fastDecodeDevicePolicy(raw, v); !ok {
			*v = store.DevicePolicy{}
		}
	}
	if ok {
		return nil
	}
	return jsonUnmarshal(raw, v)
}

func fastDecodeDevice(raw []byte, d *store.Device) bool {
	p := newRecord(raw)
	ok := p.fields(deviceKeys, func(key string) bool {
		switch key {
		case "id":
			return p.text(&d.ID)
		case "tenantId":
			return p.text(&d.TenantID)
		case "hwDevId":
			return p.text(&d.HWDevID)
		case "userId":
			return p.text(&d.UserID)
		case "userPrincipalName":
			return p.text(&d.UPN)
		case "deviceName":
			return p.text(&d.DeviceName)
		case "osVersion":
			return p.text(&d.OSVersion)
		case "osEdition":
			return p.int(&d.OSEdition)
		case "enrollmentType":
			return p.text(&d.EnrollmentType)
		case "enrollmentState":
			return p.text(&d.State)
		case "certSerial":
			return p.text(&d.CertSerial)
		case "certThumbprint":
			return p.text(&d.CertThumbprint)
		case "certNotAfter":
			return p.time(&d.CertNotAfter)
		case "enrolledAt":
			return p.time(&d.EnrolledAt)
		case "updatedAt":
			return p.time(&d.UpdatedAt)
		case "lastSeenAt":
			return p.time(&d.LastSeenAt)
		case "nodes":
			d.Nodes = map[string]string{}
			return p.fields(nil, func(k string) bool {
				var v string
				ok := p.text(&v)
				d.Nodes[k] = v
				return ok
			})
		case "policyDirty":
			return p.boolean(&d.PolicyDirty)
		case "scopeTags":
			return p.strings(&d.ScopeTags)
		case "wns":
			d.WNS = &store.WNSChannel{}
			return p.wns(d.WNS)
		}
		return false
	})
	return ok && p.end()
}

// wns reads a device's WNS channel.
func (p *record) wns(w *store.WNSChannel) bool {
	return p.fields(wnsKeys, func(key string) bool {
		switch key {
		case "pfn":
			return p.text(&w.PFN)
		case "channelUri":
			return p.text(&w.ChannelURI)
		case "status":
			var n int
			w.Status = &n
			return p.int(w.Status)
		case "expiresAt":
			return p.time(&w.ExpiresAt)
		case "readAt":
			return p.time(&w.ReadAt)
		case "refused":
			return p.text(&w.Refused)
		case "needsRead":
			return p.boolean(&w.NeedsRead)
		case "lastWakeAt":
			return p.time(&w.LastWakeAt)
		case "lastWakeResult":
			return p.text(&w.LastWakeResult)
		}
		return false
	})
}

// fastDecodeDevicePolicy reads the small per-device policy record that the policy check
// before every check-in reads.
func fastDecodeDevicePolicy(raw []byte, d *store.DevicePolicy) bool {
	p := newRecord(raw)
	ok := p.fields(devicePolicyKeys, func(key string) bool {
		switch key {
		case "version":
			return p.uint(&d.Version)
		case "osVersion":
			return p.text(&d.OSVersion)
		case "osEdition":
			return p.int(&d.OSEdition)
		case "userId":
			return p.text(&d.UserID)
		case "resolvedAt":
			return p.time(&d.ResolvedAt)
		}
		return false
	})
	return ok && p.end()
}

func fastDecodeSession(raw []byte, s *store.Session) bool {
	p := newRecord(raw)
	ok := p.fields(sessionKeys, func(key string) bool {
		switch key {
		case "deviceId":
			return p.text(&s.DeviceID)
		case "sessionId":
			return p.text(&s.SessionID)
		case "key":
			return p.text(&s.Key)
		case "clientMsgId":
			return p.int(&s.ClientMsgID)
		case "serverMsgId":
			return p.int(&s.ServerMsgID)
		case "sent":
			s.Sent = map[string]store.SentRef{}
			return p.fields(nil, func(k string) bool {
				var ref store.SentRef
				ok := p.fields(sentRefKeys, func(key string) bool {
					switch key {
					case "commandId":
						return p.text(&ref.CommandID)
					case "child":
						return p.ints(&ref.Child)
					case "verb":
						return p.text(&ref.Verb)
					}
					return false
				})
				s.Sent[k] = ref
				return ok
			})
		case "lastRequestHash":
			return p.text(&s.LastRequestHash)
		case "lastReply":
			return p.bytes(&s.LastReply)
		case "maxMsgSize":
			return p.int(&s.MaxMsgSize)
		case "ended":
			return p.boolean(&s.Ended)
		case "startedAt":
			return p.time(&s.StartedAt)
		case "updatedAt":
			return p.time(&s.UpdatedAt)
		}
		return false
	})
	return ok && p.end()
}

func fastDecodeCommand(raw []byte, c *store.Command) bool {
	p := newRecord(raw)
	ok := p.fields(commandKeys, func(key string) bool {
		switch key {
		case "id":
			return p.text(&c.ID)
		case "tenantId":
			return p.text(&c.TenantID)
		case "deviceId":
			return p.text(&c.DeviceID)
		case "seq":
			return p.uint(&c.Seq)
		case "payload":
			return p.payload(&c.Payload, 0)
		case "source":
			return p.text(&c.Source)
		case "state":
			var s string
			ok := p.text(&s)
			c.State = store.CommandState(s)
			return ok
		case "attempts":
			return p.int(&c.Attempts)
		case "maxAttempts":
			return p.int(&c.MaxAttempts)
		case "nextAttemptAt":
			return p.time(&c.NextAttemptAt)
		case "statusCode":
			return p.int(&c.StatusCode)
		case "childStatus":
			return p.ints(&c.ChildStatus)
		case "results":
			return p.items(&c.Results)
		case "claimSession":
			return p.text(&c.ClaimSession)
		case "claimUntil":
			return p.time(&c.ClaimUntil)
		case "lastSession":
			return p.text(&c.LastSession)
		case "sentCount":
			return p.int(&c.SentCount)
		case "resentAs":
			return p.text(&c.ResentAs)
		case "createdAt":
			return p.time(&c.CreatedAt)
		case "updatedAt":
			return p.time(&c.UpdatedAt)
		}
		return false
	})
	return ok && p.end()
}

// payload reads a store.Payload (its stored keys are capitalised: see store.Payload).
func (p *record) payload(c *store.Payload, depth int) bool {
	if depth > maxFastDepth {
		return false
	}
	return p.fields(payloadKeys, func(key string) bool {
		switch key {
		case "Verb":
			return p.text(&c.Verb)
		case "CmdID":
			return p.text(&c.CmdID)
		case "NoResp":
			return p.boolean(&c.NoResp)
		case "MsgRef":
			return p.text(&c.MsgRef)
		case "CmdRef":
			return p.text(&c.CmdRef)
		case "Cmd":
			return p.text(&c.Cmd)
		case "TargetRef":
			return p.strings(&c.TargetRef)
		case "SourceRef":
			return p.strings(&c.SourceRef)
		case "Chal":
			c.Chal = &store.Chal{}
			return p.fields(chalKeys, func(key string) bool {
				switch key {
				case "Format":
					return p.text(&c.Chal.Format)
				case "Type":
					return p.text(&c.Chal.Type)
				case "NextNonce":
					return p.text(&c.Chal.NextNonce)
				}
				return false
			})
		case "Data":
			return p.text(&c.Data)
		case "Meta":
			return p.meta(&c.Meta)
		case "Items":
			return p.items(&c.Items)
		case "Commands":
			out := []store.Payload{}
			ok := p.array(func() bool {
				out = append(out, store.Payload{})
				return p.payload(&out[len(out)-1], depth+1)
			})
			c.Commands = out
			return ok
		}
		return false
	})
}

func (p *record) items(dst *[]store.Item) bool {
	out := []store.Item{}
	ok := p.array(func() bool {
		out = append(out, store.Item{})
		it := &out[len(out)-1]
		return p.fields(itemKeys, func(key string) bool {
			switch key {
			case "Target":
				return p.text(&it.Target)
			case "Source":
				return p.text(&it.Source)
			case "Meta":
				return p.meta(&it.Meta)
			case "Data":
				return p.text(&it.Data)
			case "DataXML":
				return p.text(&it.DataXML)
			case "MoreData":
				return p.boolean(&it.MoreData)
			}
			return false
		})
	})
	*dst = out
	return ok
}

func (p *record) meta(dst **store.Meta) bool {
	m := &store.Meta{}
	*dst = m
	return p.fields(metaKeys, func(key string) bool {
		switch key {
		case "Format":
			return p.text(&m.Format)
		case "Type":
			return p.text(&m.Type)
		case "Mark":
			return p.text(&m.Mark)
		case "NextNonce":
			return p.text(&m.NextNonce)
		case "Size":
			return p.int(&m.Size)
		case "MaxMsgSize":
			return p.int(&m.MaxMsgSize)
		case "MaxObjSize":
			return p.int(&m.MaxObjSize)
		}
		return false
	})
}
