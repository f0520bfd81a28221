// Package server is hellomdm's HTTPS front: it assembles the OMA-DM session engine at
// /ManagementServer/MDM.svc (server/omadm), the admin REST API under /api/v1 with its OpenAPI
// document and /metrics (server/adminapi), and the enrollment, identity-provider and
// PIN-reset handlers on one listener. It verifies the device's client certificate and hands
// the engine the message; it opens the store (the one package besides cmd that names a
// backend), the CA and the server certificate, and runs the background loops (App).
package server
