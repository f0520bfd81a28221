package core

import (
	"bytes"
	"errors"
	"testing"
)

func TestBatchRecords(t *testing.T) {
	one := []byte(`{"id":"a"}` + "\n")
	two := []byte(`{"id":"b","details":{"x":1}}` + "\n")
	cases := []struct {
		name    string
		records [][]byte
	}{
		{"one event stays its JSON record", [][]byte{one}},
		{"two events", [][]byte{one, two}},
		{"many events", bytes.SplitAfter(bytes.Repeat(two, 300), []byte("\n"))[:300]},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := encodeBatch(tc.records)
			if len(tc.records) == 1 && !bytes.Equal(v, tc.records[0]) {
				t.Fatalf("one record stored as %q, want the record itself", v)
			}
			got, err := splitRecords(v, nil)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.records) {
				t.Fatalf("%d records back, want %d", len(got), len(tc.records))
			}
			for i := range got {
				if !bytes.Equal(got[i], tc.records[i]) {
					t.Fatalf("record %d: %q, want %q", i, got[i], tc.records[i])
				}
			}
		})
	}
}

func TestBatchRecordsMalformed(t *testing.T) {
	for name, v := range map[string][]byte{
		"tag only":          {batchTag},
		"zero length":       {batchTag, 0},
		"length past end":   {batchTag, 5, '{', '}'},
		"truncated varint":  {batchTag, 0x80},
		"second record cut": append(encodeBatch([][]byte{[]byte("{}"), []byte("{}")}), 3, '{'),
	} {
		t.Run(name, func(t *testing.T) {
			if got, err := splitRecords(v, nil); !errors.Is(err, errBatch) || len(got) != 0 {
				t.Fatalf("splitRecords(%x) = %q, %v; want errBatch and nothing", v, got, err)
			}
		})
	}
}

// FuzzSplitRecords: any stored value either splits into records, which encode into a value
// that splits into the same records, or is refused with errBatch; it never panics.
func FuzzSplitRecords(f *testing.F) {
	f.Add([]byte(`{"id":"a"}`))
	f.Add(encodeBatch([][]byte{[]byte(`{"id":"a"}`), []byte(`{"id":"b"}`)}))
	f.Add([]byte{batchTag, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, v []byte) {
		got, err := splitRecords(v, nil)
		if err != nil {
			if !errors.Is(err, errBatch) {
				t.Fatalf("error %v is not errBatch", err)
			}
			return
		}
		again, err := splitRecords(encodeBatch(got), nil)
		if err != nil || len(again) != len(got) {
			t.Fatalf("records of %x encode to a value of %d records, %v", v, len(again), err)
		}
		for i := range got {
			if !bytes.Equal(again[i], got[i]) {
				t.Fatalf("record %d of %x: %q after encoding, want %q", i, v, again[i], got[i])
			}
		}
	})
}
