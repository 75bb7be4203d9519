// Package kafkatest gives a test a Kafka cluster with one call, and unique topic and group
// names to use on it.
//
// Which cluster a test gets is decided by the environment, so the same test runs hermetically
// on a laptop and against a real Apache Kafka broker in CI:
//
//   - KAFKA_BROKERS=host:port[,host:port]: that real cluster (see `make kafka-up`);
//   - else KAPPA_TESTCONTAINERS=1 and a Docker engine that answers: a Kafka container started
//     with testcontainers-go, shared by the tests of one package (see [Main]);
//   - else an in-process franz-go kfake cluster, new for each test.
//
// [New] returns whichever of these the environment names. [Real] returns a real broker (the
// first two) or skips the test with the reason printed; with KAPPA_REQUIRE_REAL_KAFKA=1 both
// turn that skip (or the in-process fallback) into a test failure, so a CI job that means to
// test against real Kafka cannot silently test against nothing.
//
// For security tests, [NewPKI] generates a throwaway CA with server and client certificates;
// pass [PKI.ServerConfig] to [NewInProcess] with kfake.TLS (and kfake.EnableSASL) and set
// [Broker.ClientOpts] so the Broker's own clients connect too.
//
// The package owns test brokers and test naming only. It must never be imported by non-test
// code: the product's embedded broker is wired in cmd/kappa, not here.
package kafkatest
