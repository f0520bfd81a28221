package storetest

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/hellomdm/hellomdm/store"
)

// statusRow is what the profile status index answers for one row, compared with what a
// walk of every setting state gives.
type statusRow struct {
	Device, LocURI, State, Name string
}

// wantProfileStatus computes a profile's rows (by device, then LocURI) and counts from every
// setting state of the tenant, the way reports did before the index.
func wantProfileStatus(t *testing.T, s store.Store, tenantID, profileID, state string) ([]statusRow, map[string]int) {
	t.Helper()
	counts := map[string]int{}
	for _, st := range []string{store.SettingSucceeded, store.SettingPending, store.SettingError, store.SettingConflict, store.SettingNotApplicable, store.SettingRemoved} {
		counts[st] = 0
	}
	var rows []statusRow
	err := s.ListSettingStates(t.Context(), tenantID, func(st store.SettingState) (bool, error) {
		if !slices.Contains(st.Sources, profileID) {
			return true, nil
		}
		counts[st.State]++
		if state == "" || st.State == state {
			rows = append(rows, statusRow{st.DeviceID, st.LocURI, st.State, "PC-" + st.DeviceID})
		}
		return true, nil
	})
	must(t, "ListSettingStates", err)
	return rows, counts
}

// pagedProfileStatus reads every page of a profile's status, limit rows at a time.
func pagedProfileStatus(t *testing.T, s store.Store, tenantID, profileID, state string, limit int) []statusRow {
	t.Helper()
	var rows []statusRow
	q := store.ProfileStatusQuery{TenantID: tenantID, ProfileID: profileID, State: state, Limit: limit}
	for range 1000 {
		page, err := s.QueryProfileStatus(t.Context(), q)
		must(t, "QueryProfileStatus", err)
		if len(page.Rows) > limit || page.Next != "" && len(page.Rows) != limit {
			t.Fatalf("a page of %d rows with next %q at limit %d", len(page.Rows), page.Next, limit)
		}
		for _, r := range page.Rows {
			if r.TenantID != tenantID {
				t.Fatalf("row of tenant %q in tenant %q", r.TenantID, tenantID)
			}
			rows = append(rows, statusRow{r.DeviceID, r.LocURI, r.State, r.DeviceName})
		}
		if page.Next == "" {
			return rows
		}
		q.After = page.Next
	}
	t.Fatal("QueryProfileStatus never ends")
	return nil
}

// testProfileStatus: the profile status index and counts follow every setting state write
// and delete (state changes, sources added, dropped and repeated), page in a stable order
// with skip tokens, filter by state, name each row's device, and keep tenants apart.
func testProfileStatus(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	for i := range 6 {
		_, err := s.RegisterDevice(ctx, device("t1", fmt.Sprintf("d%d", i), fmt.Sprintf("0%d", i+1)))
		must(t, "RegisterDevice", err)
	}
	_, err := s.RegisterDevice(ctx, device("t2", "x0", "99"))
	must(t, "RegisterDevice t2", err)
	must(t, "PutSettingState t2", s.Checkin(ctx, "x0", func(tx store.DeviceTx) error {
		return tx.PutSettingState(store.SettingState{LocURI: "./A", State: store.SettingError, Sources: []string{"p1"}})
	}))
	states := []string{store.SettingSucceeded, store.SettingPending, store.SettingError, store.SettingConflict, store.SettingNotApplicable, store.SettingRemoved}
	sources := [][]string{{"p1"}, {"p2"}, {"p1", "p2"}, {"p1", "p1"}, nil}
	rng := rand.New(rand.NewPCG(17, 5))
	check := func(round int) {
		t.Helper()
		for _, p := range []string{"p1", "p2", "p3"} {
			for _, st := range append([]string{""}, states...) {
				want, counts := wantProfileStatus(t, s, "t1", p, st)
				for _, limit := range []int{1, 3, 100} {
					if got := pagedProfileStatus(t, s, "t1", p, st, limit); fmt.Sprint(got) != fmt.Sprint(want) {
						t.Fatalf("round %d: profile %s state %q by %d: %v, want %v", round, p, st, limit, got, want)
					}
				}
				got, err := s.ProfileStatusCounts(ctx, "t1", p)
				must(t, "ProfileStatusCounts", err)
				if fmt.Sprint(got) != fmt.Sprint(counts) {
					t.Fatalf("round %d: counts of %s = %v, want %v", round, p, got, counts)
				}
			}
		}
	}
	for round := range 6 {
		for range 12 {
			dev, loc := fmt.Sprintf("d%d", rng.IntN(6)), fmt.Sprintf("./Vendor/MSFT/Policy/Config/S%d", rng.IntN(3))
			err := s.Checkin(ctx, dev, func(tx store.DeviceTx) error {
				if rng.IntN(5) == 0 {
					return tx.DeleteSettingState(loc)
				}
				return tx.PutSettingState(store.SettingState{LocURI: loc, State: states[rng.IntN(len(states))], Sources: sources[rng.IntN(len(sources))], LastChanged: t0})
			})
			must(t, "Checkin", err)
		}
		check(round)
	}
	// Another tenant's rows and counts stay its own.
	page, err := s.QueryProfileStatus(ctx, store.ProfileStatusQuery{TenantID: "t2", ProfileID: "p1", Devices: true})
	must(t, "QueryProfileStatus t2", err)
	if len(page.Rows) != 1 || page.Rows[0].DeviceID != "x0" || page.Rows[0].DeviceName != "PC-x0" || page.Devices["x0"].CertSerial != "99" {
		t.Fatalf("tenant t2's status: %+v", page)
	}
	c, err := s.ProfileStatusCounts(ctx, "t2", "p1")
	must(t, "ProfileStatusCounts t2", err)
	if c[store.SettingError] != 1 || c[store.SettingSucceeded] != 0 {
		t.Fatalf("tenant t2's counts: %v", c)
	}
	testProfileStatusCursor(t, s)
}

