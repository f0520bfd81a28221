package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hellomdm/hellomdm/store"
)

// pushPFNTTL is how long a tenant's WNS PFN is served from memory to the session engine,
// which asks at every session start: a change made on this replica is seen at once (the
// admin API forgets the tenant), one made on another replica within this time.
const pushPFNTTL = 10 * time.Second

// pushPFNCache is omadm.Config.PushPFN (omadm.StorePushPFN's rules) over the store with two
// caches: a device's tenant (it never changes) and a tenant's PFN for pushPFNTTL. Without
// them every session start cost a device and a tenant read (docs/protocol.md C.7).
type pushPFNCache struct {
	st  store.Store
	now func() time.Time

	mu      sync.Mutex
	tenants map[string]string // device → tenant
	pfns    map[string]cachedPFN
}

type cachedPFN struct {
	pfn string
	at  time.Time
}

func newPushPFNCache(st store.Store, now func() time.Time) *pushPFNCache {
	return &pushPFNCache{st: st, now: now, tenants: map[string]string{}, pfns: map[string]cachedPFN{}}
}

// PFN is the device's tenant's PFN ("" none).
func (c *pushPFNCache) PFN(ctx context.Context, deviceID string) (string, error) {
	c.mu.Lock()
	tid, ok := c.tenants[deviceID]
	p, fresh := c.pfns[strings.ToLower(tid)]
	c.mu.Unlock()
	if ok && fresh && c.now().Sub(p.at) < pushPFNTTL {
		return p.pfn, nil
	}
	d, err := c.st.Device(ctx, deviceID)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil // the session engine refuses unknown devices itself
	}
	if err != nil {
		return "", fmt.Errorf("loading device %s: %w", deviceID, err)
	}
	if d.State != store.DeviceEnrolled {
		return "", nil // refused by the engine too
	}
	at := c.now()
	t, err := c.st.Tenant(ctx, strings.ToLower(d.TenantID))
	if errors.Is(err, store.ErrNotFound) {
		return "", nil // a deleted tenant's devices are retired: the engine refuses them
	}
	if err != nil {
		return "", fmt.Errorf("loading tenant of device %s: %w", deviceID, err)
	}
	pfn := ""
	if t.WNS != nil {
		pfn = t.WNS.PFN
	}
	c.mu.Lock()
	if len(c.tenants) > 1<<20 {
		clear(c.tenants)
	}
	c.tenants[deviceID] = d.TenantID
	c.pfns[strings.ToLower(d.TenantID)] = cachedPFN{pfn: pfn, at: at}
	c.mu.Unlock()
	return pfn, nil
}

// Forget drops a tenant's cached PFN (the admin API changed it).
func (c *pushPFNCache) Forget(tenantID string) {
	c.mu.Lock()
	delete(c.pfns, strings.ToLower(tenantID))
	c.mu.Unlock()
}
