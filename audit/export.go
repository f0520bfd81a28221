package audit

import (
	"encoding/json"
	"fmt"
	"io"
)

// Exporter streams events in one format. Write encodes one event into a
// bounded buffer that is flushed to the underlying writer in chunks; Close
// writes what the format needs at the end (the CSV header of an empty
// export, the JSON array's closing bracket) and flushes, without closing
// the underlying writer. Not safe for concurrent use.
type Exporter interface {
	Write(e *Event) error
	Close() error
}

// EventColumns returns the columns of an event export, in order. CSV
// headers and JSON/NDJSON object keys use these names.
func EventColumns() []string {
	return []string{
		"id", "seq", "time", "tenant", "kind",
		"actor_type", "actor_id", "actor_token", "actor_role", "actor_addr",
		"subject_type", "subject_id", "device", "profile", "action",
		"details", "prev_hash", "hash",
	}
}

// eventExporter writes events as rows of EventColumns: seq is a number and
// details a JSON object (null when empty) in JSON formats; time is RFC 3339
// with nanoseconds in UTC; every other cell is a string.
type eventExporter struct{ rw *rowWriter }

// NewExporter returns an Exporter writing events to w in format f.
func NewExporter(w io.Writer, f Format) (Exporter, error) {
	rw, err := newRowWriter(w, f, EventColumns())
	if err != nil {
		return nil, err
	}
	return &eventExporter{rw: rw}, nil
}

func (x *eventExporter) Write(e *Event) error {
	if x.rw.format != FormatCSV && len(e.Details) > 0 && !json.Valid(e.Details) {
		return fmt.Errorf("exporting event seq %d: %w", e.Seq, &EventError{"details", ErrBadDetails})
	}
	if err := x.rw.beginRow(); err != nil {
		return err
	}
	rw := x.rw
	rw.text(e.ID)
	rw.number(e.Seq)
	rw.time(e.Time)
	rw.text(e.TenantID)
	rw.text(string(e.Kind))
	rw.text(e.Actor.Type)
	rw.text(e.Actor.ID)
	rw.text(e.Actor.TokenID)
	rw.text(e.Actor.Role)
	rw.text(e.Actor.SourceAddr)
	rw.text(e.Subject.Type)
	rw.text(e.Subject.ID)
	rw.text(e.DeviceID)
	rw.text(e.ProfileID)
	rw.text(e.Action)
	rw.raw(e.Details)
	rw.text(e.PrevHash)
	rw.text(e.Hash)
	return rw.endRow()
}

func (x *eventExporter) Close() error { return x.rw.close() }

// ComplianceColumns returns the columns of the policy compliance report:
// one row per profile × device × setting.
func ComplianceColumns() []string {
	return []string{
		"profile_id", "profile_name", "device_id", "loc_uri",
		"state", "error_code", "value", "last_changed",
	}
}

// TableExporter streams rows of string cells under fixed columns, with the
// same encoding as event exports: a CSV header row and neutralised cells, a
// streamed JSON array of objects, or NDJSON objects keyed by column name.
type TableExporter struct{ rw *rowWriter }

// NewTableExporter returns a TableExporter writing to w in format f.
// columns must be non-empty and unique.
func NewTableExporter(w io.Writer, f Format, columns []string) (*TableExporter, error) {
	rw, err := newRowWriter(w, f, append([]string(nil), columns...))
	if err != nil {
		return nil, err
	}
	return &TableExporter{rw: rw}, nil
}

// WriteRow writes one row; it must have one cell per column.
func (t *TableExporter) WriteRow(cells []string) error {
	if len(cells) != len(t.rw.cols) {
		return fmt.Errorf("audit table export: row has %d cells, want %d", len(cells), len(t.rw.cols))
	}
	if err := t.rw.beginRow(); err != nil {
		return err
	}
	for _, c := range cells {
		t.rw.text(c)
	}
	return t.rw.endRow()
}

// Close finishes the table and flushes; it does not close the writer.
func (t *TableExporter) Close() error { return t.rw.close() }
