package console

import (
	"encoding/json"
	"errors"
	"html/template"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// Configuration profiles (Intune's Devices > Configuration): the list of both kinds, one
// profile's page, the Create profile wizard (profiles_wizard.go), Intune JSON import, edit,
// delete and the per-device status (profiles_status.go). Everything goes through the admin
// API as the signed-in person.

func init() {
	RegisterFuncs(template.FuncMap{
		"inc":         func(i int) int { return i + 1 },
		"dec":         func(i int) int { return i - 1 },
		"has":         slices.Contains[[]string],
		"choiceLabel": choiceLabel,
		"chosen": func(d draft, id string) bool {
			return slices.ContainsFunc(d.Settings, func(s draftSetting) bool { return strings.EqualFold(s.ID, id) })
		},
	})
	Register(&Section{Title: "Configuration profiles", Path: "/profiles", Order: 30},
		Route{Method: http.MethodGet, Path: "/profiles", Handle: profilesPage},
		Route{Method: http.MethodGet, Path: "/profiles/new", Handle: newProfilePage},
		Route{Method: http.MethodPost, Path: "/profiles/new", Handle: profileWizard},
		Route{Method: http.MethodGet, Path: "/profiles/import", Handle: importPage},
		Route{Method: http.MethodPost, Path: "/profiles/import", Handle: importProfile},
		Route{Method: http.MethodGet, Path: "/profiles/{route}/{pid}", Handle: profilePage},
		Route{Method: http.MethodGet, Path: "/profiles/{route}/{pid}/edit", Handle: editProfilePage},
		Route{Method: http.MethodGet, Path: "/profiles/{route}/{pid}/export.json", Handle: exportProfile},
		Route{Method: http.MethodPost, Path: "/profiles/{route}/{pid}/delete", Handle: deleteProfile},
		Route{Method: http.MethodGet, Path: "/profiles/{route}/{pid}/status", Handle: profileStatusPage},
		Route{Method: http.MethodGet, Path: "/profiles/{route}/{pid}/status.csv", Handle: profileStatusCSV},
	)
}

// choiceLabel is a setting's value as the picker shows it: a choice by its option's name.
func choiceLabel(s draftSetting) string {
	for _, o := range s.Options {
		if strings.EqualFold(o.ItemID, s.Value) {
			return o.DisplayName
		}
	}
	return s.Value
}

// writer refuses a reader the pages that only write (the API would refuse their POSTs).
func writer(c *Ctx) error {
	if !c.CanWrite() {
		return &StatusError{Status: http.StatusForbidden, Message: "your role (reader) cannot change profiles"}
	}
	return nil
}

// profileRoute checks a route segment of a console address.
func profileRoute(s string) (adminclient.ProfileRoute, error) {
	r := adminclient.ProfileRoute(s)
	if !slices.Contains(adminclient.ProfileRoutes, r) {
		return "", NotFound("profile")
	}
	return r, nil
}

// kindTitle is how Intune names a profile's type.
func kindTitle(r adminclient.ProfileRoute) string {
	if r == adminclient.CustomOMAURI {
		return "Templates > Custom"
	}
	return "Settings catalog"
}

// profileRow is a profile in the list.
type profileRow struct {
	ID, Name, Route, Type string
	Modified              time.Time
	Version               int
}

func profilesPage(c *Ctx) error {
	var rows []profileRow
	for _, route := range adminclient.ProfileRoutes {
		ps, err := c.API.Profiles(c.R.Context(), c.Tenant, route)
		if err != nil {
			return err
		}
		for _, p := range ps {
			modified, _ := time.Parse(time.RFC3339Nano, p.LastModifiedDateTime) // zero shows as "never"
			rows = append(rows, profileRow{ID: p.ID, Name: p.Title(), Route: string(route), Type: kindTitle(route),
				Modified: modified, Version: p.Version})
		}
	}
	slices.SortStableFunc(rows, func(a, b profileRow) int { return strings.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)) })
	return c.Render("profiles.html", rows)
}

// profileView is one profile's page.
type profileView struct {
	ID, Name, Description, Route, Type string
	Version                            int
	ScopeTags                          []string
	Settings                           []draftSetting
	Rows                               []customRow
	Assignments                        []assignmentRow
	JSON                               string
}

type assignmentRow struct{ Mode, Target, GroupID string }

