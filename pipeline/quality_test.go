package pipeline

import (
	"math"
	"reflect"
	"testing"
	"time"
)

// TestValidateQuality checks the rules of input.dedup, on_error.duplicate and quality on
// definitions built in Go, defaults applied unless the case says otherwise.
func TestValidateQuality(t *testing.T) {
	tests := []struct {
		name string
		edit func(d *Definition)
		want []string
	}{
		{
			name: "everything set",
			edit: func(d *Definition) {
				d.Input.Dedup = &Dedup{Field: "card_id", Horizon: MaxDedupHorizon}
				d.OnError.Duplicate = PolicyFail
				d.Quality = Quality{
					Histograms: []Histogram{{Field: "amount"}, {Field: "fee", Buckets: []float64{-1, 0, 1}}},
					Freshness:  time.Minute,
					Drift:      &Drift{Features: []string{"amount"}, Score: true, Reference: "ref.json", Window: time.Minute, Every: time.Minute},
				}
				d.ApplyDefaults()
			},
		},
		{
			name: "dedup zero",
			edit: func(d *Definition) { d.Input.Dedup = &Dedup{} },
			want: []string{
				"input.dedup.field: required field is missing; add the field that holds the event id, e.g. field: txn_id",
				"input.dedup.horizon: required field is missing; add how long, in event time, an id is remembered, e.g. horizon: 1h",
			},
		},
		{
			name: "dedup by the event time, negative horizon",
			edit: func(d *Definition) { d.Input.Dedup = &Dedup{Field: "ts", Horizon: -time.Second} },
			want: []string{
				`input.dedup.field: "ts" is the event-time field (input.event_time.field), which does not identify an event: ` +
					"distinct events can have the same time; use the field that holds the event id, e.g. field: txn_id",
				"input.dedup.horizon: -1s is not more than 0; use a positive duration, e.g. horizon: 1h",
			},
		},
		{
			name: "dedup horizon not whole",
			edit: func(d *Definition) { d.Input.Dedup = &Dedup{Field: "txn_id", Horizon: time.Hour + time.Nanosecond} },
			want: []string{"input.dedup.horizon: 1h0m0.000000001s is not a whole number of milliseconds, the unit of event times; use e.g. 1h0m0.001s"},
		},
		{
			name: "dedup horizon too long",
			edit: func(d *Definition) {
				d.Input.Dedup = &Dedup{Field: "txn_id", Horizon: MaxDedupHorizon + time.Millisecond}
			},
			want: []string{"input.dedup.horizon: 720h0m0.001s is more than 720h (30 days), the longest horizon: every id it covers " +
				"is kept in the state and read back by a replay; use at most 720h"},
		},
		{
			name: "duplicate policy without dedup",
			edit: func(d *Definition) { d.OnError.Duplicate = PolicyDLQ },
			want: []string{"on_error.duplicate: only a pipeline with input.dedup has duplicates, and this one has none; " +
				"remove duplicate: dlq, or add input.dedup, e.g. dedup: {field: txn_id, horizon: 1h}"},
		},
		{
			name: "duplicate skip without dedup",
			edit: func(d *Definition) { d.OnError.Duplicate = PolicySkip },
		},
		{
			name: "duplicate policy unknown",
			edit: func(d *Definition) { d.OnError.Duplicate = "Skip" },
			want: []string{`on_error.duplicate: "Skip" is not a policy; did you mean "skip"? (dlq: to the dead-letter topic, skip: drop and count, fail: stop at the record)`},
		},
		{
			name: "histograms",
			edit: func(d *Definition) {
				d.Quality.Histograms = []Histogram{
					{Field: "amount", Buckets: []float64{1, math.NaN(), 0.5, math.Inf(1)}},
					{},
					{Field: "amount"},
					{Field: "fee", Buckets: make([]float64, MaxHistogramBuckets+1)},
				}
			},
			want: []string{
				"quality.histograms[0].buckets[1]: NaN is not a finite number; write the upper bound of a bucket (the +Inf bucket is always there)",
				"quality.histograms[0].buckets[2]: 0.5 is not more than the bound before it, 1; list the bounds in ascending order, each once",
				"quality.histograms[0].buckets[3]: +Inf is not a finite number; write the upper bound of a bucket (the +Inf bucket is always there)",
				"quality.histograms[1].field: required field is missing; add the numeric field, e.g. field: latency_ms",
				`quality.histograms[2].field: "amount" is listed twice (also quality.histograms[0]); remove one`,
				"quality.histograms[3].buckets: has 101 buckets; a histogram has at most 100, since each one is a time series, so use fewer",
			},
		},
		{
			name: "freshness negative",
			edit: func(d *Definition) { d.Quality.Freshness = -time.Minute },
			want: []string{"quality.freshness: -1m is not more than 0; use a positive duration, e.g. 10m (the default)"},
		},
		{
			name: "drift without defaults",
			edit: func(d *Definition) { d.Quality.Drift = &Drift{Features: []string{"amount"}} },
			want: []string{
				"quality.drift.window: 0s is not more than 0; use a positive duration, e.g. 1h (the default)",
				"quality.drift.threshold: 0 is not more than 0, so every window would count as drifted; use a PSI above 0, e.g. 0.2 (the default)",
				"quality.drift.min_records: 0 is less than 1; a window needs records to be evaluated, so use e.g. 500 (the default)",
				"quality.drift.bins: 0 is not from 2 to 100; use e.g. 10 (the default)",
			},
		},
		{
			name: "drift of nothing",
			edit: func(d *Definition) { d.Quality.Drift = driftDefaults() },
			want: []string{"quality.drift.features: required field is missing; watch at least one numeric field, e.g. features: [amount], or the model's score with score: true"},
		},
		{
			name: "drift features",
			edit: func(d *Definition) {
				d.Quality.Drift = driftDefaults("amount", "", "card_id", "ts", "amount", "window.txn_count")
			},
			want: []string{
				"quality.drift.features[1]: is empty; write a field name or remove the entry",
				`quality.drift.features[2]: "card_id" is the key field (input.key_field), which identifies records rather than measuring them; watch a numeric field such as amount`,
				`quality.drift.features[3]: "ts" is the event-time field (input.event_time.field), whose distribution moves with time, so it would always drift; watch a numeric field such as amount`,
				`quality.drift.features[4]: "amount" is listed twice (also features[0]); remove one`,
				`quality.drift.features[5]: "window.txn_count" is a dotted path; use a top-level field name (nested fields are not supported yet)`,
			},
		},
		{
			name: "drift score without a score operator",
			edit: func(d *Definition) {
				d.Operators = d.Operators[:1]
				d.Quality.Drift = driftDefaults()
				d.Quality.Drift.Score = true
			},
			want: []string{"quality.drift.score: score: true watches the score of the score operator, and this pipeline has none; " +
				"remove score: true, or add a score operator as the last of operators"},
		},
		{
			name: "drift reference with NUL",
			edit: func(d *Definition) {
				d.Quality.Drift = driftDefaults("amount")
				d.Quality.Drift.Reference = "ref\x00.json"
			},
			want: []string{`quality.drift.reference: "ref\x00.json" contains a NUL byte, which no file system allows; remove it`},
		},
		{
			name: "drift window not whole, every unchecked",
			edit: func(d *Definition) {
				d.Quality.Drift = driftDefaults("amount")
				d.Quality.Drift.Window, d.Quality.Drift.Every = time.Hour+time.Microsecond, time.Nanosecond
			},
			want: []string{"quality.drift.window: 1h0m0.000001s is not a whole number of milliseconds, the unit of event times; use e.g. 1h0m0.001s"},
		},
		{
			name: "drift every longer than the window",
			edit: func(d *Definition) {
				d.Quality.Drift = driftDefaults("amount")
				d.Quality.Drift.Every = 2 * time.Hour
			},
			want: []string{"quality.drift.every: 2h is more than the window, 1h, which must be a whole multiple of it; use e.g. 15m (window/4, the default)"},
		},
		{
			name: "drift every not a divisor, of a window with no whole quarter",
			edit: func(d *Definition) {
				d.Quality.Drift = driftDefaults("amount")
				d.Quality.Drift.Window, d.Quality.Drift.Every = 1009*time.Millisecond, 2*time.Millisecond
			},
			want: []string{"quality.drift.every: the window, 1.009s, is not a whole multiple of 2ms; use an every that divides it, e.g. 1.009s"},
		},
		{
			name: "drift default every not whole",
			edit: func(d *Definition) {
				d.Quality.Drift = &Drift{Features: []string{"amount"}, Window: 6 * time.Millisecond}
				d.ApplyDefaults()
			},
			want: []string{"quality.drift.every: the default, window/4, is 1.5ms, which is not a whole number of milliseconds, the unit of event times; " +
				"set every to one that divides the window, e.g. every: 1ms"},
		},
		{
			name: "drift threshold NaN, bins too many, min_records negative",
			edit: func(d *Definition) {
				d.Quality.Drift = driftDefaults("amount")
				d.Quality.Drift.Threshold, d.Quality.Drift.Bins, d.Quality.Drift.MinRecords = math.NaN(), 101, -1
			},
			want: []string{
				"quality.drift.threshold: NaN is not a finite number; use a PSI above 0, e.g. 0.2 (the default)",
				"quality.drift.min_records: -1 is less than 1; a window needs records to be evaluated, so use e.g. 500 (the default)",
				"quality.drift.bins: 101 is not from 2 to 100; use e.g. 10 (the default)",
			},
		},
		{
			name: "drift topic as an input and as the alert topic",
			edit: func(d *Definition) {
				d.Quality.Drift = driftDefaults("amount")
				d.Input.Topics = append(d.Input.Topics, d.DriftTopic())
				d.ScoreOp().Alert.Topic = d.DriftTopic()
			},
			want: []string{
				`input.topics[1]: "fraud-drift" is the drift topic of this pipeline; choose another topic`,
				`operators[1].score.alert.topic: "fraud-drift" is the drift topic of this pipeline; choose another topic`,
			},
		},
		{
			name: "drift topic as the output",
			edit: func(d *Definition) {
				d.Quality.Drift = driftDefaults("amount")
				d.Output.Topic = d.DriftTopic()
			},
			want: []string{`output.topic: "fraud-drift" is the drift topic of this pipeline; choose another topic`},
		},
		{
			name: "drift topic free without drift",
			edit: func(d *Definition) { d.Output.Topic = d.DriftTopic() },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := scoreDef()
			tt.edit(d)
			checkValidate(t, d, tt.want)
		})
	}
}

