package store

import (
	"context"
	"errors"
	"time"
)

// ErrInvalidCursor is a DeviceQuery.After that is not a Next of the same query.
var ErrInvalidCursor = errors.New("invalid page cursor")

// DeviceQuery selects one page of a tenant's devices (DeviceIndex.QueryDevices). Empty
// fields select everything.
type DeviceQuery struct {
	TenantID string
	// Search is a case-insensitive prefix of the device name or of the user's UPN.
	Search string
	// CanReset keeps the devices whose reported CanReset (Device.ReportedCanReset) is one of
	// these ("" is a device that has not reported one); nil keeps all.
	CanReset []string
	// State keeps one enrollment state (DeviceEnrolled, DeviceUnenrolled, DeviceRetired).
	State string
	// OSVersion is a prefix of the OS version ("10.0.26100"); OSEdition an edition (SKU)
	// number, 0 for any.
	OSVersion string
	OSEdition int
	// SeenSince keeps devices whose last check-in is at or after it; NotSeenSince those that
	// last checked in before it or never. Check-in times are indexed to the minute.
	SeenSince, NotSeenSince time.Time
	// Visible, when set, keeps only the devices whose scope tags it accepts.
	Visible func(scopeTags []string) bool
	// After is the Next of the previous page ("" for the first).
	After string
	// Limit is the page size (1 to MaxDevicePage; 0 means DefaultDevicePage).
	Limit int
}

// DevicePage is one page of devices, ordered by device name (then ID), or by the matched
// name or UPN when searching.
type DevicePage struct {
	Devices []Device
	// Next continues the listing ("" when the end was reached). A page may hold fewer than
	// Limit devices and still have a Next: one query reads at most MaxDeviceScan index
	// entries, so its cost is bounded whatever the filters.
	Next string
	// Scanned is how many index entries the query read.
	Scanned int
}

// Device page bounds.
const (
	DefaultDevicePage = 50
	MaxDevicePage     = 500
	MaxDeviceScan     = 1000
)

// DeviceCounts are a tenant's device figures, kept up to date with every device write so
// that reading them costs no scan of the devices.
type DeviceCounts struct {
	// ByState counts devices by enrollment state.
	ByState map[string]int
	// ByCanReset counts enrolled devices by reported CanReset ("" not reported).
	ByCanReset map[string]int
	// SeenSince counts devices whose last check-in is at or after the time asked for.
	SeenSince int
}

// DeviceIndex answers the console's and the API's device lists and figures from indexes
// kept with the device records (in the same transactions).
type DeviceIndex interface {
	QueryDevices(ctx context.Context, q DeviceQuery) (DevicePage, error)
	// CountDevices returns the tenant's figures for the devices visible accepts (nil: all),
	// with SeenSince counting check-ins at or after since.
	CountDevices(ctx context.Context, tenantID string, since time.Time, visible func(scopeTags []string) bool) (DeviceCounts, error)
}
