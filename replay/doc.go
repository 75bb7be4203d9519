// Package replay reprocesses a bounded range of the retained log through the same processor
// and operators as the live service: it plans per-partition offset ranges from times,
// checks retention, writes a versioned output and verifies it against the live output.
//
// It must never join the live consumer group or write to the live output topic. Only
// cmd/kappa imports it.
package replay
