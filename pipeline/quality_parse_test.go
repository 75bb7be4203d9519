package pipeline

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// eventTimeLine is the last line of the input of scoreBase, after which withQuality puts
// input.dedup.
const eventTimeLine = "  event_time: {field: ts, format: epoch_millis}\n"

// withQuality returns scoreBase with dedup (lines of input, or "") after its event_time
// line, and tail (top-level sections) at its end. With one line of dedup, the tail starts
// at line 24; without, at line 23.
func withQuality(t *testing.T, dedup, tail string) string {
	t.Helper()
	return editScore(t, eventTimeLine, eventTimeLine+dedup) + tail
}

// driftDefaults is quality.drift with its defaults and the given features.
func driftDefaults(features ...string) *Drift {
	return &Drift{
		Features:   features,
		Window:     DefaultDriftWindow,
		Every:      DefaultDriftWindow / 4,
		Threshold:  DefaultDriftThreshold,
		MinRecords: DefaultDriftMinRecords,
		Bins:       DefaultDriftBins,
	}
}

func TestParseQuality(t *testing.T) {
	tests := []struct {
		name        string
		dedup, tail string
		want        func(d *Definition) // edits scoreDef into the expected Definition
	}{
		{
			name:  "dedup",
			dedup: "  dedup: {field: txn_id, horizon: 1h}\n",
			want:  func(d *Definition) { d.Input.Dedup = &Dedup{Field: "txn_id", Horizon: time.Hour} },
		},
		{
			name:  "dedup by the key field, at the longest horizon",
			dedup: "  dedup:\n    field: card_id\n    horizon: 720h\n",
			want:  func(d *Definition) { d.Input.Dedup = &Dedup{Field: "card_id", Horizon: MaxDedupHorizon} },
		},
		{
			name:  "dedup null",
			dedup: "  dedup:\n",
			want:  func(*Definition) {},
		},
		{
			name:  "dedup ~",
			dedup: "  dedup: ~\n",
			want:  func(*Definition) {},
		},
		{
			name:  "every policy, with dedup",
			dedup: "  dedup: {field: txn_id, horizon: 90s}\n",
			tail:  "on_error: {decode: skip, schema: fail, late: skip, duplicate: dlq}\n",
			want: func(d *Definition) {
				d.Input.Dedup = &Dedup{Field: "txn_id", Horizon: 90 * time.Second}
				d.OnError = OnError{Decode: PolicySkip, Schema: PolicyFail, Late: PolicySkip, Duplicate: PolicyDLQ}
			},
		},
		{
			name: "duplicate: skip without dedup is the default",
			tail: "on_error: {duplicate: skip}\n",
			want: func(d *Definition) { d.OnError.Duplicate = PolicySkip },
		},
		{
			name: "empty quality",
			tail: "quality:\n",
			want: func(*Definition) {},
		},
		{
			name: "histograms and freshness",
			tail: "quality:\n  histograms: [amount, {field: latency_ms, buckets: [-1, 0, 2.5, 1e3]}, {field: fee}]\n  freshness: 90s\n",
			want: func(d *Definition) {
				d.Quality = Quality{
					Histograms: []Histogram{
						{Field: "amount"},
						{Field: "latency_ms", Buckets: []float64{-1, 0, 2.5, 1000}},
						{Field: "fee"},
					},
					Freshness: 90 * time.Second,
				}
			},
		},
		{
			name: "histograms as a block list",
			tail: "quality:\n  histograms:\n    - amount\n    - field: fee\n      buckets:\n        - 1\n        - 10\n",
			want: func(d *Definition) {
				d.Quality.Histograms = []Histogram{{Field: "amount"}, {Field: "fee", Buckets: []float64{1, 10}}}
			},
		},
		{
			name: "empty histograms",
			tail: "quality: {histograms: []}\n",
			want: func(d *Definition) { d.Quality.Histograms = []Histogram{} },
		},
		{
			name: "drift defaults",
			tail: "quality:\n  drift: {features: [amount]}\n",
			want: func(d *Definition) { d.Quality.Drift = driftDefaults("amount") },
		},
		{
			name: "drift of the score alone",
			tail: "quality:\n  drift: {score: true}\n",
			want: func(d *Definition) {
				d.Quality.Drift = driftDefaults()
				d.Quality.Drift.Score = true
			},
		},
		{
			name: "drift with score: false written",
			tail: "quality:\n  drift: {features: [amount, fee], score: false}\n",
			want: func(d *Definition) { d.Quality.Drift = driftDefaults("amount", "fee") },
		},
		{
			name: "every drift setting",
			tail: `quality:
  drift:
    features: [amount, fee]
    score: true
    reference: refs/fraud.json
    window: 2h
    every: 10m
    threshold: 0.25
    min_records: 100
    bins: 20
`,
			want: func(d *Definition) {
				d.Quality.Drift = &Drift{
					Features:   []string{"amount", "fee"},
					Score:      true,
					Reference:  "refs/fraud.json",
					Window:     2 * time.Hour,
					Every:      10 * time.Minute,
					Threshold:  0.25,
					MinRecords: 100,
					Bins:       20,
				}
			},
		},
		{
			name: "every defaults to a quarter of the window written",
			tail: "quality:\n  drift: {features: [amount], window: 2h}\n",
			want: func(d *Definition) {
				d.Quality.Drift = driftDefaults("amount")
				d.Quality.Drift.Window, d.Quality.Drift.Every = 2*time.Hour, 30*time.Minute
			},
		},
		{
			name: "every equal to the window, and the bounds of bins",
			tail: "quality:\n  drift: {features: [amount], window: 1m, every: 1m, bins: 2, min_records: 1}\n",
			want: func(d *Definition) {
				d.Quality.Drift = driftDefaults("amount")
				d.Quality.Drift.Window, d.Quality.Drift.Every = time.Minute, time.Minute
				d.Quality.Drift.Bins, d.Quality.Drift.MinRecords = 2, 1
			},
		},
		{
			name: "drift null",
			tail: "quality:\n  drift:\n",
			want: func(*Definition) {},
		},
		{
			name: "freshness alone",
			tail: "quality: {freshness: 1m}\n",
			want: func(d *Definition) { d.Quality.Freshness = time.Minute },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("p.yaml", []byte(withQuality(t, tt.dedup, tt.tail)))
			if err != nil {
				t.Fatalf("Parse: got error\n%v\nwant none", err)
			}
			want := scoreDef()
			tt.want(want)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("Parse:\ngot  %s\nwant %s", dump(got), dump(want))
			}
			if err := got.Validate(); err != nil {
				t.Errorf("Validate of the parsed definition: got\n%v\nwant nil", err)
			}
		})
	}

	t.Run("the drift topic is free without drift", func(t *testing.T) {
		src := strings.Replace(base, "topic: card-totals", "topic: card-totals-drift", 1)
		if _, err := Parse("p.yaml", []byte(src)); err != nil {
			t.Errorf("Parse: got error\n%v\nwant none", err)
		}
	})
}

