package testserve

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
)

// DupCheck is a slog.Handler that records every log line repeating an attribute key (say
// component=pinreset twice, from a logger tagged by its caller and again by the package).
// Start installs one when the options carry no Logger and fails the test on a repeat.
type DupCheck struct {
	shared *dupShared
	keys   []string // attributes added through WithAttrs, qualified by group
	group  string
}

type dupShared struct {
	mu    sync.Mutex
	lines []string
}

// NewDupCheck returns an empty DupCheck.
func NewDupCheck() *DupCheck { return &DupCheck{shared: &dupShared{}} }

// Enabled is true at every level: debug lines are checked too.
func (h *DupCheck) Enabled(context.Context, slog.Level) bool { return true }

// Handle records the line when one of its keys repeats.
func (h *DupCheck) Handle(_ context.Context, r slog.Record) error {
	keys := slices.Clone(h.keys)
	var dups []string
	r.Attrs(func(a slog.Attr) bool {
		k := h.group + a.Key
		if slices.Contains(keys, k) {
			dups = append(dups, k)
		}
		keys = append(keys, k)
		return true
	})
	if len(dups) > 0 {
		h.shared.mu.Lock()
		h.shared.lines = append(h.shared.lines, fmt.Sprintf("%q repeats %v (attributes %v)", r.Message, dups, keys))
		h.shared.mu.Unlock()
	}
	return nil
}

// WithAttrs adds attributes every line of the new handler carries.
func (h *DupCheck) WithAttrs(attrs []slog.Attr) slog.Handler {
	n := &DupCheck{shared: h.shared, keys: slices.Clone(h.keys), group: h.group}
	for _, a := range attrs {
		k := h.group + a.Key
		if slices.Contains(n.keys, k) {
			n.shared.mu.Lock()
			n.shared.lines = append(n.shared.lines, fmt.Sprintf("logger.With repeats %q (attributes %v)", k, n.keys))
			n.shared.mu.Unlock()
		}
		n.keys = append(n.keys, k)
	}
	return n
}

// WithGroup qualifies later keys by the group.
func (h *DupCheck) WithGroup(name string) slog.Handler {
	return &DupCheck{shared: h.shared, keys: h.keys, group: h.group + name + "."}
}

// Repeats returns the recorded lines with repeated attributes.
func (h *DupCheck) Repeats() []string {
	h.shared.mu.Lock()
	defer h.shared.mu.Unlock()
	return slices.Clone(h.shared.lines)
}

// Check fails t for every recorded repeat.
func (h *DupCheck) Check(t testing.TB) {
	t.Helper()
	for _, l := range h.Repeats() {
		t.Errorf("log line with a repeated attribute: %s", l)
	}
}