// testProfileStatusCursor: a skip token continues only the listing it came from.
func testProfileStatusCursor(t *testing.T, s store.Store) {
	ctx := t.Context()
	for i := range 3 {
		must(t, "PutSettingState", s.Checkin(ctx, "d0", func(tx store.DeviceTx) error {
			return tx.PutSettingState(store.SettingState{LocURI: fmt.Sprintf("./Z%d", i), State: store.SettingSucceeded, Sources: []string{"pz"}})
		}))
	}
	page, err := s.QueryProfileStatus(ctx, store.ProfileStatusQuery{TenantID: "t1", ProfileID: "pz", Limit: 1, Devices: true})
	must(t, "QueryProfileStatus pz", err)
	if len(page.Rows) != 1 || page.Next == "" || page.Rows[0].LocURI != "./Z0" || page.Devices["d0"].ID != "d0" {
		t.Fatalf("first page: %+v", page)
	}
	for _, q := range []store.ProfileStatusQuery{
		{TenantID: "t1", ProfileID: "pz", State: store.SettingSucceeded, After: page.Next},
		{TenantID: "t1", ProfileID: "p1", After: page.Next},
		{TenantID: "t2", ProfileID: "pz", After: page.Next},
		{TenantID: "t1", ProfileID: "pz", After: "not base64!"},
	} {
		_, err := s.QueryProfileStatus(ctx, q)
		mustErr(t, fmt.Sprintf("QueryProfileStatus %+v", q), err, store.ErrInvalidCursor)
	}
	next, err := s.QueryProfileStatus(ctx, store.ProfileStatusQuery{TenantID: "t1", ProfileID: "pz", Limit: 5, After: page.Next})
	must(t, "QueryProfileStatus pz next", err)
	if len(next.Rows) != 2 || next.Next != "" || next.Rows[0].LocURI != "./Z1" || next.Devices != nil {
		t.Fatalf("second page: %+v", next)
	}
}

// testProfileStatusConcurrent: check-ins of many devices writing their first state of one
// profile at once all succeed (the count rows they create first are raced for) and are all
// counted.
func testProfileStatusConcurrent(t *testing.T, open opener) {
	s := open(t)
	ctx := t.Context()
	const n = 48
	for i := range n {
		_, err := s.RegisterDevice(ctx, device("t1", fmt.Sprintf("c%02d", i), fmt.Sprintf("C%02d", i)))
		must(t, "RegisterDevice", err)
	}
	errs := make(chan error, n)
	for i := range n {
		go func() {
			errs <- s.Checkin(ctx, fmt.Sprintf("c%02d", i), func(tx store.DeviceTx) error {
				return tx.PutSettingState(store.SettingState{LocURI: "./A", State: store.SettingError, Sources: []string{"pc"}})
			})
		}()
	}
	for range n {
		must(t, "concurrent Checkin", <-errs)
	}
	c, err := s.ProfileStatusCounts(ctx, "t1", "pc")
	must(t, "ProfileStatusCounts", err)
	if c[store.SettingError] != n {
		t.Fatalf("counts after %d concurrent check-ins: %v", n, c)
	}
}