// TestParseQualityProblems checks each rule of input.dedup, on_error.duplicate and quality
// through the exact text a user sees.
func TestParseQualityProblems(t *testing.T) {
	tests := []struct {
		name        string
		dedup, tail string
		edit        func(src string) string // when set, edits the file further
		want        []string
	}{
		// input.dedup.
		{
			name:  "dedup a field name",
			dedup: "  dedup: txn_id\n",
			want:  []string{`p.yaml:7:10: input.dedup: must be a mapping, got the string "txn_id"; write dedup: {field: txn_id, horizon: 1h}`},
		},
		{
			name:  "dedup a list",
			dedup: "  dedup: [txn_id]\n",
			want:  []string{"p.yaml:7:10: input.dedup: must be a mapping, got a list; it needs field and horizon, e.g. dedup: {field: txn_id, horizon: 1h}"},
		},
		{
			name:  "dedup empty",
			dedup: "  dedup: {}\n",
			want:  []string{"p.yaml:7:10: input.dedup: is empty; it needs field and horizon, e.g. dedup: {field: txn_id, horizon: 1h}"},
		},
		{
			name:  "dedup field missing",
			dedup: "  dedup: {horizon: 1h}\n",
			want:  []string{"p.yaml:7:3: input.dedup.field: required field is missing; add the field that holds the event id, e.g. field: txn_id"},
		},
		{
			name:  "dedup field empty",
			dedup: "  dedup: {field: '', horizon: 1h}\n",
			want:  []string{"p.yaml:7:18: input.dedup.field: is empty; add the field that holds the event id, e.g. field: txn_id"},
		},
		{
			name:  "dedup horizon missing",
			dedup: "  dedup:\n    field: txn_id\n",
			want:  []string{"p.yaml:7:3: input.dedup.horizon: required field is missing; add how long, in event time, an id is remembered, e.g. horizon: 1h"},
		},
		{
			name:  "dedup horizon without a value",
			dedup: "  dedup:\n    field: txn_id\n    horizon:\n",
			want:  []string{"p.yaml:9:5: input.dedup.horizon: is empty; add how long, in event time, an id is remembered, e.g. horizon: 1h"},
		},
		{
			name:  "dedup by the event time",
			dedup: "  dedup: {field: ts, horizon: 1h}\n",
			want: []string{`p.yaml:7:18: input.dedup.field: "ts" is the event-time field (input.event_time.field), which does not identify an event: ` +
				`distinct events can have the same time; use the field that holds the event id, e.g. field: txn_id`},
		},
		{
			name:  "dedup by a dotted path",
			dedup: "  dedup: {field: txn.id, horizon: 1h}\n",
			want:  []string{`p.yaml:7:18: input.dedup.field: "txn.id" is a dotted path; use a top-level field name (nested fields are not supported yet)`},
		},
		{
			name:  "dedup horizon 0",
			dedup: "  dedup: {field: txn_id, horizon: 0}\n",
			want:  []string{"p.yaml:7:35: input.dedup.horizon: 0s is not more than 0; use a positive duration, e.g. horizon: 1h"},
		},
		{
			name:  "dedup horizon negative",
			dedup: "  dedup: {field: txn_id, horizon: -1h}\n",
			want:  []string{"p.yaml:7:35: input.dedup.horizon: -1h is not more than 0; use a positive duration, e.g. horizon: 1h"},
		},
		{
			name:  "dedup horizon in microseconds",
			dedup: "  dedup: {field: txn_id, horizon: 1500us}\n",
			want:  []string{"p.yaml:7:35: input.dedup.horizon: 1.5ms is not a whole number of milliseconds, the unit of event times; use e.g. 2ms"},
		},
		{
			name:  "dedup horizon too long",
			dedup: "  dedup: {field: txn_id, horizon: 721h}\n",
			want: []string{"p.yaml:7:35: input.dedup.horizon: 721h is more than 720h (30 days), the longest horizon: every id it covers " +
				"is kept in the state and read back by a replay; use at most 720h"},
		},
		{
			name:  "dedup horizon not a duration",
			dedup: "  dedup: {field: txn_id, horizon: 1 hour}\n",
			want:  []string{`p.yaml:7:35: input.dedup.horizon: "1 hour" is not a duration; write a number and a unit, e.g. 500ms, 5s or 1m30s`},
		},
		{
			name:  "dedup ttl",
			dedup: "  dedup: {field: txn_id, ttl: 1h}\n",
			want:  []string{`p.yaml:7:26: input.dedup.ttl: unknown field; did you mean "horizon"?`},
		},
		{
			name:  "horizon in input",
			dedup: "  dedup: {field: txn_id}\n  horizon: 1h\n",
			want:  []string{"p.yaml:8:3: input.horizon: unknown field; it belongs under input.dedup, so move it there"},
		},
		{
			name: "dedup at the top level",
			tail: "dedup: {field: txn_id, horizon: 1h}\n",
			want: []string{"p.yaml:23:1: dedup: unknown field; it belongs under input, so move it there"},
		},

		// on_error.duplicate.
		{
			name: "duplicate policy without dedup",
			tail: "on_error: {duplicate: dlq, late: fail}\n",
			want: []string{
				"p.yaml:23:23: on_error.duplicate: only a pipeline with input.dedup has duplicates, and this one has none; " +
					"remove duplicate: dlq, or add input.dedup, e.g. dedup: {field: txn_id, horizon: 1h}",
			},
		},
		{
			name: "duplicate fail without dedup",
			tail: "on_error:\n  duplicate: fail\n",
			want: []string{
				"p.yaml:24:14: on_error.duplicate: only a pipeline with input.dedup has duplicates, and this one has none; " +
					"remove duplicate: fail, or add input.dedup, e.g. dedup: {field: txn_id, horizon: 1h}",
			},
		},
		{
			name:  "duplicate policy with a broken dedup",
			dedup: "  dedup: txn_id\n",
			tail:  "on_error: {duplicate: fail}\n",
			want:  []string{`p.yaml:7:10: input.dedup: must be a mapping, got the string "txn_id"; write dedup: {field: txn_id, horizon: 1h}`},
		},
		{
			name: "duplicate policy unknown",
			tail: "on_error: {duplicate: drop}\n",
			want: []string{`p.yaml:23:23: on_error.duplicate: "drop" is not a policy; use dlq, skip or fail (dlq: to the dead-letter topic, skip: drop and count, fail: stop at the record)`},
		},
		{
			name: "duplicate policy without a value",
			tail: "on_error:\n  duplicate:\n",
			want: []string{"p.yaml:24:3: on_error.duplicate: has no value; set one, or remove the line to use the default (skip)"},
		},
		{
			name: "duplicates misspelt",
			tail: "on_error: {duplicates: skip}\n",
			want: []string{`p.yaml:23:12: on_error.duplicates: unknown field; did you mean "duplicate"?`},
		},
		{
			name: "duplicate at the top level",
			tail: "duplicate: skip\n",
			want: []string{"p.yaml:23:1: duplicate: unknown field; it belongs under on_error, so move it there"},
		},

		// quality.
		{
			name: "quality a list",
			tail: "quality: [freshness]\n",
			want: []string{"p.yaml:23:10: quality: must be a mapping, got a list; set histograms, freshness or drift, e.g. quality: {freshness: 5m}, or remove it for the defaults"},
		},
		{
			name: "unknown quality settings",
			tail: "quality: {fresh: 5m, staleness: 5m, alerts: true}\n",
			want: []string{
				`p.yaml:23:11: quality.fresh: unknown field; did you mean "freshness"?`,
				`p.yaml:23:22: quality.staleness: unknown field; did you mean "freshness"?`,
				"p.yaml:23:37: quality.alerts: unknown field; the fields here are histograms, freshness and drift",
			},
		},
		{
			name: "quality settings at the top level",
			tail: "freshness: 5m\nhistograms: [amount]\nreference: r.json\n",
			want: []string{
				"p.yaml:23:1: freshness: unknown field; it belongs under quality, so move it there",
				"p.yaml:24:1: histograms: unknown field; it belongs under quality, so move it there",
				"p.yaml:25:1: reference: unknown field; it belongs under quality.drift, so move it there",
			},
		},
		{
			name: "kinds at the top level",
			tail: "window: 1h\nscore: true\n",
			want: []string{
				"p.yaml:23:1: window: unknown field; it belongs in an entry of operators or under quality.drift, so move it there",
				"p.yaml:24:1: score: unknown field; it belongs in an entry of operators or under quality.drift, so move it there",
			},
		},
		{
			name: "freshness",
			tail: "quality:\n  freshness:\n",
			want: []string{"p.yaml:24:3: quality.freshness: has no value; set one, or remove the line to use the default (10m)"},
		},
		{
			name: "freshness 0",
			tail: "quality: {freshness: 0s}\n",
			want: []string{"p.yaml:23:22: quality.freshness: 0s is not more than 0; use a positive duration, e.g. 10m (the default)"},
		},
		{
			name: "freshness negative",
			tail: "quality: {freshness: -5m}\n",
			want: []string{"p.yaml:23:22: quality.freshness: -5m is not more than 0; use a positive duration, e.g. 10m (the default)"},
		},
		{
			name: "freshness without a unit",
			tail: "quality: {freshness: 300}\n",
			want: []string{"p.yaml:23:22: quality.freshness: 300 has no unit; write e.g. 300ms or 300s"},
		},

		// quality.histograms.
		{
			name: "histograms a mapping",
			tail: "quality:\n  histograms: {amount: [1, 2]}\n",
			want: []string{`p.yaml:24:15: quality.histograms: must be a list, got a mapping; start each histogram with "- ", e.g. - amount or - {field: latency_ms, buckets: [10, 50, 100]}`},
		},
		{
			name: "histograms a field name",
			tail: "quality:\n  histograms: amount\n",
			want: []string{`p.yaml:24:15: quality.histograms: must be a list, got the string "amount"; write histograms: [amount]`},
		},
		{
			name: "histograms a number",
			tail: "quality:\n  histograms: 10\n",
			want: []string{"p.yaml:24:15: quality.histograms: must be a list of fields, got the number 10; e.g. histograms: [amount]"},
		},
		{
			name: "histogram entries of the wrong kinds",
			tail: "quality:\n  histograms: [~, '', 5, [a], {}, {buckets: [1]}]\n",
			want: []string{
				"p.yaml:24:16: quality.histograms[0]: is empty; write a field name, e.g. - amount, or remove the entry",
				"p.yaml:24:19: quality.histograms[1]: is empty; write a field name, e.g. - amount, or remove the entry",
				`p.yaml:24:23: quality.histograms[2]: must be a string, got the number 5; quote it to make it one: "5"`,
				"p.yaml:24:26: quality.histograms[3]: must be a field name or a mapping such as {field: latency_ms, buckets: [10, 50, 100]}, got a list",
				"p.yaml:24:31: quality.histograms[4]: is empty; it needs field, e.g. - {field: latency_ms, buckets: [10, 50, 100, 500]}, or write just the field: - latency_ms",
				"p.yaml:24:35: quality.histograms[5].field: required field is missing; add the numeric field, e.g. field: latency_ms",
			},
		},
		{
			name: "histogram fields",
			tail: "quality:\n  histograms: [amount, fee, {field: amount}, a.b, ' c']\n",
			want: []string{
				`p.yaml:24:37: quality.histograms[2].field: "amount" is listed twice (also quality.histograms[0]); remove one`,
				`p.yaml:24:46: quality.histograms[3].field: "a.b" is a dotted path; use a top-level field name (nested fields are not supported yet)`,
				`p.yaml:24:51: quality.histograms[4].field: " c" has spaces at its start or end; remove them`,
			},
		},
		{
			name: "histogram settings",
			tail: "quality:\n  histograms:\n    - {field: a, bins: [1]}\n    - field: b\n      buckets:\n    - {field: c, buckets: 10}\n    - {field: d, buckets: []}\n    - {field: e, buckets: {le: 1}}\n",
			want: []string{
				`p.yaml:25:18: quality.histograms[0].bins: unknown field; did you mean "buckets"?`,
				"p.yaml:27:7: quality.histograms[1].buckets: has no value; set one, or remove the line to use the default (1, 2 and 5 per decade from 0.01 to 1e6)",
				"p.yaml:28:27: quality.histograms[2].buckets: must be a list, got the number 10; write buckets: [10]",
				"p.yaml:29:27: quality.histograms[3].buckets: is empty; list the upper bounds of the buckets, e.g. buckets: [10, 50, 100, 500], " +
					"or remove the line for the default (1, 2 and 5 per decade from 0.01 to 1e6)",
				"p.yaml:30:27: quality.histograms[4].buckets: must be a list of numbers, got a mapping; e.g. buckets: [10, 50, 100, 500]",
			},
		},
		{
			name: "bucket bounds",
			tail: "quality:\n  histograms:\n    - {field: a, buckets: [10, 5, 5, .inf, 20, .nan, 21]}\n    - {field: b, buckets: [1, '2', 1]}\n",
			want: []string{
				"p.yaml:25:32: quality.histograms[0].buckets[1]: 5 is not more than the bound before it, 10; list the bounds in ascending order, each once",
				"p.yaml:25:35: quality.histograms[0].buckets[2]: 5 is not more than the bound before it, 5; list the bounds in ascending order, each once",
				"p.yaml:25:38: quality.histograms[0].buckets[3]: +Inf is not a finite number; write the upper bound of a bucket (the +Inf bucket is always there)",
				"p.yaml:25:48: quality.histograms[0].buckets[5]: NaN is not a finite number; write the upper bound of a bucket (the +Inf bucket is always there)",
				// The order of the others waits for the entry that is not a number.
				`p.yaml:26:31: quality.histograms[1].buckets[1]: must be a number such as 0.99, got the string "2"; remove the quotes`,
			},
		},
		{
			name: "too many buckets",
			tail: "quality:\n  histograms:\n    - {field: a, buckets: [" + strings.Repeat("1, ", MaxHistogramBuckets) + "1]}\n",
			want: []string{"p.yaml:25:27: quality.histograms[0].buckets: has 101 buckets; a histogram has at most 100, since each one is a time series, so use fewer"},
		},

		// quality.drift.
		{
			name: "drift empty",
			tail: "quality:\n  drift: {}\n",
			want: []string{"p.yaml:24:10: quality.drift: is empty; it needs features, or score: true, e.g. drift: {features: [amount]}"},
		},
		{
			name: "drift a list",
			tail: "quality:\n  drift: [amount]\n",
			want: []string{"p.yaml:24:10: quality.drift: must be a mapping, got a list; it needs features, or score: true, e.g. drift: {features: [amount]}"},
		},
		{
			name: "drift of nothing",
			tail: "quality:\n  drift:\n    window: 1h\n    score: false\n",
			want: []string{"p.yaml:24:3: quality.drift.features: required field is missing; watch at least one numeric field, e.g. features: [amount], or the model's score with score: true"},
		},
		{
			name: "drift features empty",
			tail: "quality:\n  drift: {features: []}\n",
			want: []string{"p.yaml:24:21: quality.drift.features: is empty; watch at least one numeric field, e.g. features: [amount], or the model's score with score: true"},
		},
		{
			name: "drift features a field name",
			tail: "quality:\n  drift: {features: amount}\n",
			want: []string{`p.yaml:24:21: quality.drift.features: must be a list, got the string "amount"; write features: [amount]`},
		},
		{
			name: "drift features",
			tail: "quality:\n  drift:\n    features: [amount, card_id, ts, '', amount, window.count, 3]\n",
			want: []string{
				`p.yaml:25:24: quality.drift.features[1]: "card_id" is the key field (input.key_field), which identifies records rather than measuring them; watch a numeric field such as amount`,
				`p.yaml:25:33: quality.drift.features[2]: "ts" is the event-time field (input.event_time.field), whose distribution moves with time, so it would always drift; watch a numeric field such as amount`,
				"p.yaml:25:37: quality.drift.features[3]: is empty; write a field name or remove the entry",
				`p.yaml:25:41: quality.drift.features[4]: "amount" is listed twice (also features[0]); remove one`,
				`p.yaml:25:49: quality.drift.features[5]: "window.count" is a dotted path; use a top-level field name (nested fields are not supported yet)`,
				`p.yaml:25:63: quality.drift.features[6]: must be a string, got the number 3; quote it to make it one: "3"`,
			},
		},
		{
			name: "drift score quoted",
			tail: "quality:\n  drift: {score: 'true'}\n",
			want: []string{`p.yaml:24:18: quality.drift.score: must be true or false, got the string "true"; remove the quotes`},
		},
		{
			name: "drift reference",
			tail: "quality:\n  drift: {features: [amount], reference: ''}\n",
			want: []string{"p.yaml:24:42: quality.drift.reference: is empty; write the path of the reference file (kappa profile makes it), or remove the line"},
		},
		{
			name: "drift reference without a value",
			tail: "quality:\n  drift:\n    features: [amount]\n    reference:\n",
			want: []string{"p.yaml:26:5: quality.drift.reference: has no value; set one, or remove the line to use the default (none)"},
		},
		{
			name: "drift window",
			tail: "quality:\n  drift: {features: [amount], window: 0s, every: 1m}\n",
			want: []string{"p.yaml:24:39: quality.drift.window: 0s is not more than 0; use a positive duration, e.g. 1h (the default)"},
		},
		{
			name: "drift window negative",
			tail: "quality:\n  drift: {features: [amount], window: -1h}\n",
			want: []string{"p.yaml:24:39: quality.drift.window: -1h is not more than 0; use a positive duration, e.g. 1h (the default)"},
		},
		{
			name: "drift window in microseconds",
			tail: "quality:\n  drift: {features: [amount], window: 1500us, every: 1ms}\n",
			want: []string{"p.yaml:24:39: quality.drift.window: 1.5ms is not a whole number of milliseconds, the unit of event times; use e.g. 2ms"},
		},
		{
			name: "drift window unreadable, every is not checked against the default",
			tail: "quality:\n  drift: {features: [amount], window: 1 hour, every: 7m}\n",
			want: []string{`p.yaml:24:39: quality.drift.window: "1 hour" is not a duration; write a number and a unit, e.g. 500ms, 5s or 1m30s`},
		},
		{
			name: "drift every 0",
			tail: "quality:\n  drift: {features: [amount], every: 0s}\n",
			want: []string{"p.yaml:24:38: quality.drift.every: 0s is not more than 0; use a positive duration that divides the window, e.g. 15m (window/4, the default)"},
		},
		{
			name: "drift every not a divisor",
			tail: "quality:\n  drift: {features: [amount], every: 7m}\n",
			want: []string{"p.yaml:24:38: quality.drift.every: the window, 1h, is not a whole multiple of 7m; use an every that divides it, e.g. 15m (window/4, the default)"},
		},
		{
			name: "drift every longer than the window",
			tail: "quality:\n  drift: {features: [amount], window: 10m, every: 20m}\n",
			want: []string{"p.yaml:24:51: quality.drift.every: 20m is more than the window, 10m, which must be a whole multiple of it; use e.g. 2m30s (window/4, the default)"},
		},
		{
			name: "drift every in microseconds",
			tail: "quality:\n  drift: {features: [amount], window: 1s, every: 1500us}\n",
			want: []string{"p.yaml:24:50: quality.drift.every: 1.5ms is not a whole number of milliseconds, the unit of event times; use one that divides the window, e.g. 250ms (window/4, the default)"},
		},
		{
			name: "drift default every not whole",
			tail: "quality:\n  drift: {features: [amount], window: 10ms}\n",
			want: []string{"p.yaml:24:10: quality.drift.every: the default, window/4, is 2.5ms, which is not a whole number of milliseconds, the unit of event times; set every to one that divides the window, e.g. every: 2ms"},
		},
		{
			name: "drift every without a value",
			tail: "quality:\n  drift:\n    features: [amount]\n    every:\n",
			want: []string{"p.yaml:26:5: quality.drift.every: has no value; set one, or remove the line to use the default (window/4)"},
		},
		{
			name: "drift threshold",
			tail: "quality:\n  drift:\n    features: [amount]\n    threshold: 0\n",
			want: []string{"p.yaml:26:16: quality.drift.threshold: 0 is not more than 0, so every window would count as drifted; use a PSI above 0, e.g. 0.2 (the default)"},
		},
		{
			name: "drift threshold negative",
			tail: "quality:\n  drift:\n    features: [amount]\n    threshold: -0.1\n",
			want: []string{"p.yaml:26:16: quality.drift.threshold: -0.1 is not more than 0, so every window would count as drifted; use a PSI above 0, e.g. 0.2 (the default)"},
		},
		{
			name: "drift threshold infinite",
			tail: "quality:\n  drift:\n    features: [amount]\n    threshold: .inf\n",
			want: []string{"p.yaml:26:16: quality.drift.threshold: +Inf is not a finite number; use a PSI above 0, e.g. 0.2 (the default)"},
		},
		{
			name: "drift threshold quoted",
			tail: "quality:\n  drift:\n    features: [amount]\n    threshold: '0.2'\n",
			want: []string{`p.yaml:26:16: quality.drift.threshold: must be a number such as 0.99, got the string "0.2"; remove the quotes`},
		},
		{
			name: "drift min_records",
			tail: "quality:\n  drift: {features: [amount], min_records: 0}\n",
			want: []string{"p.yaml:24:44: quality.drift.min_records: 0 is less than 1; a window needs records to be evaluated, so use e.g. 500 (the default)"},
		},
		{
			name: "drift min_records not whole",
			tail: "quality:\n  drift: {features: [amount], min_records: 1.5}\n",
			want: []string{"p.yaml:24:44: quality.drift.min_records: must be a whole number such as 500, got the number 1.5"},
		},
		{
			name: "drift min_records quoted",
			tail: "quality:\n  drift: {features: [amount], min_records: '5'}\n",
			want: []string{`p.yaml:24:44: quality.drift.min_records: must be a whole number such as 500, got the string "5"; remove the quotes`},
		},
		{
			name: "drift bins",
			tail: "quality:\n  drift: {features: [amount], bins: 1}\n",
			want: []string{"p.yaml:24:37: quality.drift.bins: 1 is not from 2 to 100; use e.g. 10 (the default)"},
		},
		{
			name: "drift bins too many",
			tail: "quality:\n  drift: {features: [amount], bins: 101}\n",
			want: []string{"p.yaml:24:37: quality.drift.bins: 101 is not from 2 to 100; use e.g. 10 (the default)"},
		},
		{
			name: "drift settings misspelt",
			tail: "quality:\n  drift: {features: [amount], buckets: 10, interval: 1m, psi_threshold: 0.1, min_count: 5}\n",
			want: []string{
				`p.yaml:24:31: quality.drift.buckets: unknown field; did you mean "bins"?`,
				`p.yaml:24:44: quality.drift.interval: unknown field; did you mean "every"?`,
				`p.yaml:24:58: quality.drift.psi_threshold: unknown field; did you mean "threshold"?`,
				`p.yaml:24:78: quality.drift.min_count: unknown field; did you mean "min_records"?`,
			},
		},
		{
			name: "a drift setting in an operator is sent to the operators' homes",
			edit: func(src string) string { return strings.Replace(src, alertLine, "      threshold: 0.9\n", 1) },
			want: []string{"p.yaml:20:7: operators[1].score.threshold: unknown field; it belongs under operators[].score.alert, so move it there"},
		},

		// The drift topic.
		{
			name: "output is the drift topic",
			tail: "quality: {drift: {features: [amount]}}\n",
			edit: func(src string) string { return strings.Replace(src, "topic: fraud-scores", "topic: fraud-drift", 1) },
			want: []string{`p.yaml:22:10: output.topic: "fraud-drift" is the drift topic of this pipeline; choose another topic`},
		},
		{
			name: "input is the drift topic",
			tail: "quality: {drift: {score: true}}\n",
			edit: func(src string) string {
				return strings.Replace(src, "[transactions]", "[transactions, fraud-drift]", 1)
			},
			want: []string{`p.yaml:3:26: input.topics[1]: "fraud-drift" is the drift topic of this pipeline; choose another topic`},
		},
		{
			name: "alert topic is the drift topic",
			tail: "quality: {drift: {score: true}}\n",
			edit: func(src string) string { return strings.Replace(src, "topic: fraud-alerts", "topic: fraud-drift", 1) },
			want: []string{`p.yaml:20:38: operators[1].score.alert.topic: "fraud-drift" is the drift topic of this pipeline; choose another topic`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := withQuality(t, tt.dedup, tt.tail)
			if tt.edit != nil {
				src = tt.edit(src)
			}
			checkProblems(t, src, tt.want)
		})
	}
}

