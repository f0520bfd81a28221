// Package replicas holds the scale-out acceptance test of issue 9: three `hellomdm serve`
// processes over one PostgreSQL database behind an in-test TCP load balancer, a fleet of
// simulated devices whose sessions land on random replicas, a profile assigned on one
// replica, and a replica killed mid-run. It has no non-test code; the test skips unless
// HELLOMDM_TEST_POSTGRES names a PostgreSQL server.
package replicas
