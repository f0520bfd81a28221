package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// The Create profile wizard, in Intune's steps: Platform and Profile type (Settings catalog,
// or Templates > Custom), then Basics → Configuration settings (the settings picker, or the
// custom OMA-URI rows) → Scope tags → Assignments → Review + create. Every step is one POST
// of the form (CSRF-checked) carrying the draft (profiles_draft.go); the button pressed, the
// field "go", says where to go next.

// wizardSteps are the steps after the profile type, in order.
var wizardSteps = []struct{ Key, Title string }{
	{"basics", "Basics"},
	{"settings", "Configuration settings"},
	{"scope", "Scope tags"},
	{"assignments", "Assignments"},
	{"review", "Review + create"},
}

// wizardView is what templates/profiles_wizard.html gets.
type wizardView struct {
	D         draft
	DraftJSON string
	Step      string
	Steps     []wizardStep
	Error     string
	Types     []struct{ Key, Label string }
	// The settings picker.
	Query, Category string
	Categories      []string
	Results         []wire.SettingDefinition
	Searched        bool
	// Assignments.
	Groups      []wire.Group
	GroupNames  map[string]string
	GroupSearch string
	MoreGroups  bool // the search found more than groupsShown
}

// groupsShown bounds the groups the Assignments step lists besides those chosen: search by
// name narrows it.
const groupsShown = 50

type wizardStep struct {
	N            int
	Title        string
	Current      bool
	Done         bool
	Key, Profile string
}

func stepIndex(key string) int {
	for i, s := range wizardSteps {
		if s.Key == key {
			return i
		}
	}
	return -1
}

// newProfilePage is the first panel: platform and profile type.
func newProfilePage(c *Ctx) error {
	if err := writer(c); err != nil {
		return err
	}
	return c.Render("profiles_new.html", nil)
}

// editProfilePage opens the wizard on a stored profile.
func editProfilePage(c *Ctx) error {
	if err := writer(c); err != nil {
		return err
	}
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
	as, err := c.API.ProfileAssignments(ctx, c.Tenant, route, p.ID)
	if err != nil {
		return err
	}
	for _, a := range as {
		switch a.Target.Type {
		case wire.TargetAllDevices:
			d.AllDevices = true
		case wire.TargetAllUsers:
			d.AllUsers = true
		case wire.TargetGroup:
			d.Include = append(d.Include, a.Target.GroupID)
		case wire.TargetExclusion:
			d.Exclude = append(d.Exclude, a.Target.GroupID)
		}
	}
	return c.showStep(d, "basics", "")
}

// settingDefs is the whole catalog by lower-case id.
func settingDefs(c *Ctx) (map[string]wire.SettingDefinition, error) {
	all, err := c.API.SearchSettings(c.R.Context(), c.Tenant, "", "")
	if err != nil {
		return nil, err
	}
	m := make(map[string]wire.SettingDefinition, len(all))
	for _, d := range all {
		m[strings.ToLower(d.ID)] = d
	}
	return m, nil
}

