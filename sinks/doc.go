// Package sinks writes Kappa's outputs: Kafka topics inside the task's transaction (outputs,
// changelog, late records, dead letters) and files for replay and development.
//
// It must never decide what to emit or when to commit: processor drives it through the
// interfaces processor defines.
package sinks
