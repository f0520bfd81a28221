package main

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"text/tabwriter"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// Deployment status: a profile's report across devices, a device's setting states.

func runProfileStatus(c *adminClient, args []string) error {
	tenant, pid, route, _, err := c.profileCommand("profile status", args)
	if adminclient.IsStatus(err, http.StatusNotFound) && tenant != "" {
		// A deleted profile is on neither route, but its report goes on while devices
		// remove its settings; the server answers it on either route.
		route = adminclient.SettingsCatalog
	} else if err != nil {
		return err
	}
	out, err := c.api.ProfileStatus(c.ctx, tenant, route, pid)
	if err := c.read(err); err != nil {
		return err
	}
	switch c.output {
	case "json":
		return c.printJSON(out)
	case "id": // the devices the report covers
		var ids []string
		for _, d := range out.Devices {
			ids = append(ids, d.DeviceID)
		}
		return c.printIDs(ids...)
	}
	return c.printProfileStatus(tenant, out)
}

// printProfileStatus is the table of a profile's report: the counts by state, a row per
// device and setting, and the devices where non-destructive PIN reset cannot work.
func (c *adminClient) printProfileStatus(tenant string, out wire.ProfileStatus) error {
	deleted := ""
	if out.Deleted {
		deleted = " (deleted; devices remove its settings at their next check-in)"
	}
	var states []string
	for s := range out.Counts {
		states = append(states, s)
	}
	sort.Strings(states)
	var parts []string
	for _, s := range states {
		parts = append(parts, fmt.Sprintf("%s %d", s, out.Counts[s]))
	}
	fmt.Fprintf(c.stdout, "profile %s%s: %s\n\n", out.ProfileID, deleted, strings.Join(parts, ", "))
	tw := tabwriter.NewWriter(c.stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "DEVICE\tDEVICENAME\tLOCURI\tSTATE\tERROR")
	for _, d := range out.Devices {
		name := c.nameOf("device", tenant, d.DeviceID)
		for _, s := range d.Settings {
			state := s.State
			if s.Removing {
				state += " (removal)"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.DeviceID, name, s.LocURI, state, s.ErrorDetail)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	// EnablePinRecovery's state is what the device answered; whether non-destructive
	// reset works there is the device's CanReset.
	first := true
	for _, d := range out.Devices {
		if d.CanReset != "DestructiveOnly" {
			continue
		}
		if first {
			fmt.Fprintln(c.stdout)
			first = false
		}
		fmt.Fprintf(c.stdout, "%s: non-destructive PIN reset unavailable (CanReset DestructiveOnly) %s\n", d.DeviceID, strings.TrimPrefix(d.CanResetReason, "PIN reset not supported "))
	}
	return nil
}

func runDeviceSettings(c *adminClient, args []string) error {
	fs := commandFlags("device settings")
	tid := fs.String("tenant", "", "tenant ID or domain")
	did := fs.String("device", "", "device ID or name")
	if err := parseCommand(fs, args, "tenant", "device"); err != nil {
		return err
	}
	tenant, device, err := c.resolveIn("device", *tid, *did)
	if err != nil {
		return err
	}
	states, err := c.api.DeviceSettingStates(c.ctx, tenant, device)
	if err := c.read(err); err != nil {
		return err
	}
	if c.output == "table" {
		// Conflicts name the profiles that disagree: show each source profile's name.
		for i := range states {
			for j, id := range states[i].Sources {
				states[i].Sources[j] = c.withName("profile", *tid, id)
			}
		}
	}
	return printList(c, states, "locUri", "value", "state", "errorDetail", "sources", "lastChanged")
}
