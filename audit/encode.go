package audit

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Format is an export format.
type Format string

// Export formats.
const (
	FormatCSV    Format = "csv"    // RFC 4180, header row, CRLF line ends, formula cells neutralised
	FormatJSON   Format = "json"   // one JSON array of objects, streamed element by element
	FormatNDJSON Format = "ndjson" // one JSON object per line (https://github.com/ndjson/ndjson-spec)
)

// ErrUnknownFormat is wrapped by ParseFormat and the exporter constructors.
var ErrUnknownFormat = errors.New("unknown export format")

// ParseFormat accepts "csv", "json" or "ndjson" (any case, surrounding
// spaces ignored); "jsonl" is accepted as NDJSON.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case FormatCSV, FormatJSON, FormatNDJSON:
		return f, nil
	case "jsonl":
		return FormatNDJSON, nil
	}
	return "", fmt.Errorf("%w: %q (want csv, json or ndjson)", ErrUnknownFormat, s)
}

// ContentType is the HTTP media type for f.
func (f Format) ContentType() string {
	switch f {
	case FormatCSV:
		return "text/csv; charset=utf-8; header=present"
	case FormatJSON:
		return "application/json"
	case FormatNDJSON:
		return "application/x-ndjson"
	}
	return "application/octet-stream"
}

// Extension is the file name extension for f, without the dot.
func (f Format) Extension() string { return string(f) }

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("exporter closed")

// flushAt is the buffered size at which a row writer flushes: memory per
// exporter stays about this plus one row.
const flushAt = 32 << 10

// rowWriter is the streaming encoder shared by the event and table
// exporters: rows of named cells, written cell by cell into one reused
// buffer and flushed in chunks. It holds no per-row allocations.
type rowWriter struct {
	w      io.Writer
	format Format
	cols   []string
	keys   [][]byte // JSON: `"col":` per column
	buf    []byte
	cell   int
	rows   uint64
	opened bool
	closed bool
	err    error
}

func newRowWriter(w io.Writer, format Format, cols []string) (*rowWriter, error) {
	switch format {
	case FormatCSV, FormatJSON, FormatNDJSON:
	default:
		return nil, fmt.Errorf("%w: %q", ErrUnknownFormat, format)
	}
	if w == nil {
		return nil, errors.New("audit exporter: nil writer")
	}
	if len(cols) == 0 {
		return nil, errors.New("audit exporter: no columns")
	}
	seen := make(map[string]bool, len(cols))
	r := &rowWriter{w: w, format: format, cols: cols, buf: make([]byte, 0, flushAt+4096)}
	for _, c := range cols {
		if c == "" || seen[c] {
			return nil, fmt.Errorf("audit exporter: empty or duplicate column %q", c)
		}
		seen[c] = true
		k := appendJSONString(nil, c)
		r.keys = append(r.keys, append(k, ':'))
	}
	return r, nil
}

// open writes the CSV header or the JSON array start, once.
func (r *rowWriter) open() {
	if r.opened {
		return
	}
	r.opened = true
	switch r.format {
	case FormatCSV:
		for i, c := range r.cols {
			if i > 0 {
				r.buf = append(r.buf, ',')
			}
			r.buf = appendCSVCell(r.buf, c)
		}
		r.buf = append(r.buf, '\r', '\n')
	case FormatJSON:
		r.buf = append(r.buf, '[')
	}
}

func (r *rowWriter) beginRow() error {
	if r.closed {
		return ErrClosed
	}
	if r.err != nil {
		return r.err
	}
	r.open()
	if r.format == FormatJSON {
		if r.rows > 0 {
			r.buf = append(r.buf, ',')
		}
		r.buf = append(r.buf, '\n')
	}
	r.cell = 0
	return nil
}

// sep writes what goes before the next cell.
func (r *rowWriter) sep() {
	if r.format == FormatCSV {
		if r.cell > 0 {
			r.buf = append(r.buf, ',')
		}
	} else {
		if r.cell == 0 {
			r.buf = append(r.buf, '{')
		} else {
			r.buf = append(r.buf, ',')
		}
		r.buf = append(r.buf, r.keys[r.cell]...)
	}
	r.cell++
}

