package core

// SetSealHook sets the function every sealing batch calls after its writes, before its
// commit, for the duration of a test.
func SetSealHook(f func(s *Store)) (restore func()) {
	old := sealHook.Swap(&f)
	return func() { sealHook.Store(old) }
}

// HoldsSequencerLease reports whether s holds the audit sequencer lease.
func (s *Store) HoldsSequencerLease() bool { return s.seq != nil && s.seq.holds() }
