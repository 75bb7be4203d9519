// Package eostest holds the exactly-once reliability tests of ../shared/TESTPLAN.md that run
// the real kappa binary: T1 (kill -9 of processes in open transactions), T2 (instances
// joining and leaving under load) and T9 (hopping windows with disorder and late records under
// kill -9). They build cmd/kappa, start several processes against one
// broker, inject faults, and end with the verifier's verdict line.
//
// The package has no product code; it must never be imported. Sizes come from the
// environment (see eos_test.go), so `make test` runs a small run on the in-process broker and
// `make test-eos` a full one against the broker in KAFKA_BROKERS.
package eostest
