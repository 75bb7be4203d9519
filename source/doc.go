// Package source reads Kafka input: it joins the consumer group, turns assigned partitions
// into per-partition tasks, and fetches records read_committed.
//
// It owns the consumer side of the franz-go client. It must never run operators, touch
// state, or commit offsets outside the transaction protocol that processor drives; processor
// sees it only through the small interfaces processor defines.
package source
