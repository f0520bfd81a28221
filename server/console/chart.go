package console

import "strconv"

// chart is a horizontal bar chart drawn with SVG attributes (no script, no style
// attribute: the Content-Security-Policy allows neither inline).
type chart struct {
	Title string
	// Key heads the legend's label column ("CanReset", "State").
	Key string
	// Unit names what is counted ("devices", "device settings").
	Unit  string
	Total int
	Bars  []bar
}

// bar is one row of a chart: its label, count, share and the SVG geometry.
type bar struct {
	Label   string
	Class   string // CSS class of the bar (its colour)
	Count   int
	Percent string // the share, rounded: "33", "<1" or ">99" for a sliver, "0" or "100" only when exact
	Y       int    // top of the row in the SVG
	Width   int    // bar width in SVG units out of chartWidth
}

const (
	chartWidth = 400
	barHeight  = 28
)

// newChart lays out rows (label, class, count) in the given order.
func newChart(title, key, unit string, rows []bar) chart {
	c := chart{Title: title, Key: key, Unit: unit}
	for _, r := range rows {
		c.Total += r.Count
	}
	for i, r := range rows {
		r.Y = i * barHeight
		if c.Total > 0 {
			r.Percent = share(r.Count, c.Total)
			r.Width = r.Count * chartWidth / c.Total
		}
		c.Bars = append(c.Bars, r)
	}
	return c
}

// share is count's part of total in percent, rounded to the nearest whole (half up), as a
// legend shows it: a non-zero count never reads "0" and a count short of the total never
// reads "100", so one device in error among thousands is not shown as none.
func share(count, total int) string {
	switch p := (count*200 + total) / (2 * total); {
	case p == 0 && count > 0:
		return "<1"
	case p == 100 && count < total:
		return ">99"
	default:
		return strconv.Itoa(p)
	}
}

// Height is the SVG's height.
func (c chart) Height() int { return len(c.Bars) * barHeight }

// Width is the bars' full width.
func (c chart) Width() int { return chartWidth }

// canResetChart is PIN recovery coverage: enrolled devices by CanReset.
func canResetChart(counts map[string]int) chart {
	return newChart("PIN recovery coverage (CanReset)", "CanReset", "devices", []bar{
		{Label: "DestructiveAndNonDestructive", Class: "good", Count: counts["DestructiveAndNonDestructive"]},
		{Label: "DestructiveOnly", Class: "warn", Count: counts["DestructiveOnly"]},
		{Label: "Not reported yet", Class: "none", Count: counts[""]},
	})
}
