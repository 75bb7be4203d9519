// Package drift is the pure core of drift monitoring: reference distributions (Bins,
// Reference, the reference file and the Profiler that makes it), the population stability
// index (PSI) and the Monitor that computes it over a sliding event-time window.
//
// It must never read the wall clock, do I/O beyond reading the one reference file Load is
// given, log, or import Kafka, Pebble, zap, Prometheus or any other Kappa package: the same
// calls always give the same results, which is what makes a replay or a restart equal to
// the live run.
//
// # PSI
//
// The population stability index compares the distribution of a series (a feature of the
// input, or the model's score) in a window with its reference distribution over the same
// bins:
//
//	PSI = Σ (a_i - e_i) · ln(a_i / e_i)
//
// where e_i is the reference proportion of bin i and a_i the window's; both are floored at
// Epsilon so that an empty bin gives a large but finite term. PSI is 0 for identical
// distributions and grows with the shift; the usual reading is below 0.1 stable, 0.1 to 0.2
// a moderate shift, above 0.2 a significant one (the default threshold of a pipeline).
//
// # Bins
//
// A series' Bins are the edges of its value bins, the reference proportion of each, and the
// number of records the reference was made from. n edges make n+1 value bins, bin i holding
// the values v with Edges[i-1] <= v < Edges[i] (the first bin everything below Edges[0],
// the last everything from the last edge up), and one more bin for missing values (NaN):
// Bins.Bin maps a value to its bin. Missing values count as a bin of their own, so a feature
// that goes missing more often than in the reference drifts like any other change.
//
// # The reference file
//
// A Reference holds the Bins of each watched feature and of the score, as JSON written by
// `kappa profile` (Reference.Marshal) and read by the processor (Load, Parse), for example:
//
//	{
//	  "version": 1,
//	  "pipeline": "fraud",
//	  "source": "fraud-transactions, 2026-01-01T00:00:00Z to 2026-01-08T00:00:00Z",
//	  "features": {
//	    "amount": {"edges": [10, 50], "proportions": [0.3, 0.5, 0.19, 0.01], "records": 100000}
//	  },
//	  "score": {"edges": [0.5], "proportions": [0.9, 0.1, 0], "records": 100000}
//	}
//
// Parsing is strict: unknown members, another version, or Bins that Bins.Validate refuses
// are errors that name the file and the series and wrap ErrInvalidReference.
//
// The Profiler makes a Reference from a stream of values: a uniform reservoir sample of each
// series' finite values (with a PRNG of fixed seed, so the same input gives the same file)
// and exact counts of the missing ones. The edges are quantiles of the sample, so the
// reference's value bins hold about equal shares; ties (discrete values) merge bins rather
// than leave any empty.
//
// # The monitor
//
// A Monitor computes the PSI of every series over a sliding event-time window, for one input
// partition. Event times are epoch milliseconds. Records are counted per bin in panes of
// Every ms aligned to the epoch; a window [End-Window, End) covers Window/Every panes and ends
// at a multiple of Every. The watermark is the largest event time seen minus the allowed
// out-of-orderness; each window is evaluated once, when the watermark reaches its end, and
// gives a Result for every series with at least MinRecords records in it. A record whose
// pane no window still to be evaluated covers is late and is not counted. Windows without
// records give nothing, and a jump in event time skips them without visiting each.
//
// The panes and the clock are the monitor's state: Changes reports what changed since the
// last ResetChanges, AppendPane, AppendPaneKey and AppendClock encode it, and Restore
// rebuilds a new Monitor from it after a restart, which then gives the same results as one
// that never stopped. Decoders wrap ErrCorrupt.
package drift
