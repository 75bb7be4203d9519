package pipeline

import (
	"reflect"
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
}

// TestParseQualityProblems checks each rule of input.dedup and on_error.duplicate through
// the exact text a user sees.
func TestParseQualityProblems(t *testing.T) {
	tests := []struct {
		name        string
		dedup, tail string
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
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblems(t, withQuality(t, tt.dedup, tt.tail), tt.want)
		})
	}
}
