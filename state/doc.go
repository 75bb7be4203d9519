// Package state is the local state store: Pebble on disk under a documented key layout
// (state/FORMAT.md), per-partition indexed batches, the applied {input offset, changelog
// offset} kept atomically with the data, and restore from the changelog.
//
// Kafka is the source of truth and Pebble a cache of it. This package must never import the
// Kafka client (the changelog reaches it as records through an interface) and never decides
// on its own when a batch is committed: processor applies a batch only after the covering
// Kafka transaction has committed.
package state
