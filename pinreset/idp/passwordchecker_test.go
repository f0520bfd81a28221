package idp

import (
	"context"
	"crypto/rand"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// At most n checks run at once, and a waiting check gives up with its context.
func TestPasswordCheckerBound(t *testing.T) {
	opts := PasswordOptions{MemoryKiB: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	hash, err := HashPasswordWith("correct horse", rand.Reader, opts)
	if err != nil {
		t.Fatal(err)
	}
	pc := NewPasswordChecker(2)
	var running, peak atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pc.sem <- struct{}{} // hold a slot like Check does, to observe the bound
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			time.Sleep(5 * time.Millisecond)
			running.Add(-1)
			<-pc.sem
		}()
	}
	wg.Wait()
	if p := peak.Load(); p != 2 {
		t.Fatalf("peak concurrency %d, want 2", p)
	}
	if err := pc.Check(context.Background(), hash, "correct horse"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	if err := pc.Check(context.Background(), hash, "wrong"); !errors.Is(err, ErrPasswordMismatch) {
		t.Fatalf("wrong password: %v", err)
	}
	pc.sem <- struct{}{}
	pc.sem <- struct{}{} // both slots taken
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if err := pc.Check(ctx, hash, "correct horse"); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("waiting check: %v, want the context's error", err)
	}
}
