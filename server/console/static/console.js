// hellomdm console: the little the pages need beyond HTML. Loaded from this origin only
// (the Content-Security-Policy forbids inline script); every page works without it.
"use strict";

document.addEventListener("DOMContentLoaded", function () {
  // A button or form with data-confirm asks before it submits (retire, delete).
  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      if (!window.confirm(form.getAttribute("data-confirm"))) {
        ev.preventDefault();
      }
    });
  });
});
