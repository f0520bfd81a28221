package consoletest

import (
	"context"
	"fmt"
	"time"

	"github.com/hellomdm/hellomdm/store"
)

// SeedDevice is a device written straight into the store, as if it had enrolled and checked
// in (for pages that list devices; a real agent enrolls in the flow tests).
type SeedDevice struct {
	ID, Name, UPN, OSVersion string
	OSEdition                int
	State                    string // default enrolled
	CanReset                 string // "" not reported
	JoinType                 string // azureADJoined, hybridAzureADJoined, ...
	LastSeen                 time.Time
	ScopeTags                []string
	Settings                 []store.SettingState
}

// Seed writes devices into the Env's tenant.
func (e *Env) Seed(devs ...SeedDevice) {
	e.T.Helper()
	ctx := context.Background()
	st := e.App.Store
	for i, d := range devs {
		if d.State == "" {
			d.State = store.DeviceEnrolled
		}
		rec := store.Device{ID: d.ID, TenantID: TenantID, HWDevID: "hw-" + d.ID, DeviceName: d.Name, UPN: d.UPN, OSVersion: d.OSVersion,
			OSEdition: d.OSEdition, State: store.DeviceEnrolled, CertSerial: fmt.Sprintf("%08X", i+1), CertThumbprint: fmt.Sprintf("%040X", i+1),
			CertNotAfter: time.Now().AddDate(1, 0, 0), EnrolledAt: time.Now().Add(-48 * time.Hour), EnrollmentType: "Full", ScopeTags: d.ScopeTags,
			Nodes: map[string]string{}}
		if _, err := st.RegisterDevice(ctx, rec); err != nil {
			e.T.Fatalf("seeding %s: %v", d.ID, err)
		}
		err := st.Checkin(ctx, d.ID, func(tx store.DeviceTx) error {
			cur, err := tx.Device()
			if err != nil {
				return err
			}
			if cur.Nodes == nil {
				cur.Nodes = map[string]string{}
			}
			if d.CanReset != "" {
				cur.Nodes[store.CanResetNode] = d.CanReset
			}
			if d.JoinType != "" {
				cur.Nodes["./Device/Vendor/MSFT/hellomdm/DeviceState/JoinType"] = d.JoinType
			}
			cur.LastSeenAt, cur.State = d.LastSeen, d.State
			if err := tx.PutDevice(cur); err != nil {
				return err
			}
			for _, s := range d.Settings {
				if err := tx.PutSettingState(s); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			e.T.Fatalf("seeding %s: %v", d.ID, err)
		}
	}
}
