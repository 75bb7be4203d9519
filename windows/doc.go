// Package windows is the pure event-time core: window assignment (tumbling, hopping, sliding,
// session), per-partition stream time and watermarks, grace, late-record classification and
// the aggregate functions.
//
// It must never read the wall clock, do I/O, log, or import Kafka, Pebble, zap or
// Prometheus: the same input must always give the same output, which is what makes a replay
// equal to the live run.
//
// Times are epoch milliseconds and windows are half-open [Start, End). A partition's
// watermark is its largest event time minus the allowed out-of-orderness (StreamTime); a
// window closes when the watermark reaches End + grace (sessions: End + gap + grace). A
// record whose windows are all closed is late and is returned as such, never dropped.
// Operator is the driver of one partition: records in, window results (Final or Update
// mode) and late records out, in (window end, key, window start) order. A Spec says what
// each window computes (Aggregation: count, sum, min, max, avg, first, last,
// count_distinct, quantile over fields of the record); Aggs holds one window's state and has
// a canonical binary encoding (Spec.AppendAggs, Spec.DecodeAggs). The Operator keeps an
// index of its open windows in memory and their aggregates in a Store: a MemStore by
// default, a write-back cache over Pebble in the processor. Entries are keyed by
// AppendEntryKey, which orders them by close time, and the partition clock by AppendClock;
// Load and SetClock rebuild an Operator from them after a restart. The semantics are
// specified by the scripts in testdata/.
//
// Two sketch accumulators estimate what Acc cannot hold in constant space: DistinctAcc
// (count_distinct, HyperLogLog from github.com/axiomhq/hyperloglog, precision 14: relative
// standard error 1.04/sqrt(2^14) ≈ 0.81%) and QuantileAcc (quantile(q), DDSketch from
// github.com/DataDog/sketches-go: every quantile within 1% relative error of the exact
// value). Both are pure libraries, merge in any order to the same state, and have
// deterministic binary encodings (AppendDistinct/DecodeDistinct,
// AppendQuantile/DecodeQuantile). The SKETCHES comment in sketches.go gives the error bounds,
// sizes and encodings in full.
package windows
