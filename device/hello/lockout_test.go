package hello

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

// attempt is one Unlock in a lockout scenario and what must hold after it.
type attempt struct {
	pin        string
	want       error // nil: Unlock succeeds
	notWrong   bool  // the error must not wrap ErrWrongPIN (the PIN was not checked)
	wantMsg    string
	wantCount  int
	wantLocked bool
}

// wrongs returns n wrong attempts starting from count from, under limit max.
func wrongs(n, from, max int) []attempt {
	var out []attempt
	for i := 1; i <= n; i++ {
		a := attempt{pin: "0000", want: ErrWrongPIN, wantCount: from + i, wantLocked: from+i >= max}
		if a.wantLocked {
			a.wantMsg = "reset the PIN"
		}
		out = append(out, a)
	}
	return out
}

func concat(parts ...[]attempt) []attempt {
	var out []attempt
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

func TestPINLockout(t *testing.T) {
	const n = DefaultMaxPINAttempts
	right := attempt{pin: "2580", wantCount: 0}
	locked := func(pin string, count int) attempt {
		return attempt{pin: pin, want: ErrPINLocked, notWrong: true, wantMsg: "reset the PIN", wantCount: count, wantLocked: true}
	}
	tests := []struct {
		name  string
		max   int // 0: default
		steps []attempt
	}{
		{"N-1 wrong then right resets the counter", 0,
			concat(wrongs(n-1, 0, n), []attempt{right}, wrongs(n-1, 0, n), []attempt{right})},
		{"N wrong locks", 0,
			concat(wrongs(n, 0, n), []attempt{locked("0000", n), locked("1111", n)})},
		{"locked container refuses the right PIN", 0,
			concat(wrongs(n, 0, n), []attempt{locked("2580", n), locked("2580", n)})},
		{"attempts left in the message", 0, []attempt{
			{pin: "0000", want: ErrWrongPIN, wantMsg: "(4 attempts left)", wantCount: 1},
			{pin: "0000", want: ErrWrongPIN, wantMsg: "(3 attempts left)", wantCount: 2},
			{pin: "0000", want: ErrWrongPIN, wantMsg: "(2 attempts left)", wantCount: 3},
			{pin: "0000", want: ErrWrongPIN, wantMsg: "(1 attempt left)", wantCount: 4},
			{pin: "0000", want: ErrPINLocked, wantMsg: "wrong PIN; hello: PIN locked", wantCount: 5, wantLocked: true},
		}},
		{"limit of one", 1, []attempt{right, wrongs(1, 0, 1)[0], locked("2580", 1)}},
		{"limit of three", 3,
			concat(wrongs(2, 0, 3), []attempt{right}, wrongs(3, 0, 3), []attempt{locked("2580", 3)})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := testOpts()
			if tt.max != 0 {
				opts = append(opts, WithMaxPINAttempts(tt.max))
			}
			c, err := Provision(dir, "alice", "2580", PINPolicy{}, rand.Reader, opts...)
			if err != nil {
				t.Fatal(err)
			}
			for i, a := range tt.steps {
				u, err := c.Unlock(a.pin)
				if u != nil {
					u.Close()
				}
				switch {
				case a.want == nil && err != nil:
					t.Fatalf("step %d: Unlock(%q) = %v, want success", i, a.pin, err)
				case a.want != nil && !errors.Is(err, a.want):
					t.Fatalf("step %d: Unlock(%q) = %v, want %v", i, a.pin, err, a.want)
				case a.notWrong && errors.Is(err, ErrWrongPIN):
					t.Fatalf("step %d: Unlock(%q) = %v: a locked container checked the PIN", i, a.pin, err)
				case a.wantMsg != "" && !strings.Contains(err.Error(), a.wantMsg):
					t.Fatalf("step %d: Unlock(%q) = %q, want it to contain %q", i, a.pin, err, a.wantMsg)
				}
				if got := c.FailedPINAttempts(); got != a.wantCount {
					t.Fatalf("step %d: FailedPINAttempts = %d, want %d", i, got, a.wantCount)
				}
				if got := c.PINLocked(); got != a.wantLocked {
					t.Fatalf("step %d: PINLocked = %v, want %v", i, got, a.wantLocked)
				}
				// The count is on disk by the time Unlock returns.
				st, err := Status(dir, "alice", opts...)
				if err != nil {
					t.Fatal(err)
				}
				if st.FailedPINAttempts != a.wantCount || st.PINLocked != a.wantLocked {
					t.Fatalf("step %d: Status = %+v, want %d attempts, locked %v", i, st, a.wantCount, a.wantLocked)
				}
			}
		})
	}
}

