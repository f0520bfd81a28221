package console_test

import (
	"strings"
	"testing"

	"github.com/hellomdm/hellomdm/internal/consoletest"
)

// A user with password and one-time code signs in through the form by keyboard, lands on
// the overview; the sign-in page and the overview have labels and work by keyboard.
func TestBrowserSignIn(t *testing.T) {
	e := consoletest.Start(t)
	b := consoletest.NewBrowser(t, e)
	ada := e.User("ada@contoso.com", "admin")
	b.Go("/console/login")
	b.CheckLabels()
	b.CheckKeyboard()
	if got := b.SignIn(ada); got != "/console/t/"+consoletest.TenantID+"/" {
		t.Fatalf("after sign-in the browser is at %q", got)
	}
	if got := b.Text("h1"); got != "Contoso" {
		t.Errorf("overview heading %q", got)
	}
	if got := b.Text(".who"); !strings.Contains(got, "ada@contoso.com") || !strings.Contains(got, "admin") {
		t.Errorf("signed-in banner %q", got)
	}
	b.CheckLabels()
	b.CheckKeyboard()
}
