package postgres_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/store"
)

// Two stores on one database (two replicas) count every failure of a key between them: the
// upsert is atomic across connections and processes.
func TestSignInLimitsAcrossReplicas(t *testing.T) {
	dsn := testDSN(t)
	a, b := openTest(t, dsn), openTest(t, dsn)
	defer a.Close()
	defer b.Close()
	base := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	const each = 25
	var wg sync.WaitGroup
	for _, s := range []store.SignInLimits{a, b, a, b} {
		wg.Go(func() {
			for i := range each {
				if _, _, err := s.RecordFailedSignIn(t.Context(), "alice@contoso.com", base.Add(time.Duration(i)*time.Millisecond), time.Minute); err != nil {
					t.Errorf("RecordFailedSignIn: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	for name, s := range map[string]store.SignInLimits{"a": a, "b": b} {
		n, end, err := s.FailedSignIns(t.Context(), "alice@contoso.com", base.Add(time.Second))
		if err != nil || n != 4*each || !end.Equal(base.Add(time.Minute)) {
			t.Errorf("replica %s: FailedSignIns = %d, %s, %v; want %d, %s", name, n, end, err, 4*each, base.Add(time.Minute))
		}
	}
}

// Recording a failure deletes up to store.MaxSignInPrune expired rows, oldest first.
func TestSignInWindowsPruned(t *testing.T) {
	dsn := testDSN(t)
	db := openTest(t, dsn)
	defer db.Close()
	admin := adminConn(t, dsn)
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
		var rows int
		if err := admin.QueryRow(t.Context(), `SELECT count(*) FROM signin_failures`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if want := max(n-call*store.MaxSignInPrune, 0) + 1; rows != want {
			t.Fatalf("after call %d: %d rows, want %d", call, rows, want)
		}
	}
}
