package console

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gorilla/mux"

	"github.com/hellomdm/hellomdm/server/adminapi"
	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
)

// Section is an entry of the navigation bar. Only sections that are registered appear, so the
// bar never links to a page that does not exist.
type Section struct {
	// Title is the link text ("Devices").
	Title string
	// Path is the page the link opens, under /console/t/{tid} ("/devices"); a request path
	// at or under it marks the section current.
	Path string
	// Order places the section in the bar (ascending).
	Order int
}

// Route is one page or action of the console, under /console/t/{tid}.
type Route struct {
	// Method is http.MethodGet for a page, http.MethodPost for an action (CSRF-checked).
	Method string
	// Path is a gorilla/mux template under the tenant ("/devices/{did}").
	Path string
	// Handle answers the request; an error is shown as the error page (an *adminclient.Error
	// with its status and message).
	Handle func(c *Ctx) error
}

type registration struct {
	section *Section
	routes  []Route
}

var registry []registration

// Register adds a page (its navigation section, nil for none, and its routes). Page files
// call it from init.
func Register(s *Section, routes ...Route) {
	registry = append(registry, registration{section: s, routes: routes})
}

// sections returns the registered sections in navigation order.
func sections() []Section {
	var out []Section
	for _, r := range registry {
		if r.section != nil {
			out = append(out, *r.section)
		}
	}
	slices.SortStableFunc(out, func(a, b Section) int { return a.Order - b.Order })
	return out
}

// Ctx is what a page handler gets: the request, who is signed in, the tenant of the page and
// the admin API acting as that person.
type Ctx struct {
	W http.ResponseWriter
	R *http.Request
	// Tenant is the {tid} of the page's address.
	Tenant string
	// API is the typed admin client acting as the signed-in person (see the package doc).
	API *adminclient.Client
	// Principal is the signed-in person as the API sees them.
	Principal adminapi.Principal

	c    *Console
	sess *session
}

// Var returns a path variable of the route ("did").
func (c *Ctx) Var(name string) string { return mux.Vars(c.R)[name] }

// CanWrite reports whether the signed-in role may change objects; pages show write controls
// only then (the API refuses a reader's writes in any case).
func (c *Ctx) CanWrite() bool { return c.Principal.CanWrite() }

// Path returns the console address of a page of this tenant: Path("/devices", id) is
// /console/t/{tid}/devices/{id}, each extra segment path-escaped.
func (c *Ctx) Path(p string, segments ...string) string {
	out := Prefix + "t/" + url.PathEscape(c.Tenant) + p
	for _, s := range segments {
		out += "/" + url.PathEscape(s)
	}
	return out
}

// Render answers 200 with the page template name ("devices.html") around data.
func (c *Ctx) Render(name string, data any) error {
	return c.RenderStatus(http.StatusOK, name, data)
}

// RenderStatus is Render with another status (a form shown again with its errors: 422).
func (c *Ctx) RenderStatus(status int, name string, data any) error {
	return c.c.render(c.W, c.R, status, name, c.view(data))
}

// Redirect answers a POST with 303 to path, showing flash as a notice on the next page.
func (c *Ctx) Redirect(path, flash string) error {
	if flash != "" {
		setFlash(c.W, flash)
	}
	http.Redirect(c.W, c.R, path, http.StatusSeeOther)
	return nil
}

// View is what every template gets: the page's data in Data and the frame around it.
type View struct {
	Data      any
	Tenant    string
	Principal adminapi.Principal
	CanWrite  bool
	CSRF      string
	Flash     string
	Nav       []NavItem
	// Base is /console/t/{tid} (no trailing slash), for links in templates.
	Base string
}

// NavItem is a navigation link.
type NavItem struct {
	Title, Href string
	Current     bool
}

func (c *Ctx) view(data any) View {
	v := View{Data: data, Tenant: c.Tenant, Principal: c.Principal, CanWrite: c.CanWrite(), Base: c.Path("")}
	if c.sess != nil {
		v.CSRF = c.sess.CSRF
	}
	v.Flash = takeFlash(c.W, c.R)
	for _, s := range sections() {
		href := c.Path(s.Path)
		cur := c.R.URL.Path == href || strings.HasPrefix(c.R.URL.Path, href+"/")
		v.Nav = append(v.Nav, NavItem{Title: s.Title, Href: href, Current: cur})
	}
	return v
}

// StatusError is an error page with a status and a message for the person.
type StatusError struct {
	Status  int
	Message string
}

func (e *StatusError) Error() string { return e.Message }

// NotFound is the error of a page whose object does not exist (or is not visible).
func NotFound(what string) error {
	return &StatusError{Status: http.StatusNotFound, Message: what + " not found"}
}

// errorStatus maps a handler's error to the status and message shown: the API's refusals
// keep their status and message; anything else is a 500 whose detail stays in the log.
func errorStatus(err error) (int, string, bool) {
	if se, ok := errors.AsType[*StatusError](err); ok {
		return se.Status, se.Message, true
	}
	if ae, ok := errors.AsType[*adminclient.Error](err); ok {
		return ae.Status, ae.Message, true
	}
	return http.StatusInternalServerError, "something went wrong; the server log has the details", false
}
