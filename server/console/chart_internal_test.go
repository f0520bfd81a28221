package console

import "testing"

// The legend's shares round to the nearest percent, and a sliver is never shown as nothing
// (or as everything).
func TestChartShare(t *testing.T) {
	for _, tc := range []struct {
		count, total int
		want         string
	}{
		{20, 59, "34"}, {19, 59, "32"}, {1, 3, "33"}, {2, 3, "67"}, {1, 2, "50"}, {1, 8, "13"},
		{0, 10, "0"}, {10, 10, "100"}, {1, 1000, "<1"}, {4, 1000, "<1"}, {5, 1000, "1"},
		{999, 1000, ">99"}, {995, 1000, ">99"}, {994, 1000, "99"}, {1, 100000, "<1"},
	} {
		if got := share(tc.count, tc.total); got != tc.want {
			t.Errorf("share(%d, %d) = %q, want %q", tc.count, tc.total, got, tc.want)
		}
	}
	c := canResetChart(map[string]int{"DestructiveAndNonDestructive": 20, "DestructiveOnly": 19, "": 20})
	if c.Total != 59 || c.Bars[0].Percent != "34" || c.Bars[1].Percent != "32" || c.Bars[2].Percent != "34" {
		t.Errorf("canResetChart: %+v", c)
	}
}
