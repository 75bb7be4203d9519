// Package replay reprocesses a bounded range of the retained log through the same processor
// and operators as the live service: it plans per-partition offset ranges from times,
// checks retention, writes a versioned output and verifies it against the live output.
//
// A replay assigns the input partitions directly (no consumer group), reads them
// read_committed from a start offset to an end offset (exclusive) and runs the pipeline's
// processor over them with a fresh, temporary state directory. At the end of the range the
// processor closes every window (the watermark goes to +inf). Outputs go to versioned topics
// (<topic>.vN for the output, dead-letter, late and alert topics) through an idempotent,
// non-transactional producer, or to a JSON-lines file renamed into place at the end. The
// changelog is never written: replay state is scratch.
//
// # Warm-up
//
// Windowed state needs records from before the range. For a time range [T1, T2) a replay
// starts reading at the first offset at or after T1 - W, where W, the warm-up, is the largest
// window size (the gap of a session window) plus its grace plus the input's
// max_out_of_orderness ([WarmUpFor]). Records before T1's offset build state only: they
// write no output, late or dead-letter record; window results of windows that end before T1
// are not written; a window that ends at or after T1 is written in full. The rule assumes
// that Kafka record timestamps follow event times within max_out_of_orderness (records are
// produced with their event time, or soon after it). An offset range (--from-offsets) has no
// warm-up unless one is given; its T1 is then the earliest timestamp of the records at the
// from offsets. A pipeline without windows (a running aggregate) keeps state over all
// history: its replay starts its totals at the start of what it reads.
//
// # Retention
//
// Before reading, each partition's log start offset is compared with the first offset the
// replay needs (warm-up included). If records it needs were deleted, Run fails with an error
// naming each partition and the missing span, unless AllowPartial is set: then it logs a
// warning and starts at the log start.
//
// It must never join the live consumer group or write to the live output topic. Only
// cmd/kappa imports it.
package replay
