package console

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
	Percent int
	Y       int // top of the row in the SVG
	Width   int // bar width in SVG units out of chartWidth
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
			r.Percent = r.Count * 100 / c.Total
			r.Width = r.Count * chartWidth / c.Total
		}
		c.Bars = append(c.Bars, r)
	}
	return c
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
