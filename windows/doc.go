// Package windows is the pure event-time core: window assignment (tumbling, hopping, sliding,
// session), per-partition stream time and watermarks, grace, late-record classification and
// the aggregate functions.
//
// It must never read the wall clock, do I/O, log, or import Kafka, Pebble, zap or
// Prometheus: the same input must always give the same output, which is what makes a replay
// equal to the live run.
package windows
