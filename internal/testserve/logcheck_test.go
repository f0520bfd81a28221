package testserve

import (
	"log/slog"
	"testing"
)

func TestDupCheck(t *testing.T) {
	dc := NewDupCheck()
	l := slog.New(dc)
	l.With("component", "a").Info("fine", "device", "d1")
	l.With("component", "a").WithGroup("g").Info("grouped keys differ", "component", "x")
	if r := dc.Repeats(); len(r) != 0 {
		t.Fatalf("false positives: %v", r)
	}
	l.With("component", "pinreset").With("component", "pinreset").Info("x")
	l.With("device", "d1").Info("y", "device", "d1")
	l.Info("z", "err", 1, "err", 2)
	if r := dc.Repeats(); len(r) != 3 {
		t.Fatalf("repeats = %v, want 3", r)
	}
}
