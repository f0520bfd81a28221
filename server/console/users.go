package console

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"html/template"
	"image/png"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/pquerna/otp"

	adminclient "github.com/hellomdm/hellomdm/server/adminapi/client"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// Users of the built-in identity provider (Entra ID's Users): the list with search by UPN or
// display name and paging, creating a user (UPN, display name, password), a user's page, and
// enrolling the user's authenticator app: the API's TOTP enrolment answered with its
// otpauth:// URI as a QR code to scan and the secret as text for manual entry, shown once
// (the page answering the POST is not stored: Cache-Control no-store). Creating users and
// enrolling authenticators are admin tasks in the API, so only an admin sees those controls.

func init() {
	Register(&Section{Title: "Users", Path: "/users", Order: 50},
		Route{Method: http.MethodGet, Path: "/users", Handle: usersPage},
		Route{Method: http.MethodPost, Path: "/users", Handle: usersCreate},
		Route{Method: http.MethodGet, Path: "/users/{uid}", Handle: userPage},
		Route{Method: http.MethodPost, Path: "/users/{uid}/totp", Handle: userEnrollTOTP},
	)
}

// usersData is the user list.
type usersData struct {
	Search      string
	Users       []wire.User
	Next, First string
	// UPN and DisplayName are the create form's values shown again with FormError (never
	// the password).
	UPN, DisplayName, FormError string
	Domains                     []string
}

func usersPage(c *Ctx) error { return c.usersList(http.StatusOK, usersData{}) }

func (c *Ctx) usersList(status int, d usersData) error {
	q := c.R.URL.Query()
	d.Search = strings.TrimSpace(q.Get("search"))
	skip := q.Get("skip")
	page, err := c.API.SearchUsers(c.R.Context(), c.Tenant, adminclient.ListQuery{Search: d.Search, Top: listPageSize, SkipToken: skip})
	if err != nil {
		return err
	}
	d.Users = page.Value
	d.Next, d.First = pageLinks(c.Path("/users"), url.Values{"search": {d.Search}}, skip, page.NextSkipToken)
	if c.isAdmin() {
		t, err := c.API.Tenant(c.R.Context(), c.Tenant)
		if err != nil {
			return err
		}
		d.Domains = t.VerifiedDomains
	}
	return c.RenderStatus(status, "users.html", d)
}

// isAdmin reports whether the signed-in role is admin: the API keeps identities (users and
// their authenticators) to admins.
func (c *Ctx) isAdmin() bool { return c.Principal.Role == "admin" }

func usersCreate(c *Ctx) error {
	req := wire.UserRequest{
		UserPrincipalName: strings.TrimSpace(c.R.PostFormValue("upn")),
		DisplayName:       strings.TrimSpace(c.R.PostFormValue("displayName")),
	}
	req.PasswordProfile.Password = c.R.PostFormValue("password")
	u, err := c.API.CreateUser(c.R.Context(), c.Tenant, req)
	if msg, ok := formError(err); ok {
		return c.usersList(http.StatusUnprocessableEntity, usersData{UPN: req.UserPrincipalName, DisplayName: req.DisplayName, FormError: msg})
	}
	if err != nil {
		return err
	}
	return c.Redirect(c.Path("/users", u.ID), "User "+u.UserPrincipalName+" created.")
}

// userData is a user's page; TOTP is set on the answer of an enrolment only.
type userData struct {
	User wire.User
	TOTP *totpView
}

// totpView is a fresh authenticator enrolment as shown once.
type totpView struct {
	Secret string
	// Grouped is the secret in groups of four characters, easier to type.
	Grouped string
	URI     string
	// QR is the otpauth:// URI as a QR code, a PNG data: URL (the CSP allows img-src data:).
	QR template.URL
	// Issuer, Account, Digits and Period are what the URI tells the app.
	Issuer, Account string
	Digits, Period  string // from the URI, with the app's defaults (6 digits, 30 seconds)
}

func userPage(c *Ctx) error {
	u, err := c.API.User(c.R.Context(), c.Tenant, c.Var("uid"))
	if err != nil {
		return err
	}
	return c.Render("users_user.html", userData{User: u})
}

func userEnrollTOTP(c *Ctx) error {
	ctx := c.R.Context()
	t, err := c.API.EnrollTOTP(ctx, c.Tenant, c.Var("uid"))
	if err != nil {
		return err
	}
	view, err := newTOTPView(t)
	if err != nil {
		return err
	}
	u, err := c.API.User(ctx, c.Tenant, c.Var("uid"))
	if err != nil {
		return err
	}
	return c.Render("users_user.html", userData{User: u, TOTP: view})
}

// qrSize is the QR code's size in pixels: large enough for a phone camera at arm's length.
const qrSize = 256

// newTOTPView renders an enrolment's URI as a QR code (github.com/pquerna/otp, which the
// identity provider uses for the codes, draws it with github.com/boombuler/barcode).
func newTOTPView(t wire.TOTP) (*totpView, error) {
	key, err := otp.NewKeyFromURL(t.URI)
	if err != nil {
		return nil, fmt.Errorf("console: the enrolment's URI: %w", err)
	}
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return nil, fmt.Errorf("console: drawing the QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("console: encoding the QR code: %w", err)
	}
	v := &totpView{Secret: t.Secret, URI: t.URI, Issuer: key.Issuer(), Account: key.AccountName(),
		QR: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()))}
	var groups []string
	for s := t.Secret; s != ""; {
		n := min(4, len(s))
		groups, s = append(groups, s[:n]), s[n:]
	}
	v.Grouped = strings.Join(groups, " ")
	v.Digits, v.Period = key.Digits().String(), strconv.FormatUint(key.Period(), 10)
	return v, nil
}
