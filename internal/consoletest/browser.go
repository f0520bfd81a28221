package consoletest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// Environment variables of the browser harness.
const (
	// EnvChromium names the browser binary (default: chromium on PATH).
	EnvChromium = "HELLOMDM_CHROMIUM"
	// EnvRequireBrowser, when set, makes a missing browser a failure instead of a skip.
	EnvRequireBrowser = "HELLOMDM_REQUIRE_BROWSER"
	// EnvArtifacts is the directory screenshots go to.
	EnvArtifacts = "HELLOMDM_TEST_ARTIFACTS"
	// EnvREADMEShots, when set, makes READMEScreenshot write the README's screenshots.
	EnvREADMEShots = "HELLOMDM_UPDATE_SCREENSHOTS"
)

// FindChromium returns the browser's path, or "" when there is none.
func FindChromium() string {
	if p := os.Getenv(EnvChromium); p != "" {
		if _, err := os.Stat(p); err != nil {
			return ""
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser is one headless Chromium (its own profile: its own cookies) on an Env.
type Browser struct {
	t   testing.TB
	env *Env
	ctx context.Context
	dir string
	n   int
}

// NewBrowser starts Chromium for t, or skips t when there is none (fails it when
// HELLOMDM_REQUIRE_BROWSER is set). The browser ends with t; when t failed, a screenshot
// of the page it was on is saved first.
func NewBrowser(t testing.TB, env *Env) *Browser {
	t.Helper()
	path := FindChromium()
	if path == "" {
		if os.Getenv(EnvRequireBrowser) != "" {
			t.Fatalf("no Chromium (install the Debian package chromium, or set %s) and %s is set: the browser tests must run", EnvChromium, EnvRequireBrowser)
		}
		t.Skipf("browser test skipped: no Chromium found (install the Debian package chromium, or set %s)", EnvChromium)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		// The server's certificate is issued by its own test CA, which this browser profile
		// does not know; the connection is still TLS (Secure cookies are sent).
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.Flag("lang", "en-US"),
	)
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium refuses to run as root with its sandbox
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	b := &Browser{t: t, env: env, ctx: ctx, dir: artifactDir(t)}
	_ = os.RemoveAll(b.dir)                  // the screenshots of an earlier run
	if err := chromedp.Do(ctx); err != nil { // starts the browser
		cancel()
		cancelAlloc()
		t.Fatalf("starting Chromium (%s): %v", path, err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b.Screenshot("failure")
		}
		cancel()
		cancelAlloc()
	})
	return b
}

// artifactDir is where t's screenshots go.
func artifactDir(t testing.TB) string {
	root := os.Getenv(EnvArtifacts)
	if root == "" {
		root = filepath.Join(os.TempDir(), "hellomdm-console-artifacts")
	}
	name := regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(t.Name(), "_")
	return filepath.Join(root, name)
}

// do runs steps with a one-minute bound, failing the test on an error.
func (b *Browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("browser: %s: %v", what, err)
	}
}

// Eval evaluates a JavaScript expression in the page and decodes its value into T.
func Eval[T any](b *Browser, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("browser: evaluating %.80q: %v", js, err)
	}
	return v
}

// Eval evaluates a JavaScript expression in the page and returns its value as a string
// (use the function Eval for other types).
func (b *Browser) Eval(js string) string {
	b.t.Helper()
	v := Eval[any](b, js)
	if s, ok := v.(string); ok {
		return s
	}
	return fmt.Sprint(v)
}

// Go opens path (under the server, e.g. /console/) and saves a screenshot of the page,
// named after the path.
func (b *Browser) Go(path string) {
	b.t.Helper()
	b.do("opening "+path, chromedp.Navigate(b.env.URL+path))
	b.Screenshot(path)
}

// Location returns the path and query of the page the browser is on.
func (b *Browser) Location() string {
	b.t.Helper()
	loc := Eval[string](b, `location.href`)
	u, err := url.Parse(loc)
	if err != nil {
		b.t.Fatalf("browser location %q: %v", loc, err)
	}
	return u.RequestURI()
}

// Text returns the text of the first element matching the CSS selector.
func (b *Browser) Text(css string) string {
	b.t.Helper()
	return Eval[string](b, fmt.Sprintf(`(function(){const e=document.querySelector(%q); return e ? e.innerText : "";})()`, css))
}

// Count returns how many elements match the CSS selector.
func (b *Browser) Count(css string) int {
	b.t.Helper()
	return Eval[int](b, fmt.Sprintf(`document.querySelectorAll(%q).length`, css))
}

// Type types text into the field matching the CSS selector, key by key.
func (b *Browser) Type(css, text string) {
	b.t.Helper()
	b.do("typing into "+css, chromedp.SendKeys(chromedp.CSS(css), text))
}

