package main

import (
	"time"

	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// pushRow flattens a device's push status for the table (-o json prints the API's JSON).
type pushRow struct {
	ID             string    `json:"id"`
	DeviceName     string    `json:"deviceName,omitempty"`
	Wake           string    `json:"wake,omitempty"`
	Channel        string    `json:"channel"`
	Connected      bool      `json:"connected"`
	ConnectedSince time.Time `json:"connectedSince,omitzero"`
	DisconnectedAt time.Time `json:"disconnectedAt,omitzero"`
	Replica        string    `json:"replica,omitempty"`
	LastWakeAt     time.Time `json:"lastWakeAt,omitzero"`
	LastWakeReason string    `json:"lastWakeReason,omitempty"`
	LastWakeVia    string    `json:"lastWakeChannel,omitempty"`
	LastWakeResult string    `json:"lastWakeResult,omitempty"`
	LastWakeDetail string    `json:"lastWakeDetail,omitempty"`
}

func newPushRow(id, name, wake string, p wire.PushStatus) pushRow {
	ch := p.Channel
	if ch == "" {
		ch = "none"
	}
	return pushRow{ID: id, DeviceName: name, Wake: wake, Channel: ch, Connected: p.Connected, ConnectedSince: p.ConnectedSince,
		DisconnectedAt: p.DisconnectedAt, Replica: p.Replica, LastWakeAt: p.LastWakeAt, LastWakeReason: p.LastWakeReason,
		LastWakeVia: p.LastWakeChannel, LastWakeResult: p.LastWakeResult, LastWakeDetail: p.LastWakeDetail}
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
