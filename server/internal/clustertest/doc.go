// Package clustertest holds the scale-out test (make test-cluster, issue 8): three real
// gatehouse processes on loopback ports sharing one PostgreSQL database and Redis, behind a
// small round-robin reverse proxy in the test. The test is behind the build tag "cluster", so
// plain go test ./... does not run it; docs/operations.md says what it proves.
package clustertest