func (r *rowWriter) text(s string) {
	r.sep()
	if r.format == FormatCSV {
		r.buf = appendCSVCell(r.buf, s)
	} else {
		r.buf = appendJSONString(r.buf, s)
	}
}

func (r *rowWriter) number(u uint64) {
	r.sep()
	r.buf = strconv.AppendUint(r.buf, u, 10)
}

// time writes t as RFC 3339 with nanoseconds in UTC. Years are 0000-9999
// here (Seal limits them further), so the CSV cell never needs quoting or
// neutralising.
func (r *rowWriter) time(t time.Time) {
	r.sep()
	if r.format == FormatCSV {
		r.buf = t.UTC().AppendFormat(r.buf, time.RFC3339Nano)
	} else {
		r.buf = append(r.buf, '"')
		r.buf = t.UTC().AppendFormat(r.buf, time.RFC3339Nano)
		r.buf = append(r.buf, '"')
	}
}

// raw writes a JSON value: verbatim (null when empty) in JSON formats, as a
// text cell in CSV. The caller has checked it is valid JSON.
func (r *rowWriter) raw(b []byte) {
	r.sep()
	switch {
	case r.format == FormatCSV:
		r.buf = appendCSVCell(r.buf, b)
	case len(b) == 0:
		r.buf = append(r.buf, "null"...)
	default:
		r.buf = append(r.buf, b...)
	}
}

func (r *rowWriter) endRow() error {
	switch r.format {
	case FormatCSV:
		r.buf = append(r.buf, '\r', '\n')
	case FormatJSON:
		r.buf = append(r.buf, '}')
	case FormatNDJSON:
		r.buf = append(r.buf, '}', '\n')
	}
	r.rows++
	if len(r.buf) >= flushAt {
		return r.flush()
	}
	return nil
}

func (r *rowWriter) flush() error {
	if r.err != nil {
		return r.err
	}
	if len(r.buf) > 0 {
		if _, err := r.w.Write(r.buf); err != nil {
			r.err = fmt.Errorf("writing export: %w", err)
			return r.err
		}
		r.buf = r.buf[:0]
	}
	return nil
}

// close writes the header if no row was written, ends a JSON array, and
// flushes. It does not close the underlying writer.
func (r *rowWriter) close() error {
	if r.closed {
		return r.err
	}
	r.closed = true
	if r.err != nil {
		return r.err
	}
	r.open()
	if r.format == FormatJSON {
		if r.rows > 0 {
			r.buf = append(r.buf, '\n')
		}
		r.buf = append(r.buf, ']', '\n')
	}
	return r.flush()
}

// appendCSVCell neutralises v (see NeutraliseCell) and appends it as one
// RFC 4180 field, quoted when it holds a comma, quote, CR or LF or begins
// with a space (as encoding/csv does). Bytes are kept as they are: a quoted
// LF stays LF.
func appendCSVCell[T ~string | ~[]byte](dst []byte, v T) []byte {
	neutral := needsNeutralising(v)
	quote := len(v) > 0 && v[0] == ' '
	if !quote {
		for i := 0; i < len(v); i++ {
			if c := v[i]; c == ',' || c == '"' || c == '\r' || c == '\n' {
				quote = true
				break
			}
		}
	}
	if !quote {
		if neutral {
			dst = append(dst, '\'')
		}
		return append(dst, v...)
	}
	dst = append(dst, '"')
	if neutral {
		dst = append(dst, '\'')
	}
	start := 0
	for i := 0; i < len(v); i++ {
		if v[i] == '"' {
			dst = append(dst, v[start:i+1]...)
			dst = append(dst, '"')
			start = i + 1
		}
	}
	dst = append(dst, v[start:]...)
	return append(dst, '"')
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s as a JSON string (RFC 8259 section 7):
// quote, backslash and control characters escaped, invalid UTF-8 replaced
// by U+FFFD, and U+2028/U+2029 escaped, as encoding/json does (without its
// HTML escaping).
func appendJSONString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