func TestApplyDefaultsQuality(t *testing.T) {
	t.Run("no drift", func(t *testing.T) {
		d := &Definition{Name: "x", Quality: Quality{Histograms: []Histogram{{Field: "amount"}}}}
		d.ApplyDefaults()
		want := Quality{Histograms: []Histogram{{Field: "amount"}}, Freshness: DefaultFreshness}
		if !reflect.DeepEqual(d.Quality, want) {
			t.Errorf("ApplyDefaults: got %+v, want %+v (no drift, buckets left empty)", d.Quality, want)
		}
	})
	tests := []struct {
		name       string
		give, want Drift
	}{
		{"zero", Drift{}, *driftDefaults()},
		{
			"every from the window given",
			Drift{Window: 2 * time.Hour},
			Drift{Window: 2 * time.Hour, Every: 30 * time.Minute, Threshold: DefaultDriftThreshold, MinRecords: DefaultDriftMinRecords, Bins: DefaultDriftBins},
		},
		{
			"every set",
			Drift{Features: []string{"a"}, Score: true, Reference: "r.json", Window: time.Minute, Every: time.Second, Threshold: 0.1, MinRecords: 1, Bins: 2},
			Drift{Features: []string{"a"}, Score: true, Reference: "r.json", Window: time.Minute, Every: time.Second, Threshold: 0.1, MinRecords: 1, Bins: 2},
		},
		{
			// A negative window is reported by Validate; a default every from it would be
			// a second report of the one mistake.
			"negative window",
			Drift{Window: -time.Hour},
			Drift{Window: -time.Hour, Threshold: DefaultDriftThreshold, MinRecords: DefaultDriftMinRecords, Bins: DefaultDriftBins},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dr := tt.give
			d := &Definition{Name: "x", Quality: Quality{Freshness: time.Minute, Drift: &dr}}
			d.ApplyDefaults()
			if d.Quality.Freshness != time.Minute {
				t.Errorf("ApplyDefaults: got freshness %v, want the 1m given", d.Quality.Freshness)
			}
			if !reflect.DeepEqual(*d.Quality.Drift, tt.want) {
				t.Errorf("ApplyDefaults:\ngot  %+v\nwant %+v", *d.Quality.Drift, tt.want)
			}
		})
	}

	// Parse and ApplyDefaults agree on what a file leaves out.
	t.Run("as Parse", func(t *testing.T) {
		parsed, err := Parse("p.yaml", []byte(withQuality(t, "", "quality:\n  histograms: [amount]\n  drift: {features: [amount], window: 2h}\n")))
		if err != nil {
			t.Fatal(err)
		}
		built := scoreDef()
		built.Quality = Quality{Histograms: []Histogram{{Field: "amount"}}, Drift: &Drift{Features: []string{"amount"}, Window: 2 * time.Hour}}
		built.ApplyDefaults()
		if !reflect.DeepEqual(parsed, built) {
			t.Errorf("Parse:\ngot  %s\nwant %s (ApplyDefaults)", dump(parsed), dump(built))
		}
	})
}

