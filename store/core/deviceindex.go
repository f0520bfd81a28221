package core

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"hash/fnv"
	"slices"
	"strings"
	"time"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/kv"
)

// The device index answers paged, filtered device lists and the tenant's device figures
// without reading every device (store.DeviceIndex). It is written by writeDevice, in the
// transaction of every device write, from the device before and after:
//
//   - bDevSummary: device ID → devSummary, the fields lists filter on (a few dozen bytes to
//     decode, where the device record carries every reported node);
//   - bDevIndex, under prefix(tenant), one entry per list order, each ending in the device
//     ID so that entries are unique:
//     'n' name 0 id                the default order, by lower-case device name;
//     's' term 0 id                search terms: the lower-case name and UPN;
//     'c' canReset 0 name 0 id     reported CanReset ("" not reported);
//     'e' state 0 name 0 id        enrollment state;
//     'o' osVersion 0 name 0 id    OS version;
//     't' minute(8) id → tags      last check-in, to the minute (value: the scope tags);
//     'w' id                       enrolled devices holding a WNS channel URI (the
//     WNS fan-out of a policy change reads only these: ListWNSDevices);
//   - bDevCounts: prefix(tenant) tags 0 state 0 canReset 0 shard → count (8 bytes), the
//     number of devices with those scope tags, state and reported CanReset. Each device
//     counts in one of countShards rows chosen by its ID, so concurrent check-ins rarely
//     wait on one row; readers add the shards up.
//
// Check-in times are indexed to the minute, so a session of several messages moves the 't'
// entry and rewrites the summary once. Names and terms have NUL bytes replaced, so the NUL
// separators stay unambiguous.

// devSummary is what lists filter on.
type devSummary struct {
	Name      string   `json:"n,omitempty"`
	UPN       string   `json:"u,omitempty"`
	CanReset  string   `json:"c,omitempty"`
	State     string   `json:"e,omitempty"`
	OSVersion string   `json:"o,omitempty"`
	OSEdition int      `json:"d,omitempty"`
	Seen      int64    `json:"t,omitempty"` // last check-in, Unix minutes (0: never)
	Tags      []string `json:"g,omitempty"`
	WNS       bool     `json:"w,omitempty"` // enrolled, with a WNS channel URI
}

func summarize(d store.Device) devSummary {
	s := devSummary{Name: d.DeviceName, UPN: d.UPN, CanReset: d.ReportedCanReset(), State: d.State, OSVersion: d.OSVersion,
		OSEdition: d.OSEdition, Tags: slices.Clone(d.ScopeTags), WNS: d.State == store.DeviceEnrolled && d.WNS != nil && d.WNS.ChannelURI != ""}
	if !d.LastSeenAt.IsZero() {
		s.Seen = d.LastSeenAt.Unix() / 60
	}
	return s
}

func (s devSummary) equal(o devSummary) bool {
	return s.Name == o.Name && s.UPN == o.UPN && s.CanReset == o.CanReset && s.State == o.State && s.OSVersion == o.OSVersion &&
		s.OSEdition == o.OSEdition && s.Seen == o.Seen && slices.Equal(s.Tags, o.Tags) && s.WNS == o.WNS
}

// fold is the indexed form of a name, UPN or OS version: lower case, without NUL.
func fold(v string) string { return strings.ReplaceAll(strings.ToLower(v), "\x00", "\x01") }

// Index entry kinds.
const (
	kindName     = 'n'
	kindSearch   = 's'
	kindCanReset = 'c'
	kindState    = 'e'
	kindOS       = 'o'
	kindSeen     = 't'
	kindWNS      = 'w'
)

// indexKey is prefix(tenant) kind parts... joined by NUL, then 0 and the device ID.
func indexKey(tenantID string, kind byte, id string, parts ...string) []byte {
	k := append(prefix(tenantID, 64), kind)
	for _, p := range parts {
		k = append(append(k, p...), 0)
	}
	return append(k, id...)
}

// seenKey is the 't' entry of a check-in minute.
func seenKey(tenantID string, minute int64, id string) []byte {
	k := append(prefix(tenantID, 9+len(id)), kindSeen)
	k = binary.BigEndian.AppendUint64(k, uint64(minute))
	return append(k, id...)
}

// entries returns the bDevIndex entries of a device (key → value).
func (s devSummary) entries(tenantID, id string) map[string][]byte {
	name := fold(s.Name)
	out := map[string][]byte{
		string(indexKey(tenantID, kindName, id, name)):                  nil,
		string(indexKey(tenantID, kindSearch, id, name)):                nil,
		string(indexKey(tenantID, kindCanReset, id, s.CanReset, name)):  nil,
		string(indexKey(tenantID, kindState, id, s.State, name)):        nil,
		string(indexKey(tenantID, kindOS, id, fold(s.OSVersion), name)): nil,
	}
	if s.UPN != "" {
		out[string(indexKey(tenantID, kindSearch, id, fold(s.UPN)))] = nil
	}
	if s.Seen != 0 {
		out[string(seenKey(tenantID, s.Seen, id))] = []byte(strings.Join(s.Tags, "\x00"))
	}
	if s.WNS {
		out[string(indexKey(tenantID, kindWNS, id))] = nil
	}
	return out
}