// profileWizard handles every step's POST.
func profileWizard(c *Ctx) error {
	if err := writer(c); err != nil {
		return err
	}
	if err := c.R.ParseForm(); err != nil {
		return &StatusError{Status: http.StatusBadRequest, Message: "the form could not be read"}
	}
	f := c.R.PostForm
	step := f.Get("step")
	if step == "start" {
		return startWizard(c, f)
	}
	d, err := decodeDraft(f.Get("draft"))
	if err != nil {
		return &StatusError{Status: http.StatusBadRequest, Message: err.Error()}
	}
	d.readStep(step, f)
	goTo := f.Get("go")
	switch {
	case goTo == "back":
		return c.showStep(d, wizardSteps[max(stepIndex(step), 1)-1].Key, "")
	case goTo == "next" && step == "assignments" && f.Get("groupsearch") != f.Get("groupsearch-shown"):
		// Enter in the group search field (the step's default button is Next) searches.
		return c.showAssignments(d, f.Get("groupsearch"), "")
	case goTo == "groupsearch":
		return c.showAssignments(d, f.Get("groupsearch"), "")
	case goTo == "next":
		if msg := d.check(step); msg != "" {
			return c.showStepStatus(http.StatusUnprocessableEntity, d, step, msg)
		}
		if step == "settings" {
			msg, err := c.validate(&d)
			if err != nil {
				return err
			}
			if msg != "" {
				return c.showStepStatus(http.StatusUnprocessableEntity, d, step, msg)
			}
		}
		i := stepIndex(step)
		if i < 0 || i+1 >= len(wizardSteps) {
			return c.showStep(d, "review", "")
		}
		return c.showStep(d, wizardSteps[i+1].Key, "")
	case goTo == "picker" || goTo == "search":
		return c.showPicker(d, f.Get("search"), f.Get("category"), goTo == "search")
	case strings.HasPrefix(goTo, "add:"):
		return c.addSetting(d, strings.TrimPrefix(goTo, "add:"))
	case strings.HasPrefix(goTo, "remove:"):
		d.remove(strings.TrimPrefix(goTo, "remove:"))
		return c.showStep(d, "settings", "")
	case goTo == "addrow":
		d.Rows = append(d.Rows, customRow{Type: "String"})
		return c.showStep(d, "settings", "")
	case strings.HasPrefix(goTo, "suggest:"):
		d.useSuggestion(strings.TrimPrefix(goTo, "suggest:"))
		return c.showStep(d, "settings", "")
	case goTo == "done":
		return c.showStep(d, "settings", "")
	case goTo == "create":
		return c.createFromDraft(d)
	}
	return c.showStep(d, step, "")
}

func startWizard(c *Ctx, f url.Values) error {
	if f.Get("platform") != "windows10" {
		return c.RenderStatus(http.StatusUnprocessableEntity, "profiles_new.html", "Choose the platform Windows 10 and later.")
	}
	// A role limited to scope tags gives a new profile its own tags (the API refuses others).
	d := draft{ScopeTags: strings.Join(c.Principal.ScopeTags, ", ")}
	switch f.Get("type") {
	case "settingsCatalog":
		d.Kind = kindCatalog
	case "custom":
		d.Kind = kindCustom
		d.Rows = []customRow{{Type: "String"}}
	default:
		return c.RenderStatus(http.StatusUnprocessableEntity, "profiles_new.html", "Choose a profile type: Settings catalog, or Templates > Custom.")
	}
	return c.showStep(d, "basics", "")
}

// readStep takes the fields of the step the form showed into the draft.
func (d *draft) readStep(step string, f url.Values) {
	switch step {
	case "basics":
		d.Name, d.Description = strings.TrimSpace(f.Get("name")), strings.TrimSpace(f.Get("description"))
	case "settings":
		for i := range d.Settings {
			if v, ok := f["value-"+strconv.Itoa(i)]; ok {
				d.Settings[i].Value = v[0]
			}
		}
		for i := range d.Rows {
			n := strconv.Itoa(i)
			r := &d.Rows[i]
			r.Name, r.Description, r.URI = f.Get("row-name-"+n), f.Get("row-description-"+n), strings.TrimSpace(f.Get("row-uri-"+n))
			r.Type, r.Value = f.Get("row-type-"+n), f.Get("row-value-"+n)
		}
	case "scope":
		d.ScopeTags = f.Get("scopetags")
	case "assignments":
		d.Include, d.Exclude = f["include"], f["exclude"]
		d.AllDevices, d.AllUsers = f.Get("alldevices") == "on", f.Get("allusers") == "on"
	}
}

