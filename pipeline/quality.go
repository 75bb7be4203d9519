package pipeline

import (
	"fmt"
	"time"

	"go.yaml.in/yaml/v3"
)

// Dedup drops the records whose event id was already seen within a horizon of event time,
// per input partition. In the file:
//
//	input:
//	  dedup: {field: txn_id, horizon: 1h}
//
// A record is a duplicate when an earlier record of its partition had the same id and an
// event time within Horizon of the latest event time the partition has seen (its stream
// time). A duplicate that arrives more than Horizon of stream time after the first copy is
// not recognised. The ids live in the partition's state (Pebble, with the changelog), so the
// answer is the same after a restart and in a replay. What happens to a duplicate is
// on_error.duplicate: skip (counted) by default, dlq, or fail. dedup left out, or null,
// is no deduplication (Input.Dedup nil).
type Dedup struct {
	// Field is the top-level field that holds the event id: a non-empty string, or a
	// number taken as its JSON text. Required; not the event-time field, which does not
	// tell two events apart (the key field may be it). A record without it is a schema
	// error.
	Field string
	// Horizon is how long, in event time, an id is remembered. More than 0, a whole number
	// of milliseconds, at most MaxDedupHorizon. Required.
	Horizon time.Duration
}

// MaxDedupHorizon bounds Dedup.Horizon: the ids of a horizon are held in the state and
// read back by a replay's warm-up.
const MaxDedupHorizon = 30 * 24 * time.Hour

// Quality are the data-quality checks of a pipeline beyond the schema: distributions of
// fields as metrics, the freshness threshold, and drift. In the file:
//
//	quality:
//	  histograms: [amount, {field: latency_ms, buckets: [10, 50, 100, 500]}]
//	  freshness: 5m
//	  drift:
//	    features: [amount]
//	    score: true
//	    reference: fraud-reference.json
//	    window: 1h
type Quality struct {
	// Histograms are numeric input fields whose values are observed in the histogram
	// kappa_quality_field_value{field}. A record without the field, or with a value that
	// is not a number, is not observed.
	Histograms []Histogram
	// Freshness is the event-time lag (kappa_processor_event_time_lag_seconds) at which the
	// freshness alert fires: it is exported as kappa_quality_freshness_threshold_seconds.
	// More than 0. Default DefaultFreshness.
	Freshness time.Duration
	// Drift compares the distributions of features and scores with a reference. nil: no
	// drift monitoring.
	Drift *Drift
}

// Histogram is a numeric field whose distribution is a metric.
type Histogram struct {
	// Field is the top-level numeric field. Required, distinct among the histograms.
	Field string
	// Buckets are the upper bounds of the histogram's buckets: finite, strictly
	// ascending, at most MaxHistogramBuckets. Empty: DefaultHistogramBuckets.
	Buckets []float64
}

// Drift is the drift monitoring of a pipeline: the population stability index (PSI)
// between a reference distribution and the records of a sliding event-time window, per
// input partition, for each feature and for the model's score. Each evaluation is written
// to the drift topic (Definition.DriftTopic) and sets kappa_drift_psi.
type Drift struct {
	// Features are numeric top-level input fields to watch. A record without the field
	// counts in the reference's "missing" bin.
	Features []string
	// Score watches the score operator's score as well. Only for a pipeline with a score
	// operator.
	Score bool
	// Reference is the file of the reference distributions, made by `kappa profile` (or
	// shipped with the model). Parse and Load resolve a relative path against the
	// directory of the pipeline file. Required to run; `kappa profile` makes it.
	Reference string
	// Window is the span of event time each evaluation covers. Default DefaultDriftWindow.
	Window time.Duration
	// Every is how often, in event time, the window is evaluated: Window must be a whole
	// multiple of it. Default Window/4.
	Every time.Duration
	// Threshold is the PSI above which a series counts as drifted (the drift record's
	// "drifted", and the alert rule through kappa_drift_threshold). More than 0. Default
	// DefaultDriftThreshold.
	Threshold float64
	// MinRecords is the fewest records a window needs to be evaluated: with fewer, the
	// PSI is mostly sampling noise. At least 1. Default DefaultDriftMinRecords.
	MinRecords int
	// Bins is the number of value bins `kappa profile` makes per series (quantiles of the
	// profiled range), from 2 to 100. Default DefaultDriftBins.
	Bins int
}