// TestParseDriftScore checks that score: true needs a score operator.
func TestParseDriftScore(t *testing.T) {
	src := base + "quality:\n  drift: {features: [amount], score: true}\n"
	checkProblems(t, src, []string{
		"p.yaml:15:38: quality.drift.score: score: true watches the score of the score operator, and this pipeline has none; " +
			"remove score: true, or add a score operator as the last of operators",
	})

	// With operators that cannot be read, the score operator may be among them.
	src = strings.Replace(src, "  - aggregate:", "  - aggregat:", 1)
	checkProblems(t, src, []string{`p.yaml:10:5: operators[0].aggregat: unknown operator kind; did you mean "aggregate"?`})
}

// TestParseDriftReference checks that Parse and Load resolve a relative reference against
// the directory of the pipeline file, as they do model files, and keep absolute ones.
func TestParseDriftReference(t *testing.T) {
	abs, err := filepath.Abs(filepath.Join("srv", "refs", "fraud.json"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, filename, reference, want string
	}{
		{"in the working directory", "p.yaml", "refs/fraud.json", "refs/fraud.json"},
		{"no file name", "", "./fraud.json", "fraud.json"},
		{"in a directory", filepath.Join("pipelines", "eu", "p.yaml"), "../refs/fraud.json", filepath.Join("pipelines", "refs", "fraud.json")},
		{"absolute reference", filepath.Join("pipelines", "p.yaml"), abs, abs},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := withQuality(t, "", "quality:\n  drift: {score: true, reference: '"+tt.reference+"'}\n")
			d, err := Parse(tt.filename, []byte(src))
			if err != nil {
				t.Fatalf("Parse: got error\n%v\nwant none", err)
			}
			if got := d.Quality.Drift.Reference; got != tt.want {
				t.Errorf("Parse: got reference %q, want %q", got, tt.want)
			}
		})
	}
}
