// Package verify is the reliability verifier of TESTPLAN.md for the card-totals aggregate
// pipeline: it waits for a pipeline to finish, reads its input up to the committed offsets
// and all of its output and dead-letter topics read_committed, recomputes every expected
// output from the input, and prints the verdict line
//
//	verdict: generated=N committed_in=N emitted=N duplicates=0 lost=0 reordered=0 aborted_reads=0 aggregate_mismatches=0 window_mismatches=0 late=0 dlq=N faults=kill9:K,sigterm:K max_recovery_s=S result=ALL-RECORDS-DELIVERED
//
// The package owns that check and the verdict's format. It only reads: it never produces,
// commits offsets or changes a topic, and it never imports the processor, so it checks the
// processor's output against an independent reimplementation of its rules.
package verify
