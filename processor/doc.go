// Package processor runs one task per assigned input partition: decode, operators, emit, and
// the exactly-once commit protocol that ties outputs, changelog records and input offsets
// into one Kafka transaction before the task's Pebble batch is applied.
//
// It must never import source, sinks, replay or the franz-go client: it defines the small
// interfaces it needs (a record source, a transactional sink) and cmd/kappa plugs the
// concrete types in. It never applies a state batch before Kafka has confirmed the commit
// that covers it.
package processor
