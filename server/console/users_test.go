package console_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"

	"github.com/hellomdm/hellomdm/internal/consoletest"
	"github.com/hellomdm/hellomdm/pinreset/idp"
	"github.com/hellomdm/hellomdm/server/adminapi/wire"
)

// An admin finds and creates users, and enrolls a user's authenticator app: the page shows
// the otpauth:// URI as a QR code (the very PNG of that URI) and the secret as text, and
// codes made from the secret shown are the codes the identity provider accepts.
func TestBrowserUserTOTPQRCode(t *testing.T) {
	e := consoletest.Start(t)
	ada := e.User("ada@contoso.com", "admin")
	b := consoletest.NewBrowser(t, e)
	b.SignIn(ada)

	b.Go(usersPath)
	b.CheckLabels()
	b.CheckKeyboard()
	b.Type("#upn", "Lin.Yu@contoso.com")
	b.Type("#display-name", "Lin Yu")
	b.Type("#new-password", "short")
	b.Submit("#new-password", "weak-password")
	if got := b.Text("#form-error"); !strings.Contains(got, "at least 8 characters") {
		t.Fatalf("weak password: %q", got)
	}
	if consoletest.Eval[string](b, `document.querySelector("#new-password").value`) != "" {
		t.Error("the password is sent back to the page")
	}
	b.Type("#new-password", "a long passphrase")
	b.Submit("#new-password", "user-created")
	if got := b.Text("h1"); got != "Lin Yu" {
		t.Fatalf("after create the page is %q", got)
	}
	uid := strings.TrimPrefix(b.Location(), usersPath+"/")
	if got := b.Text("#totp-state"); got != "not enrolled" {
		t.Errorf("authenticator %q", got)
	}
	b.CheckLabels()
	b.CheckKeyboard()
	b.Submit("#enroll-totp", "totp-enrolled")
	b.CheckLabels()
	b.CheckKeyboard()

	src := consoletest.Eval[string](b, `document.querySelector("#totp-qr").src`)
	if w := consoletest.Eval[int](b, `document.querySelector("#totp-qr").naturalWidth`); w != 256 {
		t.Errorf("the QR image is %d pixels wide", w)
	}
	uri := consoletest.Eval[string](b, `document.querySelector("#totp-uri").textContent`)
	secret := strings.ReplaceAll(b.Text("#totp-secret"), " ", "")
	key, err := otp.NewKeyFromURL(uri)
	if err != nil || !strings.HasPrefix(uri, "otpauth://totp/") || key.Secret() != secret || key.AccountName() != "lin.yu@contoso.com" {
		t.Fatalf("URI %q (%v), secret %q", uri, err, secret)
	}
	img, err := key.Image(256, 256)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	if err := png.Encode(&want, img); err != nil {
		t.Fatal(err)
	}
	if got, ok := strings.CutPrefix(src, "data:image/png;base64,"); !ok || got != base64.StdEncoding.EncodeToString(want.Bytes()) {
		t.Fatalf("the QR code is not the PNG of the URI shown: %.60q", src)
	}
	if got := b.Text("#totp-state"); got != "enrolled" {
		t.Errorf("after enrolment the page says %q", got)
	}
	// Leaving the page and coming back shows no secret again.
	b.Go(usersPath + "/" + uid)
	if b.Count("#totp-qr") != 0 || b.Count("#totp-secret") != 0 {
		t.Error("the secret is shown again")
	}
	// The list finds the user by part of the display name.
	b.Go(usersPath + "?search=" + url.QueryEscape("yu"))
	if n := b.Count("#users tbody tr"); n != 1 || !strings.Contains(b.Text("#users"), "lin.yu@contoso.com") {
		t.Fatalf("search yu: %q", b.Text("#users"))
	}

	// The secret shown is the one the identity provider checks: Lin signs in with a code
	// made from it.
	raw, err := idp.DecodeTOTPSecret(secret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Admin.SetAdminRole(context.Background(), consoletest.TenantID, uid, wire.AdminRoleRequest{Role: "reader"}); err != nil {
		t.Fatal(err)
	}
	b.Submit(".signout button", "signed-out")
	b.Go("/console/login")
	b.Type("#upn", "lin.yu@contoso.com")
	b.Type("#password", "a long passphrase")
	b.Type("#otp", idp.TOTPCode(raw, time.Now()))
	b.Submit("#otp", "lin-signed-in")
	if got := b.Text(".who"); b.Location() != "/console/t/"+consoletest.TenantID+"/" || !strings.Contains(strings.ToLower(got), "lin.yu@contoso.com") {
		t.Fatalf("signing in with the code of the secret shown: at %s, banner %q", b.Location(), got)
	}
}