// lockOut makes DefaultMaxPINAttempts wrong attempts on c and checks it is locked.
func lockOut(t *testing.T, c *Container) {
	t.Helper()
	for range DefaultMaxPINAttempts {
		if _, err := c.Unlock("0000"); !errors.Is(err, ErrWrongPIN) {
			t.Fatalf("wrong PIN: %v", err)
		}
	}
	if _, err := c.Unlock("2580"); !errors.Is(err, ErrPINLocked) {
		t.Fatalf("right PIN after %d wrong ones: %v, want ErrPINLocked", DefaultMaxPINAttempts, err)
	}
}

func TestPINLockoutClearedByNewPIN(t *testing.T) {
	tests := []struct {
		name string
		// fix sets newPIN on the locked container; earlier was unlocked before the lock.
		fix func(t *testing.T, dir string, c *Container, earlier *Unlocked, newPIN string)
	}{
		{"non-destructive reset", func(t *testing.T, _ string, c *Container, _ *Unlocked, newPIN string) {
			if err := ResetWithProtector(c, escrowedProtector(t, c), newPIN, PINPolicy{}, &mustServiceKey(t).PublicKey, rand.Reader); err != nil {
				t.Fatalf("ResetWithProtector: %v", err)
			}
		}},
		{"destructive reset", func(t *testing.T, dir string, _ *Container, _ *Unlocked, newPIN string) {
			if _, err := ResetDestructive(dir, "alice", newPIN, PINPolicy{}, rand.Reader, testOpts()...); err != nil {
				t.Fatalf("ResetDestructive: %v", err)
			}
		}},
		{"ChangePIN through a handle unlocked before the lock", func(t *testing.T, _ string, _ *Container, earlier *Unlocked, newPIN string) {
			if err := earlier.ChangePIN(newPIN, PINPolicy{}, rand.Reader); err != nil {
				t.Fatalf("ChangePIN: %v", err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, c := protected(t)
			earlier := mustUnlock(t, c, "2580")
			lockOut(t, c)
			if st, err := Status(dir, "alice"); err != nil || !st.PINLocked {
				t.Fatalf("Status of a locked container = %+v, %v", st, err)
			}

			tt.fix(t, dir, c, earlier, "7777")

			reopened, err := Open(dir, "alice", testOpts()...)
			if err != nil {
				t.Fatal(err)
			}
			if reopened.FailedPINAttempts() != 0 || reopened.PINLocked() {
				t.Fatalf("after the new PIN: %d failed attempts, locked %v", reopened.FailedPINAttempts(), reopened.PINLocked())
			}
			mustUnlock(t, reopened, "7777")
			// The full budget is back: N-1 wrong PINs don't lock.
			for range DefaultMaxPINAttempts - 1 {
				if _, err := reopened.Unlock("0000"); !errors.Is(err, ErrWrongPIN) || errors.Is(err, ErrPINLocked) {
					t.Fatalf("wrong PIN after the new PIN: %v", err)
				}
			}
			mustUnlock(t, reopened, "7777")
		})
	}
}

func TestFailedAttemptsSurviveReopen(t *testing.T) {
	dir := t.TempDir()
	c := mustProvision(t, dir, "alice", "2580")
	for range 3 {
		if _, err := c.Unlock("0000"); !errors.Is(err, ErrWrongPIN) {
			t.Fatal(err)
		}
	}
	// A new process: the count continues from the file.
	c2, err := Open(dir, "alice", testOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	if got := c2.FailedPINAttempts(); got != 3 {
		t.Fatalf("reopened FailedPINAttempts = %d, want 3", got)
	}
	for range DefaultMaxPINAttempts - 3 {
		if _, err := c2.Unlock("0000"); !errors.Is(err, ErrWrongPIN) {
			t.Fatal(err)
		}
	}
	c3, err := Open(dir, "alice", testOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	if !c3.PINLocked() {
		t.Fatal("reopened container is not locked")
	}
	if _, err := c3.Unlock("2580"); !errors.Is(err, ErrPINLocked) {
		t.Fatalf("right PIN on a reopened locked container: %v", err)
	}
	// A stale Container, which cached 3, can't lower the count on disk either.
	if _, err := c.Unlock("2580"); !errors.Is(err, ErrPINLocked) {
		t.Fatalf("right PIN through a stale Container: %v", err)
	}
}

// An attempt is on disk before the PIN is checked: a process killed during the Argon2id
// evaluation has used the attempt.
func TestAttemptCountedBeforePINCheck(t *testing.T) {
	dir := t.TempDir()
	c := mustProvision(t, dir, "alice", "2580")
	c.mu.Lock()
	_, err := c.beginAttemptLocked() // what Unlock does before deriving the PIN key
	c.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	// The process dies here; the next one reads the file.
	st, err := Status(dir, "alice")
	if err != nil || st.FailedPINAttempts != 1 {
		t.Fatalf("Status after an interrupted attempt = %+v, %v; want 1 failed attempt", st, err)
	}
	// A correct PIN takes the attempt back.
	mustUnlock(t, c, "2580")
	if st, err := Status(dir, "alice"); err != nil || st.FailedPINAttempts != 0 {
		t.Fatalf("Status after a correct PIN = %+v, %v", st, err)
	}
}

func TestConcurrentAttemptsRespectLimit(t *testing.T) {
	const max, tries = 3, 12
	dir := t.TempDir()
	c, err := Provision(dir, "alice", "2580", PINPolicy{}, rand.Reader, append(testOpts(), WithMaxPINAttempts(max))...)
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg            sync.WaitGroup
		mu            sync.Mutex
		wrong, locked int
	)
	for range tries {
		wg.Go(func() {
			_, err := c.Unlock("0000")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrWrongPIN):
				wrong++
			case errors.Is(err, ErrPINLocked):
				locked++
			default:
				t.Errorf("Unlock = %v", err)
			}
		})
	}
	wg.Wait()
	if wrong != max || locked != tries-max {
		t.Fatalf("%d PINs checked and %d refused unchecked, want %d and %d", wrong, locked, max, tries-max)
	}
	if got := c.FailedPINAttempts(); got != max {
		t.Fatalf("FailedPINAttempts = %d, want %d", got, max)
	}
}

// testdata/container_without_attempts.json was written before the counter existed (PIN
// 2580).
func TestContainerWithoutAttemptsField(t *testing.T) {
	c, dir := openLegacyContainer(t, "failedPinAttempts")
	if c.FailedPINAttempts() != 0 || c.PINLocked() {
		t.Fatalf("missing counter read as %d, locked %v; want 0", c.FailedPINAttempts(), c.PINLocked())
	}
	if _, err := c.Unlock("0000"); !errors.Is(err, ErrWrongPIN) {
		t.Fatal(err)
	}
	mustUnlock(t, c, legacyPIN)
	// At zero the counter is left out, so older agents still read the file.
	if data := mustReadFile(t, dir, legacyUser); bytes.Contains(data, []byte("failedPinAttempts")) {
		t.Fatalf("file at zero failed attempts names the counter:\n%s", data)
	}
}

func TestMaxPINAttemptsOption(t *testing.T) {
	dir := t.TempDir()
	mustProvision(t, dir, "alice", "2580")
	tests := []struct {
		name string
		run  func(opts ...Option) error
	}{
		{"Provision", func(opts ...Option) error {
			_, err := Provision(dir, "bob", "2580", PINPolicy{}, rand.Reader, opts...)
			return err
		}},
		{"Open", func(opts ...Option) error { _, err := Open(dir, "alice", opts...); return err }},
		{"Status", func(opts ...Option) error { _, err := Status(dir, "alice", opts...); return err }},
		{"ResetDestructive", func(opts ...Option) error {
			_, err := ResetDestructive(dir, "alice", "1470", PINPolicy{}, rand.Reader, opts...)
			return err
		}},
	}
	for _, tt := range tests {
		for _, n := range []int{0, -1} {
			t.Run(fmt.Sprintf("%s/%d", tt.name, n), func(t *testing.T) {
				before := mustReadFile(t, dir, "alice")
				err := tt.run(append(testOpts(), WithMaxPINAttempts(n))...)
				if err == nil || !strings.Contains(err.Error(), "maximum PIN attempts") {
					t.Fatalf("WithMaxPINAttempts(%d): %v, want a refusal", n, err)
				}
				if !bytes.Equal(before, mustReadFile(t, dir, "alice")) {
					t.Fatal("refused call changed the file")
				}
			})
		}
	}
}