// Press sends keys to the focused element (kb.Enter, kb.Tab, or text); when they open a
// new page within two seconds, it waits for that page to load.
func (b *Browser) Press(keys string) {
	b.t.Helper()
	b.markPage()
	b.do("pressing keys", chromedp.KeyEvent(keys))
	b.waitNewPage(2*time.Second, false)
}

// markPage marks the current document, so that waitNewPage can tell a new one.
func (b *Browser) markPage() {
	b.t.Helper()
	Eval[bool](b, `(window.__hmOld = true, true)`)
}

// waitNewPage waits until a new document (not marked by markPage) has loaded; when none comes
// within d, it fails the test if must, else returns.
func (b *Browser) waitNewPage(d time.Duration, must bool) {
	b.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
		done, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`window.__hmOld === undefined && document.readyState === "complete"`))
		cancel()
		if err == nil && done {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	if must {
		b.t.Fatalf("browser: no new page loaded within %s", d)
	}
}

// Submit submits the form of the element matching css by focusing it and pressing Enter (as
// a keyboard user does), waits for the next page and saves its screenshot as name.
func (b *Browser) Submit(css, name string) {
	b.t.Helper()
	b.do("focusing "+css, chromedp.Focus(chromedp.CSS(css)))
	b.markPage()
	b.do("pressing Enter", chromedp.KeyEvent(kb.Enter))
	b.waitNewPage(time.Minute, true)
	b.Screenshot(name)
}

// SignIn signs u in on the sign-in page, by keyboard, and returns the address it landed on.
func (b *Browser) SignIn(u User) string {
	b.t.Helper()
	b.Go("/console/login")
	b.Type("#upn", u.UPN)
	b.Type("#password", u.Password)
	b.Type("#otp", u.Code())
	b.Submit("#otp", "signed-in")
	return b.Location()
}

// SignInToken signs in with an admin API token.
func (b *Browser) SignInToken(token string) string {
	b.t.Helper()
	b.Go("/console/login")
	b.Type("#token", token)
	b.Submit("#token", "signed-in-token")
	return b.Location()
}

// CSRF returns the CSRF token of the page's forms ("" when it has none).
func (b *Browser) CSRF() string {
	b.t.Helper()
	return Eval[string](b, `(function(){const e=document.querySelector('input[name="csrf"]'); return e ? e.value : "";})()`)
}

// Post sends a POST from the page (fetch, with the browser's cookies), as a page of the
// console's origin could: form holds the fields (add csrf yourself). It returns the status
// of the answer, redirects not followed.
func (b *Browser) Post(path string, form url.Values) int {
	b.t.Helper()
	js := fmt.Sprintf(`fetch(%q, {method: "POST", redirect: "manual", credentials: "same-origin",
		headers: {"Content-Type": "application/x-www-form-urlencoded"}, body: %q}).then(r => r.type === "opaqueredirect" ? 303 : r.status)`,
		path, form.Encode())
	ctx, cancel := context.WithTimeout(b.ctx, time.Minute)
	defer cancel()
	status, err := chromedp.Run(ctx, chromedp.Evaluate[int](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("browser: POST %s: %v", path, err)
	}
	return status
}

// Screenshot saves the whole page as a PNG in the test's artifact directory and returns its
// path ("" when it could not be taken, which is logged).
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	b.n++
	clean := strings.Trim(regexp.MustCompile(`[^A-Za-z0-9._-]+`).ReplaceAllString(name, "-"), "-")
	path := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.n, clean))
	if err := os.MkdirAll(b.dir, 0o755); err == nil {
		err = os.WriteFile(path, png, 0o644)
	}
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	return path
}

// chromedpKey is a key press on the focused element, without waiting for a page load.
func chromedpKey(keys string) chromedp.Action[chromedp.Void] { return chromedp.KeyEvent(keys) }

// READMEScreenshot saves the whole page (1280 wide) as docs/<name> of the repository, the
// screenshots README.md shows, when HELLOMDM_UPDATE_SCREENSHOTS is set; otherwise it does
// nothing. Run: HELLOMDM_UPDATE_SCREENSHOTS=1 go test -run TestBrowserDevices ./server/console/
func READMEScreenshot(b *Browser, name string) {
	b.t.Helper()
	if os.Getenv(EnvREADMEShots) == "" {
		return
	}
	ctx, cancel := context.WithTimeout(b.ctx, 30*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("README screenshot %s: %v", name, err)
	}
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	if err != nil {
		b.t.Fatalf("finding the repository: %v", err)
	}
	path := filepath.Join(strings.TrimSpace(string(out)), "docs", name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Fatalf("README screenshot: %v", err)
	}
	b.t.Logf("wrote %s", path)
}
