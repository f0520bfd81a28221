// Package console is hellomdm's admin web console, served at /console/ on the server's HTTPS
// listener: server-rendered pages (html/template, templates and static files embedded), plain
// CSS and a little plain JavaScript, no build step.
//
// # Who may sign in
//
// At /console/login (form fields upn, password, otp, token and the hidden csrf) either a user
// of the built-in identity provider who holds an admin role (store.User.AdminRole) signs in
// with UPN, password and one-time code, through the identity provider, so its per-user limit
// of failed sign-ins applies and the sign-in is in the tenant's audit log; or an admin API
// token is pasted. A console user must have a one-time code enrolled: the console is an admin
// surface and takes no password alone.
//
// # Sessions
//
// A session is a random 256-bit secret in the cookie __Host-hellomdm-console (HttpOnly;
// Secure; SameSite=Strict; Path=/), stored in the store under its SHA-256
// (store.ConsoleSessions), so every replica knows it and sign-out ends it everywhere. It ends
// after IdleTimeout without a request (counted with a granularity of one minute: the last-use
// time is written at most once a minute) and at the latest AbsoluteTimeout after sign-in. On
// every request the user (or token) is read again: a revoked role, a disabled user or a
// deleted token ends the session at once.
//
// # What a page may do
//
// Every page reads and changes through the typed admin client (server/adminapi/client), whose
// transport calls the admin API's handlers in this process (adminapi.API.InProcess) acting as
// the signed-in person (adminapi.ActingAs): the same roles, scope tags, tenant isolation,
// validation and audit events as the REST API, with the person (UPN, or the token's name) as
// the audit actor. A reader sees no write controls, and a write it forges is refused by the
// API (403). Every state-changing request (any method but GET and HEAD) must carry the
// session's CSRF token in the form field csrf, or it is refused (403) before any handler runs.
//
// Every answer carries Content-Security-Policy (scripts and styles from this origin only: no
// inline script or style, so pages draw charts with SVG attributes rather than style
// attributes), X-Frame-Options: DENY, X-Content-Type-Options: nosniff,
// Referrer-Policy: same-origin and, for pages, Cache-Control: no-store.
//
// # Adding a page
//
// A page is one Go file that calls Register from init with its navigation Section (or nil for
// pages reached from another page) and its Routes, and one template file in templates/ that
// defines "title" and "content" (see overview.go and templates/overview.html). Routes live
// under /console/t/{tid}/, the tenant being part of every page's address.
package console