func profilePage(c *Ctx) error {
	route, err := profileRoute(c.Var("route"))
	if err != nil {
		return err
	}
	ctx := c.R.Context()
	p, err := c.API.Profile(ctx, c.Tenant, route, c.Var("pid"))
	if err != nil {
		return err
	}
	defs, err := settingDefs(c)
	if err != nil {
		return err
	}
	d, err := draftFromProfile(p, route, defs)
	if err != nil {
		return err
	}
	v := profileView{ID: p.ID, Name: d.Name, Description: d.Description, Route: string(route), Type: kindTitle(route),
		Version: p.Version, ScopeTags: d.scopeTags(), Settings: d.Settings, Rows: d.Rows}
	var pretty json.RawMessage
	if b, err := json.MarshalIndent(json.RawMessage(p.Raw), "", "  "); err == nil {
		pretty = b
	}
	v.JSON = string(pretty)
	as, err := c.API.ProfileAssignments(ctx, c.Tenant, route, p.ID)
	if err != nil {
		return err
	}
	// The assigned groups are looked up one by one, never the tenant's whole group list.
	names := map[string]string{}
	for _, a := range as {
		id := a.Target.GroupID
		if _, seen := names[id]; id == "" || seen {
			continue
		}
		g, err := c.API.Group(ctx, c.Tenant, id)
		if err != nil && !adminclient.IsStatus(err, http.StatusNotFound) {
			return err
		}
		names[id] = g.DisplayName // "" for a group deleted since: shown by its ID
	}
	for _, a := range as {
		v.Assignments = append(v.Assignments, assignmentOf(a, names))
	}
	return c.Render("profiles_profile.html", v)
}

func assignmentOf(a wire.Assignment, names map[string]string) assignmentRow {
	switch a.Target.Type {
	case wire.TargetAllDevices:
		return assignmentRow{Mode: "Included", Target: "All devices"}
	case wire.TargetAllUsers:
		return assignmentRow{Mode: "Included", Target: "All users"}
	case wire.TargetExclusion:
		return assignmentRow{Mode: "Excluded", Target: cmpOr(names[a.Target.GroupID], a.Target.GroupID), GroupID: a.Target.GroupID}
	}
	return assignmentRow{Mode: "Included", Target: cmpOr(names[a.Target.GroupID], a.Target.GroupID), GroupID: a.Target.GroupID}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func deleteProfile(c *Ctx) error {
	route, err := profileRoute(c.Var("route"))
	if err != nil {
		return err
	}
	if err := c.API.DeleteProfile(c.R.Context(), c.Tenant, route, c.Var("pid")); err != nil {
		return err
	}
	return c.Redirect(c.Path("/profiles"), "Profile deleted. Devices remove its settings at their next check-in.")
}

// exportProfile downloads the profile as an Intune JSON export (what the server owns left
// out, as `hellomdm admin profile export` writes it): it imports here or in another tenant.
func exportProfile(c *Ctx) error {
	route, err := profileRoute(c.Var("route"))
	if err != nil {
		return err
	}
	p, err := c.API.Profile(c.R.Context(), c.Tenant, route, c.Var("pid"))
	if err != nil {
		return err
	}
	b, err := p.Export()
	if err != nil {
		return err
	}
	c.W.Header().Set("Content-Type", "application/json")
	c.W.Header().Set("Content-Disposition", `attachment; filename="`+attachmentName(p.Title())+`.json"`)
	_, err = c.W.Write(b)
	return err
}

func importPage(c *Ctx) error {
	if err := writer(c); err != nil {
		return err
	}
	return c.Render("profiles_import.html", "")
}

// importProfile takes an uploaded Intune JSON export and imports it through the API on the
// route of its shape (a custom OMA-URI profile by its @odata.type or omaSettings; otherwise
// a settings catalog policy, which the API checks).
func importProfile(c *Ctx) error {
	file, hdr, err := c.R.FormFile("file")
	if err != nil {
		return c.RenderStatus(http.StatusUnprocessableEntity, "profiles_import.html", "Choose an Intune JSON export to upload.")
	}
	defer file.Close()
	raw, err := io.ReadAll(file)
	if err != nil {
		return c.RenderStatus(http.StatusBadRequest, "profiles_import.html", "Reading the upload failed: "+err.Error())
	}
	var h struct {
		Type        string          `json:"@odata.type"`
		OMASettings json.RawMessage `json:"omaSettings"`
	}
	if json.Unmarshal(raw, &h) != nil {
		return c.RenderStatus(http.StatusUnprocessableEntity, "profiles_import.html", hdr.Filename+" is not a JSON document (an Intune profile export).")
	}
	route := adminclient.SettingsCatalog
	if strings.EqualFold(h.Type, odataCustom) || h.Type == "" && h.OMASettings != nil {
		route = adminclient.CustomOMAURI
	}
	p, err := c.API.CreateProfile(c.R.Context(), c.Tenant, route, raw)
	if ae, ok := errors.AsType[*adminclient.Error](err); ok && ae.Status != http.StatusForbidden && ae.Status < 500 {
		return c.RenderStatus(ae.Status, "profiles_import.html", hdr.Filename+" was not imported: "+ae.Message)
	}
	if err != nil {
		return err
	}
	msg := "Imported " + hdr.Filename + "."
	for _, w := range p.Warnings {
		msg += " Warning: " + w
	}
	return c.Redirect(c.Path("/profiles", string(route), p.ID), msg)
}
