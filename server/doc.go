// Package server is hellomdm's HTTPS front: the OMA-DM session engine at
// /ManagementServer/MDM.svc (MS-MDM), the admin REST API under /api/v1, and the wiring of the
// enrollment, identity-provider and PIN-reset handlers onto one listener.
//
// The session engine itself is server/omadm: this package verifies the device's client
// certificate and hands the engine the message. It also opens the store and runs the
// background loops (App).
package server
