package omadm

// maxTenantHints bounds Engine.tenants; past it the map starts again empty.
const maxTenantHints = 1 << 20

// tenantHint returns the tenant the device had at its last check-in here ("" unknown).
func (e *Engine) tenantHint(deviceID string) string {
	if v, ok := e.tenants.Load(deviceID); ok {
		return v.(string)
	}
	return ""
}

// learnTenant records the device's tenant for tenantHint.
func (e *Engine) learnTenant(deviceID, tenantID string) {
	if tenantID == "" || e.tenantHint(deviceID) == tenantID {
		return
	}
	if e.nTenants.Add(1) > maxTenantHints {
		e.tenants.Clear()
		e.nTenants.Store(1)
	}
	e.tenants.Store(deviceID, tenantID)
}
