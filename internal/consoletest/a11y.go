package consoletest

import (
	"strings"

	"github.com/chromedp/chromedp/kb"
)

// unlabelledJS lists the form controls of the page that have no accessible name from a
// label: a <label for>, an enclosing <label>, aria-label or aria-labelledby (hidden inputs
// and buttons, which are named by their text, are not form fields to label).
const unlabelledJS = `(function(){
  const out = [];
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (el.type === "hidden" || el.type === "submit" || el.type === "button") continue;
    const named = (el.id && document.querySelector('label[for="' + CSS.escape(el.id) + '"]')) ||
      el.closest("label") || (el.getAttribute("aria-label") || "").trim() ||
      (el.getAttribute("aria-labelledby") || "").split(/\s+/).some(id => id && document.getElementById(id));
    if (!named) out.push(el.outerHTML.slice(0, 160));
  }
  for (const el of document.querySelectorAll("button")) {
    if (!(el.innerText || "").trim() && !(el.getAttribute("aria-label") || "").trim()) out.push(el.outerHTML.slice(0, 160));
  }
  return out;
})()`

// CheckLabels fails the test for every form control of the current page without a label,
// and every button without a name.
func (b *Browser) CheckLabels() {
	b.t.Helper()
	for _, el := range Eval[[]string](b, unlabelledJS) {
		b.t.Errorf("%s: form control without a label: %s", b.Location(), el)
	}
}

// focusablesJS lists the page's controls a keyboard user must reach, each as a key
// (tag#id.name:text) the focus walk below reports the same way.
const focusablesJS = `(function(){
  const key = el => el.tagName.toLowerCase() + "#" + (el.id || "") + "." + (el.getAttribute("name") || "") + ":" + ((el.innerText || el.value || el.getAttribute("href") || "").trim().slice(0, 40));
  window.__hmKey = key;
  const out = [];
  for (const el of document.querySelectorAll('a[href], button, input, select, textarea, summary, [tabindex]')) {
    if (el.type === "hidden" || el.disabled || el.getAttribute("tabindex") === "-1") continue;
    const r = el.getBoundingClientRect();
    if (r.width === 0 && r.height === 0 && !el.classList.contains("skip")) continue;
    out.push(key(el));
  }
  return out;
})()`

// CheckKeyboard walks the current page round with the Tab key and fails the test when a
// control a mouse user can use is never focused (not reachable, or the focus is trapped
// before the walk gets back to its start), or when a positive tabindex reorders the walk.
func (b *Browser) CheckKeyboard() {
	b.t.Helper()
	want := Eval[[]string](b, focusablesJS)
	if n := Eval[int](b, `Array.from(document.querySelectorAll("[tabindex]")).filter(e => e.tabIndex > 0).length`); n > 0 {
		b.t.Errorf("%s: %d elements with a positive tabindex (the Tab order must follow the page)", b.Location(), n)
	}
	// The walk goes round once: from wherever the focus is, past the end of the page (where
	// the focus leaves the document) and on from the top, until it is back where it began.
	seen := map[string]bool{}
	first := ""
	for i := 0; i < 2*len(want)+4; i++ {
		b.do("pressing Tab", chromedpKey(kb.Tab))
		k := Eval[string](b, `document.activeElement && document.activeElement !== document.body ? window.__hmKey(document.activeElement) : ""`)
		if k == "" {
			continue
		}
		if k == first {
			break
		}
		if first == "" {
			first = k
		}
		seen[k] = true
	}
	var missed []string
	for _, k := range want {
		if !seen[k] {
			missed = append(missed, k)
		}
	}
	if len(missed) > 0 {
		b.t.Errorf("%s: not reachable with the Tab key: %s", b.Location(), strings.Join(missed, "; "))
	}
}
