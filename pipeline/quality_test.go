package pipeline

import (
	"testing"
	"time"
)

// TestValidateQuality checks the rules of input.dedup and on_error.duplicate on
// definitions built in Go, defaults applied unless the case says otherwise.
func TestValidateQuality(t *testing.T) {
	tests := []struct {
		name string
		edit func(d *Definition)
		want []string
	}{
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := scoreDef()
			tt.edit(d)
			checkValidate(t, d, tt.want)
		})
	}
}
