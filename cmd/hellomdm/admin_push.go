package main

import "github.com/hellomdm/hellomdm/server/adminapi/wire"

// pushRow is a device's push status for the table (-o json prints the API's JSON): the
// API's wire.PushStatus with the device's ID, name and, after "device sync", what the
// server did. The table always has a CHANNEL: newPushRow sets "none" where the API leaves
// "channel" out (omitempty), so the row never omits it (testdata/push_table.txt).
type pushRow struct {
	ID         string `json:"id"`
	DeviceName string `json:"deviceName,omitempty"`
	Wake       string `json:"wake,omitempty"`
	wire.PushStatus
}

func newPushRow(id, name, wake string, p wire.PushStatus) pushRow {
	if p.Channel == "" {
		p.Channel = "none"
	}
	return pushRow{ID: id, DeviceName: name, Wake: wake, PushStatus: p}
}

var pushColumns = []string{"id", "deviceName", "channel", "connected", "connectedSince", "disconnectedAt", "replica", "lastWakeAt",
	"lastWakeReason", "lastWakeChannel", "lastWakeResult", "lastWakeDetail"}

// runDeviceSync is "Sync now": the device is woken on its push channel.
func runDeviceSync(c *adminClient, args []string) error {
	tenant, device, err := c.parseInTenant("device sync", "device", args)
	if err != nil {
		return err
	}
	res, err := c.api.SyncDevice(c.ctx, tenant, device)
	if err := c.wrote(err); err != nil {
		return err
	}
	if c.output == "json" {
		return c.print(res)
	}
	return c.print(newPushRow(device, "", res.Wake, res.Push), append([]string{"id", "wake"}, pushColumns[2:]...)...)
}

// runDevicePush shows a device's push channel.
func runDevicePush(c *adminClient, args []string) error {
	tenant, device, err := c.parseInTenant("device push", "device", args)
	if err != nil {
		return err
	}
	d, err := c.api.Device(c.ctx, tenant, device)
	if err := c.read(err); err != nil {
		return err
	}
	var p wire.PushStatus
	if d.Push != nil {
		p = *d.Push
	}
	if c.output == "json" {
		return c.print(p)
	}
	return c.print(newPushRow(d.ID, d.DeviceName, "", p), pushColumns...)
}
