// Package kafkaconf turns Kafka security settings (TLS, mutual TLS, SASL PLAIN and
// SCRAM-SHA-256/512) into franz-go client options, from flags and the environment, so that
// every Kafka client Kappa makes connects the same way.
//
// It must never put a credential where it could be seen: the SASL password is taken only
// from the environment ([EnvPassword]) or a file, never from a flag value (flags show in ps
// and shell history); it is held as a [Secret], which prints as "[redacted]"; and no error
// this package returns contains it or the contents of a key file.
package kafkaconf
