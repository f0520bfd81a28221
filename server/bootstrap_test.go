package server

import (
	"bytes"
	"context"
	"github.com/hellomdm/hellomdm/server/adminapi"
	"github.com/hellomdm/hellomdm/store/core"
	"path/filepath"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/hellomdm/hellomdm/internal/testpg"
	"github.com/hellomdm/hellomdm/store"
	"github.com/hellomdm/hellomdm/store/bolt"
)

// openBootstrapStores opens n handles on one fresh store, as n replicas would: n
// connections to one PostgreSQL schema with HELLOMDM_TEST_BACKEND=postgres, else one bbolt
// file (which one process can open only once, so the handle is shared).
func openBootstrapStores(t *testing.T, n int) []store.Store {
	t.Helper()
	var out []store.Store
	if open := testpg.OpenStore(t); open != nil {
		for range n {
			st, err := open(context.Background(), "")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			out = append(out, st)
		}
		return out
	}
	st, err := core.OpenBolt(filepath.Join(t.TempDir(), "hellomdm.db"), bolt.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	for range n {
		out = append(out, st)
	}
	return out
}

var printedToken = regexp.MustCompile(`bootstrap admin token \(shown once, stored hashed\): (\S+)`)

// Replicas starting together on an empty store make and print one bootstrap token between
// them, and it works; a later start prints none.
func TestBootstrapTokenOncePerStore(t *testing.T) {
	const replicas = 4
	stores := openBootstrapStores(t, replicas)
	outs := make([]bytes.Buffer, replicas)
	var wg sync.WaitGroup
	errs := make([]error, replicas)
	for i := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = ensureAdminToken(context.Background(), stores[i], Options{Out: &outs[i], Now: time.Now})
		}()
	}
	wg.Wait()
	var printed []string
	for i := range replicas {
		if errs[i] != nil {
			t.Fatalf("replica %d: %v", i, errs[i])
		}
		if m := printedToken.FindStringSubmatch(outs[i].String()); m != nil {
			printed = append(printed, m[1])
		}
	}
	if len(printed) != 1 {
		t.Fatalf("%d replicas printed a bootstrap token, want exactly 1", len(printed))
	}
	toks, err := stores[0].ListTokens(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(toks) != 1 || toks[0].Hash != adminapi.HashToken(printed[0]) || toks[0].Role != store.RoleAdmin {
		t.Fatalf("stored tokens %+v; want the one printed", toks)
	}
	var again bytes.Buffer
	if err := ensureAdminToken(context.Background(), stores[0], Options{Out: &again, Now: time.Now}); err != nil || again.Len() != 0 {
		t.Fatalf("a later start: %v, printed %q", err, again.String())
	}
}

// A claim whose token never appeared (the replica stopped between claiming and storing it)
// is taken over after a wait, so the server never ends up with no admin at all.
func TestBootstrapTokenStaleClaim(t *testing.T) {
	st := openBootstrapStores(t, 1)[0]
	defer func(w time.Duration) { bootstrapWait = w }(bootstrapWait)
	bootstrapWait = 200 * time.Millisecond
	if err := st.PutConfig(context.Background(), bootstrapTokenKey, []byte(adminapi.HashToken("hmdm_never-stored"))); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := ensureAdminToken(context.Background(), st, Options{Out: &out, Now: time.Now}); err != nil {
		t.Fatal(err)
	}
	m := printedToken.FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no bootstrap token printed after a stale claim: %q", out.String())
	}
	if _, err := st.TokenByHash(context.Background(), adminapi.HashToken(m[1])); err != nil {
		t.Fatalf("printed token not stored: %v", err)
	}
}