// countShards is how many rows one tenant's count of one tags/state/CanReset is spread over.
const countShards = 16

func countKey(tenantID string, s devSummary, id string) []byte {
	h := fnv.New32a()
	h.Write([]byte(id))
	tags := slices.Clone(s.Tags)
	slices.Sort(tags)
	k := prefix(tenantID, 64)
	k = append(append(k, strings.Join(tags, "\x1f")...), 0)
	k = append(append(k, s.State...), 0)
	k = append(append(k, s.CanReset...), 0)
	return append(k, byte(h.Sum32()%countShards))
}

// indexDevice brings the index from the summary of the stored device (nil: a new device)
// to dev.
func indexDevice(w *wtx, old *devSummary, dev store.Device) error {
	now := summarize(dev)
	var was devSummary
	if old != nil {
		was = *old
		if was.equal(now) {
			return nil
		}
	}
	raw, err := json.Marshal(now)
	if err != nil {
		return err
	}
	if err := w.Put(bDevSummary, []byte(dev.ID), raw); err != nil {
		return err
	}
	add := now.entries(dev.TenantID, dev.ID)
	if old != nil {
		for k, wv := range was.entries(dev.TenantID, dev.ID) {
			if v, keep := add[k]; keep && bytes.Equal(v, wv) {
				delete(add, k)
				continue
			}
			if err := w.Delete(bDevIndex, []byte(k)); err != nil {
				return err
			}
		}
	}
	for k, v := range add {
		if err := w.Put(bDevIndex, []byte(k), v); err != nil {
			return err
		}
	}
	var from []byte
	if old != nil {
		from = countKey(dev.TenantID, was, dev.ID)
	}
	return moveCount(w, from, countKey(dev.TenantID, now, dev.ID))
}

// moveCount takes one from the count at from (nil: none) and adds one at to, locking the
// two rows in key order (so two writers moving devices in opposite directions cannot wait
// for each other).
func moveCount(w *wtx, from, to []byte) error {
	if bytes.Equal(from, to) {
		return nil
	}
	steps := []struct {
		k     []byte
		delta int64
	}{{to, 1}}
	if from != nil {
		steps = append(steps, struct {
			k     []byte
			delta int64
		}{from, -1})
	}
	slices.SortFunc(steps, func(a, b struct {
		k     []byte
		delta int64
	}) int {
		return bytes.Compare(a.k, b.k)
	})
	for _, st := range steps {
		raw, err := w.GetForUpdate(bDevCounts, st.k)
		if err != nil {
			return err
		}
		var n int64
		if len(raw) == 8 {
			n = int64(binary.BigEndian.Uint64(raw))
		}
		n += st.delta
		if n <= 0 {
			err = w.Delete(bDevCounts, st.k)
		} else if raw == nil {
			err = lostRace(w.Insert(bDevCounts, st.k, binary.BigEndian.AppendUint64(nil, uint64(n))), "device count")
		} else {
			err = w.Put(bDevCounts, st.k, binary.BigEndian.AppendUint64(nil, uint64(n)))
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// reindexDevices writes the index of every device (the migration to format 3).
func reindexDevices(w *wtx) error {
	var devs []store.Device
	err := w.Scan(bDevices, kv.Span{}, func(_, v []byte) (bool, error) {
		var d store.Device
		if err := unmarshal(v, &d); err != nil {
			return false, err
		}
		devs = append(devs, d)
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, d := range devs {
		if err := indexDevice(w, nil, d); err != nil {
			return err
		}
	}
	return nil
}

// indexWNSChannels writes the 'w' entries and summaries of the devices holding a WNS
// channel (the migration to format 5; the summaries before it had no WNS flag).
func indexWNSChannels(w *wtx) error {
	var devs []store.Device
	err := w.Scan(bDevices, kv.Span{}, func(_, v []byte) (bool, error) {
		var d store.Device
		if err := unmarshal(v, &d); err != nil {
			return false, err
		}
		if summarize(d).WNS {
			devs = append(devs, d)
		}
		return true, nil
	})
	if err != nil {
		return err
	}
	for _, d := range devs {
		sum := summarize(d)
		if err := putJSON(w, bDevSummary, []byte(d.ID), &sum); err != nil {
			return err
		}
		if err := w.Put(bDevIndex, indexKey(d.TenantID, kindWNS, d.ID), nil); err != nil {
			return err
		}
	}
	return nil
}

// seenMinute is the index form of a time (Unix minutes, rounded up: "since t" keeps the
// devices seen in t's minute or later).
func seenMinute(t time.Time) int64 { return t.Unix() / 60 }

var _ = time.Minute