// check is what a step needs before Next; the API checks everything again at create.
func (d *draft) check(step string) string {
	switch step {
	case "basics":
		if d.Name == "" {
			return "A profile needs a name."
		}
	case "settings":
		if d.Kind == kindCatalog && len(d.Settings) == 0 {
			return "Add at least one setting."
		}
		if d.Kind == kindCustom && len(d.Rows) == 0 {
			return "Add at least one OMA-URI row."
		}
		if d.Kind == kindCatalog {
			if _, ok := d.catalogDoc(); !ok {
				return "A setting's value is not valid."
			}
		}
	case "assignments":
		for _, g := range d.Include {
			if slices.Contains(d.Exclude, g) {
				return "A group cannot be both included and excluded."
			}
		}
	}
	return ""
}

func (d *draft) remove(which string) {
	i, err := strconv.Atoi(which)
	switch {
	case err != nil:
	case d.Kind == kindCatalog && i >= 0 && i < len(d.Settings):
		d.Settings = slices.Delete(d.Settings, i, i+1)
	case d.Kind == kindCustom && i >= 0 && i < len(d.Rows):
		d.Rows = slices.Delete(d.Rows, i, i+1)
	}
}

// useSuggestion takes "row:uri", a did-you-mean the row's button carries.
func (d *draft) useSuggestion(v string) {
	which, uri, _ := strings.Cut(v, ":")
	if i, err := strconv.Atoi(which); err == nil && i >= 0 && i < len(d.Rows) && uri != "" {
		d.Rows[i].URI = uri
	}
}

func (c *Ctx) showStep(d draft, step, msg string) error {
	status := http.StatusOK
	if msg != "" {
		status = http.StatusUnprocessableEntity
	}
	return c.showStepStatus(status, d, step, msg)
}

func (c *Ctx) showStepStatus(status int, d draft, step, msg string) error {
	v := wizardView{D: d, DraftJSON: d.encode(), Step: step, Error: msg, Types: omaTypes}
	cur := stepIndex(step)
	if step == "picker" {
		cur = stepIndex("settings")
	}
	for i, s := range wizardSteps {
		v.Steps = append(v.Steps, wizardStep{N: i + 1, Title: s.Title, Key: s.Key, Current: i == cur, Done: i < cur})
	}
	if step == "assignments" || step == "review" {
		if err := c.listGroups(&v, ""); err != nil {
			return err
		}
	}
	return c.RenderStatus(status, "profiles_wizard.html", v)
}

func (c *Ctx) showAssignments(d draft, search, msg string) error {
	v := wizardView{D: d, DraftJSON: d.encode(), Step: "assignments", Error: msg}
	for i, s := range wizardSteps {
		v.Steps = append(v.Steps, wizardStep{N: i + 1, Title: s.Title, Key: s.Key, Current: s.Key == "assignments", Done: s.Key != "review" && s.Key != "assignments"})
	}
	if err := c.listGroups(&v, strings.TrimSpace(search)); err != nil {
		return err
	}
	return c.Render("profiles_wizard.html", v)
}

// listGroups fills the view's groups: the draft's included and excluded groups first (by
// name), then up to groupsShown groups whose name contains search.
func (c *Ctx) listGroups(v *wizardView, search string) error {
	ctx := c.R.Context()
	v.GroupNames, v.GroupSearch = map[string]string{}, search
	for _, id := range slices.Concat(v.D.Include, v.D.Exclude) {
		if _, seen := v.GroupNames[id]; seen {
			continue
		}
		g, err := c.API.Group(ctx, c.Tenant, id)
		if adminclient.IsStatus(err, http.StatusNotFound) {
			g = wire.Group{ID: id, DisplayName: "(deleted group " + id + ")"}
		} else if err != nil {
			return err
		}
		v.GroupNames[id] = g.DisplayName
		v.Groups = append(v.Groups, g)
	}
	if v.Step != "assignments" {
		return nil
	}
	page, err := c.API.SearchGroups(ctx, c.Tenant, adminclient.ListQuery{Search: search, Top: groupsShown})
	if err != nil {
		return err
	}
	for _, g := range page.Value {
		if _, seen := v.GroupNames[g.ID]; !seen {
			v.Groups = append(v.Groups, g)
		}
	}
	v.MoreGroups = page.NextSkipToken != ""
	return nil
}

