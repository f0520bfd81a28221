package core

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// sessionCases are sessions as the engine stores them, and the ones the binary form must
// leave to JSON.
var sessionCases = []struct {
	name   string
	s      store.Session
	binary bool // whether the binary form holds it
}{
	{"typical", store.Session{DeviceID: "0123456789ABCDEF", SessionID: "12", Key: "01a24c79-772d-7a2a-ab6c-6e85a8de3579",
		ClientMsgID: 2, ServerMsgID: 2,
		Sent:            map[string]store.SentRef{"2:3": {CommandID: "c1", Verb: "Atomic"}, "2:4": {CommandID: "c1", Child: []int{0, -1}, Verb: "Replace"}},
		LastRequestHash: "e27de9223068c1a88d4cf009866afd42", LastReply: []byte("<SyncML>\x00\xff</SyncML>"), MaxMsgSize: 65536,
		Ended: true, StartedAt: t0, UpdatedAt: t0.Add(time.Second)}, true},
	{"zero", store.Session{}, true},
	{"empty collections", store.Session{DeviceID: "d", SessionID: "0", Sent: map[string]store.SentRef{}, LastReply: []byte{},
		StartedAt: t0, UpdatedAt: t0}, true},
	{"empty child", store.Session{DeviceID: "d", Sent: map[string]store.SentRef{"": {Child: []int{}}}, StartedAt: t0, UpdatedAt: t0}, true},
	{"negative numbers", store.Session{DeviceID: "d", ClientMsgID: -1, ServerMsgID: -1 << 40, MaxMsgSize: -5}, true},
	{"extreme times", store.Session{DeviceID: "d", StartedAt: time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		UpdatedAt: time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)}, true},
	{"html and unicode", store.Session{DeviceID: "<d&é>", SessionID: "\u2028", Key: "k"}, true},
	{"invalid utf8 id", store.Session{DeviceID: "d\xff"}, false},
	{"invalid utf8 sent key", store.Session{DeviceID: "d", Sent: map[string]store.SentRef{"\xfe": {CommandID: "c"}}}, false},
	{"invalid utf8 verb", store.Session{DeviceID: "d", Sent: map[string]store.SentRef{"1:1": {Verb: "\xc0"}}}, false},
	{"offset time", store.Session{DeviceID: "d", StartedAt: t1, UpdatedAt: t0}, false},
	{"local time", store.Session{DeviceID: "d", StartedAt: t0.Local(), UpdatedAt: t0}, false},
	{"year 10000", store.Session{DeviceID: "d", UpdatedAt: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}, false},
}

// encodeSessionRecord is PutSession's encoding without the stamp: binary when it holds s,
// JSON otherwise.
func encodeSessionRecord(s *store.Session) ([]byte, bool, error) {
	if raw, ok := appendSession(nil, s); ok {
		return raw, true, nil
	}
	raw, err := json.Marshal(s)
	return raw, false, err
}

