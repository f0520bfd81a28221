package main

import (
	"github.com/hellomdm/hellomdm/server"
	"github.com/hellomdm/hellomdm/server/omadm"
)

// wireServices mounts the enrollment, identity-provider and PIN-reset services onto the
// server. They are built over the same store and CA.
func wireServices(app *server.App) ([]server.Mount, omadm.PolicyHook, error) {
	return server.Services(app)
}