// showPicker is the settings picker: search by name, in a category.
func (c *Ctx) showPicker(d draft, query, category string, searched bool) error {
	ctx := c.R.Context()
	cats, err := c.API.SettingCategories(ctx, c.Tenant)
	if err != nil {
		return err
	}
	v := wizardView{D: d, DraftJSON: d.encode(), Step: "picker", Query: query, Category: category, Categories: cats, Searched: searched}
	for i, s := range wizardSteps {
		v.Steps = append(v.Steps, wizardStep{N: i + 1, Title: s.Title, Key: s.Key, Current: s.Key == "settings", Done: i < 1})
	}
	if searched {
		if v.Results, err = c.API.SearchSettings(ctx, c.Tenant, query, category); err != nil {
			return err
		}
	}
	return c.Render("profiles_wizard.html", v)
}

func (c *Ctx) addSetting(d draft, id string) error {
	defs, err := settingDefs(c)
	if err != nil {
		return err
	}
	def, ok := defs[strings.ToLower(id)]
	if !ok {
		return c.showStep(d, "settings", "No such setting in the catalog: "+id)
	}
	if !slices.ContainsFunc(d.Settings, func(s draftSetting) bool { return strings.EqualFold(s.ID, def.ID) }) {
		d.Settings = append(d.Settings, draftFromDef(def))
	}
	return c.showStep(d, "settings", "")
}

// validate sends the draft to the API as a dry run (Next on Configuration settings), so the
// rows are checked exactly as the API checks them before the later steps: it returns the
// step's message, with a refused setting's error (and did-you-mean) set beside its field.
func (c *Ctx) validate(d *draft) (string, error) {
	route, doc, ok := d.document()
	if !ok {
		return "A setting's value is not valid.", nil
	}
	_, err := c.API.ValidateProfile(c.R.Context(), c.Tenant, route, doc)
	ae, isAPI := errors.AsType[*adminclient.Error](err)
	switch {
	case err == nil:
		return "", nil
	case isAPI && ae.Status == http.StatusUnprocessableEntity && d.placeError(ae):
		return "A setting is not valid: see beside it.", nil
	case isAPI && ae.Status < http.StatusInternalServerError:
		return ae.Message, nil
	}
	return "", err
}

// createFromDraft creates (or, editing, patches) the profile through the API and assigns
// it. A refusal of the document goes back to the step of the field it names.
func (c *Ctx) createFromDraft(d draft) error {
	ctx := c.R.Context()
	route, doc, ok := d.document()
	if !ok {
		return c.showStep(d, "settings", "A setting's value is not valid.")
	}
	var p adminclient.Profile
	var err error
	if d.EditID != "" {
		p, err = c.API.PatchProfile(ctx, c.Tenant, route, d.EditID, doc)
	} else {
		p, err = c.API.CreateProfile(ctx, c.Tenant, route, doc)
	}
	if ae, ok := errors.AsType[*adminclient.Error](err); ok && ae.Status == http.StatusUnprocessableEntity {
		if d.placeError(ae) {
			return c.showStep(d, "settings", "The profile was not saved: a setting is not valid.")
		}
		return c.showStep(d, "review", "The profile was not saved: "+ae.Message)
	}
	if err != nil {
		return err
	}
	what := "Profile created."
	if d.EditID != "" {
		what = "Profile saved."
	}
	if _, err := c.API.AssignProfile(ctx, c.Tenant, route, p.ID, d.assignments()); err != nil {
		ae, ok := errors.AsType[*adminclient.Error](err)
		if !ok {
			return err
		}
		what += " Its assignments were not saved: " + ae.Message
	}
	for _, w := range p.Warnings {
		what += " Warning: " + w
	}
	return c.Redirect(c.Path("/profiles", string(route), p.ID), what)
}
