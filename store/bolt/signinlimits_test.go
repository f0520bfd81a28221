package bolt_test

import (
	"fmt"
	"testing"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/bolt"
)

// Recording a failure deletes up to store.MaxSignInPrune expired windows (and their expiry
// index entries), so storage does not keep a window for every key that ever failed.
func TestSignInWindowsPruned(t *testing.T) {
	db := openTemp(t)
	defer func() { _ = db.Close() }()
	base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	const n = 2*store.MaxSignInPrune + 10
	for i := range n {
		if _, _, err := db.RecordFailedSignIn(t.Context(), fmt.Sprintf("user-%03d@contoso.com", i), base, time.Minute); err != nil {
			t.Fatal(err)
		}
	}
	later := base.Add(time.Hour)
	for call := 1; call <= 3; call++ {
		if _, _, err := db.RecordFailedSignIn(t.Context(), "attacker-target@contoso.com", later, time.Minute); err != nil {
			t.Fatal(err)
		}
		want := max(n-call*store.MaxSignInPrune, 0) + 1
		var windows, expiry int
		db, windows, expiry = countSignInRows(t, db)
		if windows != want || expiry != want {
			t.Fatalf("after call %d: %d windows and %d expiry entries, want %d of each", call, windows, expiry, want)
		}
	}
}

// countSignInRows closes db, counts the entries of the two sign-in buckets in its file and
// returns the file reopened.
func countSignInRows(t *testing.T, db *bolt.DB) (reopened *bolt.DB, windows, expiry int) {
	t.Helper()
	path := db.Path()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	raw, err := bbolt.Open(path, 0o600, &bbolt.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	err = raw.View(func(tx *bbolt.Tx) error {
		windows = tx.Bucket([]byte("signInFailures")).Stats().KeyN
		expiry = tx.Bucket([]byte("signInExpiry")).Stats().KeyN
		return nil
	})
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	reopened, err = bolt.Open(path, bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return reopened, windows, expiry
}
