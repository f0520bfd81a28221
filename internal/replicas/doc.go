// Package replicas holds the scale-out acceptance test of issue 9: three `hellomdm serve`
// processes over one PostgreSQL database behind an in-test TCP load balancer, a fleet of
// simulated devices whose sessions land on random replicas, a profile assigned on one
// replica, a replica killed mid-run, and failed sign-ins spread over the replicas meeting
// one shared per-user limit. It has no non-test code; the test skips unless
// HELLOMDM_TEST_POSTGRES names a PostgreSQL server.
package replicas
