package pipeline

import (
	"fmt"
	"math"
	"path/filepath"
	"strconv"
	"strings"
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
	// is not a number, is not observed. Their fields are distinct.
	Histograms []Histogram
	// Freshness is the event-time lag (kappa_processor_event_time_lag_seconds) at which the
	// freshness alert fires: it is exported as kappa_quality_freshness_threshold_seconds.
	// More than 0. Default DefaultFreshness.
	Freshness time.Duration
	// Drift compares the distributions of features and scores with a reference. nil (in
	// the file, drift left out or null): no drift monitoring.
	Drift *Drift
}

// Histogram is a numeric field whose distribution is a metric.
type Histogram struct {
	// Field is the top-level numeric field. Required, distinct among the histograms.
	Field string
	// Buckets are the upper bounds of the histogram's buckets: finite, strictly
	// ascending, at most MaxHistogramBuckets (a +Inf bucket is always added). Empty: the
	// processor uses DefaultHistogramBuckets; Parse and ApplyDefaults leave it empty, so
	// that a definition says which histograms chose their buckets. A file that writes
	// buckets lists at least one.
	Buckets []float64
}

// Drift is the drift monitoring of a pipeline: the population stability index (PSI)
// between a reference distribution and the records of a sliding event-time window, per
// input partition, for each feature and for the model's score. Each evaluation is written
// to the drift topic (Definition.DriftTopic) and sets kappa_drift_psi.
type Drift struct {
	// Features are numeric top-level input fields to watch: distinct, and neither the key
	// field nor the event-time field. A record without the field counts in the
	// reference's "missing" bin. Features, Score or both must be set.
	Features []string
	// Score watches the score operator's score as well. Only for a pipeline with a score
	// operator.
	Score bool
	// Reference is the file of the reference distributions, made by `kappa profile` (or
	// shipped with the model). Parse and Load resolve a relative path against the
	// directory of the pipeline file; a definition built in Go uses it as given. Optional
	// here, since `kappa profile` reads the definition before the file exists, and never
	// checked for existence (see the package doc); the processor needs it to run.
	Reference string
	// Window is the span of event time each evaluation covers: more than 0, a whole
	// number of milliseconds. Default DefaultDriftWindow.
	Window time.Duration
	// Every is how often, in event time, the window is evaluated: more than 0, a whole
	// number of milliseconds, and Window a whole multiple of it. Default Window/4, which
	// is whole only for a Window of a multiple of 4ms: set Every for any other.
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
var (
	dedupFields     = []string{"field", "horizon"}
	qualityFields   = []string{"histograms", "freshness", "drift"}
	histogramFields = []string{"field", "buckets"}
	driftFields     = []string{"features", "score", "reference", "window", "every", "threshold", "min_records", "bins"}
)

// The hints of the mappings of dedup and quality, for what they need when they are empty.
const (
	dedupNeeds     = "it needs field and horizon, e.g. dedup: {field: txn_id, horizon: 1h}"
	histogramNeeds = "it needs field, e.g. - {field: latency_ms, buckets: [10, 50, 100, 500]}, or write just the field: - latency_ms"
	driftNeeds     = "it needs features, or score: true, e.g. drift: {features: [amount]}"
)

// eventTimeUnit says why durations of event time are whole milliseconds.
const eventTimeUnit = "the unit of event times"

// defaultBuckets names DefaultHistogramBuckets in messages.
const defaultBuckets = "1, 2 and 5 per decade from 0.01 to 1e6"

// applyDefaults sets the zero settings of drift monitoring to their defaults; Every after
// Window, of which it is a quarter.
func (dr *Drift) applyDefaults() {
	if dr.Window == 0 {
		dr.Window = DefaultDriftWindow
	}
	if dr.Every == 0 && dr.Window > 0 {
		dr.Every = dr.Window / 4
	}
	if dr.Threshold == 0 {
		dr.Threshold = DefaultDriftThreshold
	}
	if dr.MinRecords == 0 {
		dr.MinRecords = DefaultDriftMinRecords
	}
	if dr.Bins == 0 {
		dr.Bins = DefaultDriftBins
	}
}

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

// checkQuality applies the rules of quality.
func checkQuality(d *Definition, r reporter) {
	q := d.Quality
	first := make(map[string]int, len(q.Histograms))
	for i, h := range q.Histograms {
		path := fmt.Sprintf("quality.histograms[%d]", i)
		if checkHistogram(h, path, r) {
			if j, dup := first[h.Field]; dup {
				r.invalid(path+".field", fmt.Sprintf("%q is listed twice (also quality.histograms[%d]); remove one", h.Field, j))
				continue
			}
			first[h.Field] = i
		}
	}

	if f := q.Freshness; f <= 0 {
		r.invalid("quality.freshness", fmt.Sprintf("%s is not more than 0; use a positive duration, e.g. %s (the default)",
			formatDuration(f), formatDuration(DefaultFreshness)))
	}

	if q.Drift != nil {
		checkDrift(d, r)
	}
}

// checkHistogram applies the rules of one histogram at path, and reports whether its field
// is well-formed, to compare with the others.
func checkHistogram(h Histogram, path string, r reporter) bool {
	ok := checkFieldName(r, path+".field", h.Field, "add the numeric field, e.g. field: latency_ms")

	bp := path + ".buckets"
	switch n := len(h.Buckets); {
	case r.unreadable(bp):
		// An entry that is not a number is reported, and the order of the others would
		// be reported against a hole.
	case n > MaxHistogramBuckets:
		r.invalid(bp, fmt.Sprintf("has %d buckets; a histogram has at most %d, since each one is a time series, so use fewer",
			n, MaxHistogramBuckets))
	default:
		prev, havePrev := 0.0, false
		for j, b := range h.Buckets {
			jp := fmt.Sprintf("%s[%d]", bp, j)
			switch {
			case math.IsNaN(b) || math.IsInf(b, 0):
				r.invalid(jp, fmt.Sprintf("%s is not a finite number; write the upper bound of a bucket (the +Inf bucket is always there)", fmtNum(b)))
				continue
			case havePrev && b <= prev:
				r.invalid(jp, fmt.Sprintf("%s is not more than the bound before it, %s; list the bounds in ascending order, each once",
					fmtNum(b), fmtNum(prev)))
			}
			prev, havePrev = b, true
		}
	}
	return ok
}

// checkDrift applies the rules of quality.drift.
func checkDrift(d *Definition, r reporter) {
	dr, path := d.Quality.Drift, "quality.drift"
	if len(dr.Features) == 0 && !dr.Score && !r.unreadable(path+".score") {
		r.missing(path+".features", "watch at least one numeric field, e.g. features: [amount], or the model's score with score: true")
	}
	first := make(map[string]int, len(dr.Features))
	for i, f := range dr.Features {
		fp := fmt.Sprintf("%s.features[%d]", path, i)
		if f == "" {
			r.invalid(fp, "is empty; write a field name or remove the entry")
			continue
		}
		if !checkFieldName(r, fp, f, "") {
			continue
		}
		switch f {
		case d.Input.KeyField:
			r.invalid(fp, fmt.Sprintf("%q is the key field (input.key_field), which identifies records rather than measuring them; "+
				"watch a numeric field such as amount", f))
			continue
		case d.Input.EventTime.Field:
			r.invalid(fp, fmt.Sprintf("%q is the event-time field (input.event_time.field), whose distribution moves with time, "+
				"so it would always drift; watch a numeric field such as amount", f))
			continue
		}
		if j, dup := first[f]; dup {
			r.invalid(fp, fmt.Sprintf("%q is listed twice (also features[%d]); remove one", f, j))
			continue
		}
		first[f] = i
	}

	if dr.Score && d.ScoreOp() == nil && !r.unreadable("operators") {
		r.invalid(path+".score", "score: true watches the score of the score operator, and this pipeline has none; "+
			"remove score: true, or add a score operator as the last of operators")
	}

	if strings.ContainsRune(dr.Reference, 0) {
		r.invalid(path+".reference", fmt.Sprintf("%s contains a NUL byte, which no file system allows; remove it", quoteShort(dr.Reference)))
	}

	windowOK := false
	switch w := dr.Window; {
	case r.unreadable(path + ".window"):
	case w <= 0:
		r.invalid(path+".window", fmt.Sprintf("%s is not more than 0; use a positive duration, e.g. %s (the default)",
			formatDuration(w), formatDuration(DefaultDriftWindow)))
	case notWholeMillis(w, eventTimeUnit) != "":
		r.invalid(path+".window", notWholeMillis(w, eventTimeUnit))
	default:
		windowOK = true
	}
	// Every is only checked against a well-formed window: its default comes from the
	// window, and one mistake is reported once.
	if windowOK {
		checkEvery(dr.Window, dr.Every, path+".every", r)
	}

	switch t := dr.Threshold; {
	case math.IsNaN(t) || math.IsInf(t, 0):
		r.invalid(path+".threshold", fmt.Sprintf("%s is not a finite number; use a PSI above 0, e.g. %s (the default)",
			fmtNum(t), fmtNum(DefaultDriftThreshold)))
	case t <= 0:
		r.invalid(path+".threshold", fmt.Sprintf("%s is not more than 0, so every window would count as drifted; use a PSI above 0, e.g. %s (the default)",
			fmtNum(t), fmtNum(DefaultDriftThreshold)))
	}

	if m := dr.MinRecords; m < 1 {
		r.invalid(path+".min_records", fmt.Sprintf("%d is less than 1; a window needs records to be evaluated, so use e.g. %d (the default)",
			m, DefaultDriftMinRecords))
	}

	if b := dr.Bins; b < minDriftBins || b > maxDriftBins {
		r.invalid(path+".bins", fmt.Sprintf("%d is not from %d to %d; use e.g. %d (the default)", b, minDriftBins, maxDriftBins, DefaultDriftBins))
	}
}

// The bounds of Drift.Bins.
const (
	minDriftBins = 2
	maxDriftBins = 100
)

// checkEvery applies the rules of the every of a drift window, a positive whole number of
// milliseconds.
func checkEvery(window, every time.Duration, path string, r reporter) {
	suggestion := formatDuration(everyFor(window))
	if everyFor(window) == window/4 {
		suggestion += " (window/4, the default)"
	}
	switch {
	case every <= 0:
		r.invalid(path, fmt.Sprintf("%s is not more than 0; use a positive duration that divides the window, e.g. %s",
			formatDuration(every), suggestion))
	case notWholeMillis(every, eventTimeUnit) != "" && every == window/4:
		r.invalid(path, fmt.Sprintf("the default, window/4, is %s, which is not a whole number of milliseconds, %s; "+
			"set every to one that divides the window, e.g. every: %s", formatDuration(every), eventTimeUnit, suggestion))
	case notWholeMillis(every, eventTimeUnit) != "":
		r.invalid(path, fmt.Sprintf("%s is not a whole number of milliseconds, %s; use one that divides the window, e.g. %s",
			formatDuration(every), eventTimeUnit, suggestion))
	case every > window:
		r.invalid(path, fmt.Sprintf("%s is more than the window, %s, which must be a whole multiple of it; use e.g. %s",
			formatDuration(every), formatDuration(window), suggestion))
	case window%every != 0:
		r.invalid(path, fmt.Sprintf("the window, %s, is not a whole multiple of %s; use an every that divides it, e.g. %s",
			formatDuration(window), formatDuration(every), suggestion))
	}
}

// everyFor suggests an every for window, a whole number of milliseconds: the largest whole
// number of milliseconds up to a quarter of it that divides it (a quarter when that is
// whole), looked for among its thousand largest candidates; failing that, a third, a half
// or the window itself.
func everyFor(window time.Duration) time.Duration {
	w := int64(window / time.Millisecond)
	for k := int64(4); k <= 1000 && k <= w; k++ {
		if w%k == 0 {
			return time.Duration(w/k) * time.Millisecond
		}
	}
	for k := int64(3); k > 1; k-- {
		if w%k == 0 && w/k > 0 {
			return time.Duration(w/k) * time.Millisecond
		}
	}
	return window
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

// quality decodes the quality section, with the defaults of the settings left out.
func (p *parser) quality(n *yaml.Node, q *Quality) {
	f := p.mapping(n, "quality", qualityFields)
	if n, ok := f["histograms"]; ok {
		q.Histograms = p.histograms(n, "quality.histograms")
	}
	if n, ok := f["freshness"]; ok && p.given(n, "quality.freshness", formatDuration(DefaultFreshness)) {
		if v, ok := p.duration(n, "quality.freshness"); ok {
			q.Freshness = v
		}
	}
	if n, ok := f["drift"]; ok && !isNull(resolve(n)) {
		q.Drift = p.drift(n, "quality.drift")
	}
}

// histograms decodes quality.histograms. Entries with a problem stay as zero Histograms, so
// that indices match the file.
func (p *parser) histograms(n *yaml.Node, path string) []Histogram {
	v := resolve(n)
	switch {
	case isNull(v):
		return nil
	case v.Kind == yaml.MappingNode:
		p.fail(posOf(n), path, `must be a list, got a mapping; start each histogram with "- ", e.g. - amount or - {field: latency_ms, buckets: [10, 50, 100]}`)
		return nil
	case v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str":
		p.fail(posOf(n), path, fmt.Sprintf("must be a list, got the string %s; write histograms: [%s]", quoteShort(v.Value), shorten(v.Value)))
		return nil
	case v.Kind != yaml.SequenceNode:
		p.fail(posOf(n), path, fmt.Sprintf("must be a list of fields, got %s; e.g. histograms: [amount]", describe(v)))
		return nil
	}
	out := make([]Histogram, len(v.Content))
	for i, item := range v.Content {
		ip := fmt.Sprintf("%s[%d]", path, i)
		p.keyPos[ip], p.valPos[ip] = posOf(item), posOf(item)
		out[i] = p.histogram(item, ip)
	}
	return out
}

// histogram decodes one entry of histograms: a field name, or a mapping of field and
// buckets.
func (p *parser) histogram(n *yaml.Node, path string) Histogram {
	v := resolve(n)
	switch {
	case isNull(v):
		p.fail(posOf(n), path, "is empty; write a field name, e.g. - amount, or remove the entry")
		return Histogram{}
	case v.Kind == yaml.ScalarNode:
		h := Histogram{Field: p.str(n, path)}
		if h.Field == "" && !p.silenced(path) {
			p.fail(posOf(n), path, "is empty; write a field name, e.g. - amount, or remove the entry")
		}
		return h
	case v.Kind != yaml.MappingNode:
		p.fail(posOf(n), path, "must be a field name or a mapping such as {field: latency_ms, buckets: [10, 50, 100]}, got "+describe(v))
		return Histogram{}
	}
	f := p.mapping(n, path, histogramFields)
	var h Histogram
	if n, ok := f["field"]; ok {
		h.Field = p.str(n, path+".field")
	}
	if n, ok := f["buckets"]; ok && p.given(n, path+".buckets", defaultBuckets) {
		h.Buckets = p.buckets(n, path+".buckets")
	}
	return h
}

// buckets decodes the bounds of a histogram: a list of numbers, not empty. Entries with a
// problem stay as 0, so that indices match the file.
func (p *parser) buckets(n *yaml.Node, path string) []float64 {
	v := resolve(n)
	switch {
	case v.Kind == yaml.ScalarNode && (v.ShortTag() == "!!int" || v.ShortTag() == "!!float"):
		p.fail(posOf(n), path, fmt.Sprintf("must be a list, got %s; write buckets: [%s]", describe(v), shorten(v.Value)))
		return nil
	case v.Kind != yaml.SequenceNode:
		p.fail(posOf(n), path, fmt.Sprintf("must be a list of numbers, got %s; e.g. buckets: [10, 50, 100, 500]", describe(v)))
		return nil
	case len(v.Content) == 0:
		p.fail(posOf(n), path, fmt.Sprintf("is empty; list the upper bounds of the buckets, e.g. buckets: [10, 50, 100, 500], "+
			"or remove the line for the default (%s)", defaultBuckets))
		return nil
	}
	out := make([]float64, len(v.Content))
	for i, item := range v.Content {
		ip := fmt.Sprintf("%s[%d]", path, i)
		p.keyPos[ip], p.valPos[ip] = posOf(item), posOf(item)
		out[i], _ = p.number(item, ip)
	}
	return out
}

// drift decodes quality.drift at path, with the defaults of the settings left out, as
// ApplyDefaults sets them. A setting written as 0 stays 0, for the rules to report.
func (p *parser) drift(n *yaml.Node, path string) *Drift {
	f := p.mapping(n, path, driftFields)
	dr := &Drift{
		Window:     DefaultDriftWindow,
		Threshold:  DefaultDriftThreshold,
		MinRecords: DefaultDriftMinRecords,
		Bins:       DefaultDriftBins,
	}
	if n, ok := f["features"]; ok {
		dr.Features = p.stringList(n, path+".features")
	}
	if n, ok := f["score"]; ok && p.given(n, path+".score", "false") {
		dr.Score, _ = p.boolean(n, path+".score")
	}
	if n, ok := f["reference"]; ok && p.given(n, path+".reference", "none") {
		rp := path + ".reference"
		dr.Reference = p.str(n, rp)
		switch {
		case dr.Reference == "" && !p.silenced(rp):
			p.fail(posOf(n), rp, "is empty; write the path of the reference file (kappa profile makes it), or remove the line")
		case dr.Reference != "" && !filepath.IsAbs(dr.Reference):
			dr.Reference = filepath.Join(p.dir, dr.Reference)
		}
	}
	if n, ok := f["window"]; ok && p.given(n, path+".window", formatDuration(DefaultDriftWindow)) {
		if v, ok := p.duration(n, path+".window"); ok {
			dr.Window = v
		}
	}
	if n, ok := f["every"]; !ok {
		dr.Every = dr.Window / 4
	} else if p.given(n, path+".every", "window/4") {
		if v, ok := p.duration(n, path+".every"); ok {
			dr.Every = v
		}
	}
	if n, ok := f["threshold"]; ok && p.given(n, path+".threshold", fmtNum(DefaultDriftThreshold)) {
		if v, ok := p.number(n, path+".threshold"); ok {
			dr.Threshold = v
		}
	}
	if n, ok := f["min_records"]; ok && p.given(n, path+".min_records", strconv.Itoa(DefaultDriftMinRecords)) {
		if v, ok := p.integer(n, path+".min_records", "500"); ok {
			dr.MinRecords = v
		}
	}
	if n, ok := f["bins"]; ok && p.given(n, path+".bins", strconv.Itoa(DefaultDriftBins)) {
		if v, ok := p.integer(n, path+".bins", "10"); ok {
			dr.Bins = v
		}
	}
	return dr
}

// integer decodes a YAML integer, such as 500; example is one for the message. A number in
// quotes is a string.
func (p *parser) integer(n *yaml.Node, path, example string) (int, bool) {
	v := resolve(n)
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!int" {
		var i int
		if err := v.Decode(&i); err == nil {
			return i, true
		}
	}
	msg := fmt.Sprintf("must be a whole number such as %s, got %s", example, describe(v))
	quoted := v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
	if _, err := strconv.Atoi(v.Value); v.Kind == yaml.ScalarNode && quoted && err == nil {
		msg += "; remove the quotes"
	}
	p.fail(posOf(n), path, msg)
	return 0, false
}