func TestDriftNames(t *testing.T) {
	d := &Definition{Name: "fraud"}
	if got, want := d.DriftTopic(), "fraud-drift"; got != want {
		t.Errorf("DriftTopic: got %q, want %q", got, want)
	}
	if d.HasDrift() {
		t.Errorf("HasDrift without quality.drift: got true, want false")
	}
	d.Quality.Drift = &Drift{}
	if !d.HasDrift() {
		t.Errorf("HasDrift with quality.drift: got false, want true")
	}
}

func TestEveryFor(t *testing.T) {
	tests := []struct{ window, want time.Duration }{
		{time.Hour, 15 * time.Minute},
		{10 * time.Millisecond, 2 * time.Millisecond},
		{6 * time.Millisecond, time.Millisecond},
		{3 * time.Millisecond, time.Millisecond},
		{2 * time.Millisecond, time.Millisecond},
		{time.Millisecond, time.Millisecond},
		{1009 * time.Millisecond, 1009 * time.Millisecond}, // a prime: only itself
		{2018 * time.Millisecond, 1009 * time.Millisecond},
	}
	for _, tt := range tests {
		got := everyFor(tt.window)
		if got != tt.want {
			t.Errorf("everyFor(%v): got %v, want %v", tt.window, got, tt.want)
		}
		if got <= 0 || tt.window%got != 0 || got%time.Millisecond != 0 {
			t.Errorf("everyFor(%v): got %v, want a positive whole number of milliseconds that divides it", tt.window, got)
		}
	}
}