// Defaults and limits of the quality settings.
const (
	DefaultFreshness       = 10 * time.Minute
	DefaultDriftWindow     = time.Hour
	DefaultDriftThreshold  = 0.2
	DefaultDriftMinRecords = 500
	DefaultDriftBins       = 10
	MaxHistogramBuckets    = 100
)

// DefaultHistogramBuckets are the buckets of a histogram that names none: 1, 2 and 5 per
// decade from 0.01 to 1e6.
var DefaultHistogramBuckets = []float64{
	0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500,
	1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6,
}

// DriftTopic is the topic that takes the drift evaluations: "<name>-drift". Only pipelines
// with quality.drift write to it.
func (d *Definition) DriftTopic() string { return d.Name + "-drift" }

// HasDrift reports whether the pipeline monitors drift, and so has a drift topic.
func (d *Definition) HasDrift() bool { return d.Quality.Drift != nil }

// The settings of the file, in documentation order.
var dedupFields = []string{"field", "horizon"}

// dedupNeeds is what an empty input.dedup needs.
const dedupNeeds = "it needs field and horizon, e.g. dedup: {field: txn_id, horizon: 1h}"

// eventTimeUnit says why durations of event time are whole milliseconds.
const eventTimeUnit = "the unit of event times"

// checkDedup applies the rules of input.dedup.
func checkDedup(d *Definition, r reporter) {
	dd, path := d.Input.Dedup, "input.dedup"
	if checkFieldName(r, path+".field", dd.Field, "add the field that holds the event id, e.g. field: txn_id") &&
		dd.Field == d.Input.EventTime.Field {
		r.invalid(path+".field", fmt.Sprintf("%q is the event-time field (input.event_time.field), which does not identify an event: "+
			"distinct events can have the same time; use the field that holds the event id, e.g. field: txn_id", dd.Field))
	}

	hp := path + ".horizon"
	switch h := dd.Horizon; {
	case h == 0:
		r.missing(hp, "add how long, in event time, an id is remembered, e.g. horizon: 1h")
	case h < 0:
		r.invalid(hp, notPositive(h, "horizon: 1h"))
	case notWholeMillis(h, eventTimeUnit) != "":
		r.invalid(hp, notWholeMillis(h, eventTimeUnit))
	case h > MaxDedupHorizon:
		r.invalid(hp, fmt.Sprintf("%s is more than %s (30 days), the longest horizon: every id it covers is kept in the state "+
			"and read back by a replay; use at most %s", formatDuration(h), formatDuration(MaxDedupHorizon), formatDuration(MaxDedupHorizon)))
	}
}

// dedup decodes input.dedup at path.
func (p *parser) dedup(n *yaml.Node, path string) *Dedup {
	dd := &Dedup{}
	if v := resolve(n); v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" {
		p.fail(posOf(n), path, fmt.Sprintf("must be a mapping, got the string %s; write dedup: {field: %s, horizon: 1h}",
			quoteShort(v.Value), shorten(v.Value)))
		return dd
	}
	f := p.mapping(n, path, dedupFields)
	if n, ok := f["field"]; ok {
		dd.Field = p.str(n, path+".field")
	}
	if n, ok := f["horizon"]; ok && !isNull(resolve(n)) {
		hp := path + ".horizon"
		if h, ok := p.duration(n, hp); ok {
			if h == 0 {
				// In Go, 0 is a horizon left out; in the file it is written, and wrong.
				p.fail(posOf(n), hp, notPositive(h, "horizon: 1h"))
			}
			dd.Horizon = h
		}
	}
	return dd
}
