// Package verify checks eddy's guarantees end to end against the real binary: it runs
// `eddy serve` as a child process, drives it through the HTTP API, kills it with SIGKILL
// and restarts it, then checks what the job wrote. The e2e tests and `eddy verify` run
// the same code.
//
// ExactlyOnce is the check of the exactly-once guarantee for a job that reads a stream
// and writes one: its Config says how hard to push, its Report holds the verdict.
package verify
