// Package adminapi is hellomdm's admin REST API under /api/v1: tenants, users, admin tokens,
// devices and their OMA-DM commands, groups, configuration profiles in Intune's JSON shapes
// with their assignments and reports, Group Policy import, PIN reset onboarding, the audit
// log and the store backup; its OpenAPI document at /api/v1/openapi.json, and /metrics for
// unscoped admin tokens.
//
// Every route runs behind the bearer token check (auth.go: role, tenant and scope tags of the
// token, refusals recorded in the tenant's audit log) and the Idempotency-Key middleware
// (idempotency.go). A change is written with its audit events in one store transaction
// (store.Writes.Write). Answers are JSON; lists are {"value":[...]} and errors
// {"error":{"code","message"}} (WriteError).
//
// The package works on the store interfaces only and knows nothing of the session engine or
// of TLS: server builds it (New) and mounts its routes (Routes) on the HTTPS listener. The
// JSON it takes and answers is declared once, in package wire (server/adminapi/wire), which
// its typed client (server/adminapi/client) uses too.
package adminapi
