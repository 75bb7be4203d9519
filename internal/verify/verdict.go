package verify

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Results printed at the end of the verdict line.
const (
	ResultOK   = "ALL-RECORDS-DELIVERED"
	ResultFail = "FAIL"
)

// MaxProblems is how many problems a Verdict describes in detail; the rest are counted.
const MaxProblems = 20

// Verdict is the outcome of a verification: the figures of TESTPLAN's verdict line, and the
// first problems in detail.
type Verdict struct {
	// Generated is the number of input records the test produced (Config.Generated).
	Generated int64
	// CommittedIn is the number of input records below the group's committed offsets.
	CommittedIn int64
	// Emitted is the number of committed records in the output topic.
	Emitted int64
	// Duplicates counts output and dead-letter records beyond the first for one input record.
	Duplicates int64
	// Lost counts committed input records with neither an output nor a dead-letter record,
	// plus generated records whose offsets were never committed. For a window pipeline it
	// counts, instead of valid records without output, the windows the reference closed
	// that were not emitted and the late records missing from the late topic.
	Lost int64
	// Reordered counts output (or dead-letter) records whose input offset is not above that
	// of every earlier record in the same partition.
	Reordered int64
	// AbortedReads counts committed output and dead-letter records of input records at or
	// beyond the committed input offset: output of input that was not consumed.
	AbortedReads int64
	// AggregateMismatches counts output records that differ from the recompute, and records
	// that cannot be matched to an input record or went to the wrong topic or partition.
	AggregateMismatches int64
	// WindowMismatches counts, for a window pipeline, window records that differ from the
	// reference's (key, aggregates, watermark) or that the reference did not close, and
	// late records that are duplicated, not late in the reference, or wrong.
	WindowMismatches int64
	// Late is the number of committed records in the late topic of a window pipeline.
	Late int64
	// DLQ is the number of committed records in the dead-letter topic.
	DLQ int64
	// Faults is how many faults of each kind the test injected (Config.Faults).
	Faults map[string]int
	// MaxRecovery is the longest recovery the test measured (Config.MaxRecovery).
	MaxRecovery time.Duration
	// Problems describes the first MaxProblems problems, one line each; a final line counts
	// the others.
	Problems []string
	// Complete is set when every check ran. A Verdict returned with an error is incomplete
	// and never OK.
	Complete bool

	problems int // problems seen, including those not described
}

// OK reports whether the run delivered every record exactly once with exact aggregates: the
// checks completed, every counted problem is zero, and every generated record was committed.
// Late records are reported, not failures.
func (v *Verdict) OK() bool {
	return v.Complete && v.CommittedIn == v.Generated &&
		v.Duplicates == 0 && v.Lost == 0 && v.Reordered == 0 && v.AbortedReads == 0 &&
		v.AggregateMismatches == 0 && v.WindowMismatches == 0
}

// Result is ResultOK or ResultFail.
func (v *Verdict) Result() string {
	if v.OK() {
		return ResultOK
	}
	return ResultFail
}

// String returns the verdict line, without a trailing newline.
func (v *Verdict) String() string {
	return fmt.Sprintf("verdict: generated=%d committed_in=%d emitted=%d duplicates=%d lost=%d reordered=%d "+
		"aborted_reads=%d aggregate_mismatches=%d window_mismatches=%d late=%d dlq=%d faults=%s max_recovery_s=%s result=%s",
		v.Generated, v.CommittedIn, v.Emitted, v.Duplicates, v.Lost, v.Reordered,
		v.AbortedReads, v.AggregateMismatches, v.WindowMismatches, v.Late, v.DLQ,
		formatFaults(v.Faults), strconv.FormatFloat(v.MaxRecovery.Seconds(), 'f', 1, 64), v.Result())
}

// formatFaults prints faults as name:count sorted by name, or "none".
func formatFaults(faults map[string]int) string {
	if len(faults) == 0 {
		return "none"
	}
	names := make([]string, 0, len(faults))
	for n := range faults {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for i, n := range names {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%s:%d", n, faults[n])
	}
	return b.String()
}

// problemf records a problem, described in detail while fewer than MaxProblems are.
func (v *Verdict) problemf(format string, args ...any) {
	v.problems++
	if v.problems <= MaxProblems {
		v.Problems = append(v.Problems, fmt.Sprintf(format, args...))
	}
}

// closeProblems appends the count of problems not described.
func (v *Verdict) closeProblems() {
	if more := v.problems - MaxProblems; more > 0 {
		v.Problems = append(v.Problems, fmt.Sprintf("... and %d more problems", more))
	}
}
