package audit

// Spreadsheet programs run a CSV cell that begins with =, +, - or @ as a
// formula (and tab or CR can hide such a prefix), which lets anyone who can
// put text into the log — a device name, a user name, an admin comment —
// run formulas on an auditor's machine ("CSV injection", OWASP). CSV
// exports therefore neutralise such cells by prefixing an apostrophe, which
// spreadsheets take as "this is text" and do not display.
//
// To keep the change exactly reversible, a cell that already begins with an
// apostrophe is prefixed too: every neutralised cell starts with ' and no
// other cell does, so UnneutraliseCell strips exactly one ' from cells that
// start with one. The cost is that CSV cells for values like "-1" read
// "'-1": the field differs from the stored value, which JSON and NDJSON
// exports (not spreadsheet input) carry unchanged.

// needsNeutralising reports whether a CSV cell gets a leading apostrophe.
func needsNeutralising[T ~string | ~[]byte](v T) bool {
	if len(v) == 0 {
		return false
	}
	switch v[0] {
	case '=', '+', '-', '@', '\t', '\r', '\'':
		return true
	}
	return false
}

// NeutraliseCell returns s as the CSV exporters write it (before RFC 4180
// quoting): with a leading apostrophe when s begins with =, +, -, @, tab,
// CR or an apostrophe.
func NeutraliseCell(s string) string {
	if needsNeutralising(s) {
		return "'" + s
	}
	return s
}

// UnneutraliseCell reverses NeutraliseCell: for every string s,
// UnneutraliseCell(NeutraliseCell(s)) == s.
func UnneutraliseCell(s string) string {
	if len(s) > 0 && s[0] == '\'' {
		return s[1:]
	}
	return s
}
