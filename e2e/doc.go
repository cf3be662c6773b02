// Package e2e holds tests that run the real eddy binary, and for the external-cluster
// test a real nats-server, as separate processes, and kill them with SIGKILL.
package e2e
