// Package e2e holds hellomdm's full-stack tests: a real server (server.Open with
// server.Services, TLS on a loopback port) driven by the real device agent (package device).
// It has no production code.
package e2e
