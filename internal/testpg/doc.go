// Package testpg gives tests a PostgreSQL store to run on: the backend a test harness should
// use (HELLOMDM_TEST_BACKEND), a fresh schema per test on the server named by
// HELLOMDM_TEST_POSTGRES (dropped when the test ends), and a random store key.
//
// It is for tests only (it imports testing): the server and end-to-end harnesses call
// OpenStore so every behaviour test that runs on bbolt also runs on PostgreSQL when CI sets
// HELLOMDM_TEST_BACKEND=postgres.
package testpg