// checkSessionRecord checks that s, stored as PutSession stores it, reads back as
// json.Unmarshal reads json.Marshal's encoding of s (or fails to store as JSON fails).
func checkSessionRecord(t *testing.T, s store.Session) (binary bool) {
	t.Helper()
	js, jerr := json.Marshal(&s)
	raw, binary, err := encodeSessionRecord(&s)
	if (err == nil) != (jerr == nil) {
		t.Fatalf("encoding error %v, json.Marshal error %v", err, jerr)
	}
	if err != nil {
		return binary
	}
	var want, got store.Session
	if err := json.Unmarshal(js, &want); err != nil {
		t.Fatalf("json.Unmarshal: %v", err)
	}
	if err := unmarshal(raw, &got); err != nil {
		t.Fatalf("decoding %x: %v", raw, err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %+v\nwant (JSON) %+v", got, want)
	}
	return binary
}

func TestSessionRecord(t *testing.T) {
	for _, tc := range sessionCases {
		t.Run(tc.name, func(t *testing.T) {
			if got := checkSessionRecord(t, tc.s); got != tc.binary {
				t.Errorf("binary form used = %v, want %v", got, tc.binary)
			}
		})
	}
}

// A damaged binary record fails to decode (ErrSessionRecord) and never panics: every
// truncation of a valid record, and bytes appended after one.
func TestSessionRecordDamaged(t *testing.T) {
	raw, ok := appendSession(nil, &sessionCases[0].s)
	if !ok {
		t.Fatal("typical session not binary")
	}
	for n := 1; n < len(raw); n++ {
		var s store.Session
		if err := unmarshal(raw[:n], &s); err == nil {
			t.Errorf("truncated to %d bytes: decoded %+v", n, s)
		}
	}
	var s store.Session
	if err := unmarshal(append(raw, 0), &s); err == nil {
		t.Error("trailing byte accepted")
	}
	huge := []byte{sessionBinary, 0xff, 0xff, 0xff, 0xff, 0x0f}
	if err := unmarshal(huge, &s); err == nil {
		t.Error("string longer than the record accepted")
	}
}

// FuzzSessionRecord checks the binary form against the reference, encoding/json, on
// arbitrary sessions.
func FuzzSessionRecord(f *testing.F) {
	f.Add("d", "1", "k", int64(1), int64(2), "2:3", "c", int64(0), "Replace", "h", []byte("<SyncML/>"), int64(65536), true, int64(1700000000), int64(5), int64(-62135596800), int64(0), true)
	f.Add("d\xff", "", "", int64(-1), int64(0), "", "", int64(-7), "", "", []byte(nil), int64(0), false, int64(0), int64(0), int64(0), int64(0), false)
	f.Fuzz(func(t *testing.T, dev, sid, key string, cm, sm int64, sentKey, cmd string, child int64, verb, hash string, reply []byte,
		maxSize int64, ended bool, startSec, startNsec, updSec, updNsec int64, utc bool) {
		loc := time.UTC
		if !utc {
			loc = time.FixedZone("", 3600)
		}
		s := store.Session{DeviceID: dev, SessionID: sid, Key: key, ClientMsgID: int(cm), ServerMsgID: int(sm),
			LastRequestHash: hash, LastReply: reply, MaxMsgSize: int(maxSize), Ended: ended,
			StartedAt: time.Unix(startSec%(1<<40), startNsec%1_000_000_000).In(loc), UpdatedAt: time.Unix(updSec%(1<<40), updNsec%1_000_000_000).UTC()}
		if sentKey != "" || cmd != "" {
			ref := store.SentRef{CommandID: cmd, Verb: verb}
			if child != 0 {
				ref.Child = []int{int(child), 0}
			}
			s.Sent = map[string]store.SentRef{sentKey: ref, strings.ToUpper(sentKey) + "x": {Verb: verb}}
		}
		checkSessionRecord(t, s)
	})
}

// FuzzDecodeSessionBinary: arbitrary binary records never panic, and one that decodes
// encodes back to a record that decodes to the same session.
func FuzzDecodeSessionBinary(f *testing.F) {
	for _, tc := range sessionCases {
		if raw, ok := appendSession(nil, &tc.s); ok {
			f.Add(raw[1:])
		}
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		raw := append([]byte{sessionBinary}, body...)
		var s store.Session
		if err := unmarshal(raw, &s); err != nil {
			return
		}
		again, ok := appendSession(nil, &s)
		if !ok {
			t.Fatalf("decoded session %+v cannot be written back", s)
		}
		var s2 store.Session
		if err := unmarshal(again, &s2); err != nil || !reflect.DeepEqual(s, s2) {
			t.Fatalf("re-decoded %+v, %v; want %+v", s2, err, s)
		}
	})
}

// A database of an earlier format version (2) opens as the current one with its sessions not
// rewritten: its JSON session reads back as it was, and the session written over it is binary.
func TestFormatV2SessionsOpen(t *testing.T) {
	ctx := t.Context()
	old := store.Session{DeviceID: "dev-1", SessionID: "7", Key: "k", ClientMsgID: 1, ServerMsgID: 1,
		Sent: map[string]store.SentRef{"1:2": {CommandID: "c", Child: []int{1}, Verb: "Replace"}}, LastReply: []byte("<SyncML/>"),
		StartedAt: t0, UpdatedAt: t0}
	s := openAtFormat(t, 2, func(tx kv.Tx) error {
		dev, _ := json.Marshal(store.Device{ID: "dev-1", TenantID: "t", State: store.DeviceEnrolled})
		js, _ := json.Marshal(old)
		rec := binary.BigEndian.AppendUint64(nil, uint64(t0.UnixNano()))
		return errors.Join(tx.Put(bDevices, []byte("dev-1"), dev), tx.Put(bSessions, subKey("dev-1", "7"), append(rec, js...)))
	})
	err := s.Checkin(ctx, "dev-1", func(tx store.DeviceTx) error {
		got, err := tx.Session("7")
		if err != nil || !reflect.DeepEqual(got, old) {
			return fmt.Errorf("JSON session read back as %+v, %v; want %+v", got, err, old)
		}
		got.ClientMsgID, got.Ended = 2, true
		return tx.PutSession(got)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = s.kv.View(ctx, func(tx kv.Tx) error {
		v, err := tx.Get(bMeta, metaSchema)
		if err != nil || binary.BigEndian.Uint64(v) != FormatVersion {
			return fmt.Errorf("format version %x, %v; want %d", v, err, FormatVersion)
		}
		rec, err := tx.Get(bSessions, subKey("dev-1", "7"))
		if err != nil || len(rec) < 9 || rec[8] != sessionBinary {
			return fmt.Errorf("session rewritten as %q, %v; want the binary form", rec, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
