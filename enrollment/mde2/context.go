package mde2

import (
	"strconv"
	"strings"
)

// DeviceContext is what an RST's AdditionalContext says about the device (MS-MDE2
// 3.4.4.1.1.1), by item name.
type DeviceContext struct {
	DeviceID, HWDevID, EnrollmentType, OSVersion, OSEdition string
	DeviceName, DeviceType, ApplicationVersion, Locale      string
	RequestVersion                                          string
	NotInOobe                                               bool
	// MACs are the MAC items in order, one per network adapter (Windows may repeat one).
	MACs []string
}

// DeviceContext reads the items it knows; a repeated item other than MAC keeps its last
// value, and items of other names are skipped.
func (r *RequestSecurityToken) DeviceContext() DeviceContext {
	var c DeviceContext
	fields := map[string]*string{
		"DeviceID": &c.DeviceID, "HWDevID": &c.HWDevID, "EnrollmentType": &c.EnrollmentType,
		"OSVersion": &c.OSVersion, "OSEdition": &c.OSEdition, "DeviceName": &c.DeviceName,
		"DeviceType": &c.DeviceType, "ApplicationVersion": &c.ApplicationVersion, "Locale": &c.Locale,
		"RequestVersion": &c.RequestVersion,
	}
	for _, it := range r.Context {
		switch dst, ok := fields[it.Name]; {
		case ok:
			*dst = it.Value
		case it.Name == "NotInOobe":
			c.NotInOobe = strings.EqualFold(it.Value, "true")
		case it.Name == "MAC":
			c.MACs = append(c.MACs, it.Value)
		}
	}
	return c
}

// WindowsItems lists c as the AdditionalContext items of an enrollment started from
// Settings, in the order Windows sends them: UXInitiated and TargetedUserLoggedIn are
// true, and an empty field is sent empty.
func (c DeviceContext) WindowsItems() []ContextItem {
	items := []ContextItem{
		{"UXInitiated", "true"}, {"HWDevID", c.HWDevID}, {"Locale", c.Locale},
		{"TargetedUserLoggedIn", "true"}, {"OSEdition", c.OSEdition}, {"DeviceName", c.DeviceName},
	}
	for _, m := range c.MACs {
		items = append(items, ContextItem{"MAC", m})
	}
	return append(items,
		ContextItem{"DeviceID", c.DeviceID}, ContextItem{"EnrollmentType", c.EnrollmentType},
		ContextItem{"DeviceType", c.DeviceType}, ContextItem{"OSVersion", c.OSVersion},
		ContextItem{"ApplicationVersion", c.ApplicationVersion},
		ContextItem{"NotInOobe", strconv.FormatBool(c.NotInOobe)},
		ContextItem{"RequestVersion", c.RequestVersion})
}
