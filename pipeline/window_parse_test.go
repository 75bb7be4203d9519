package pipeline

import (
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// windowBase is a minimal valid file with a window operator; the cases below edit one part
// of it so that their line and column numbers are easy to check against it.
const windowBase = `name: card-windows
input:
  topics: [transactions]
  format: json
  key_field: card_id
  event_time: {field: ts, format: epoch_millis}
operators:
  - window:
      type: hopping
      size: 10m
      advance: 1m
      aggregates:
        - {fn: count}
        - {fn: sum, field: amount}
output:
  topic: card-windows
`

// editWindow returns windowBase with the one occurrence of old replaced by repl.
func editWindow(t *testing.T, old, repl string) string {
	t.Helper()
	if n := strings.Count(windowBase, old); n != 1 {
		t.Fatalf("editWindow: %q occurs %d times in windowBase, want 1", old, n)
	}
	return strings.Replace(windowBase, old, repl, 1)
}

// windowDef is the Definition of windowBase, defaults applied.
func windowDef() *Definition {
	return &Definition{
		Name: "card-windows",
		Input: Input{
			Topics:    []string{"transactions"},
			Format:    FormatJSON,
			KeyField:  "card_id",
			EventTime: EventTime{Field: "ts", Format: TimeEpochMillis},
		},
		Operators: []Operator{{Window: &Window{
			Type:    WindowHopping,
			Size:    10 * time.Minute,
			Advance: time.Minute,
			Emit:    EmitFinal,
			Aggregates: []Aggregation{
				{Func: AggCount},
				{Func: AggSum, Field: "amount"},
			},
		}}},
		Output:         Output{Topic: "card-windows"},
		Quality:        Quality{Freshness: DefaultFreshness},
		ExactlyOnce:    true,
		CommitInterval: 100 * time.Millisecond,
		StateDir:       "./kappa-state/card-windows",
	}
}

// theWindow returns the settings of the one window operator of d.
func theWindow(d *Definition) *Window { return d.Operators[0].Window }

func TestParseWindow(t *testing.T) {
	tests := []struct {
		name string
		yaml func(t *testing.T) string
		want func(d *Definition) // edits windowDef into the expected Definition
	}{
		{
			name: "defaults",
			yaml: func(*testing.T) string { return windowBase },
			want: func(*Definition) {},
		},
		{
			name: "the example of the spec",
			yaml: func(t *testing.T) string {
				return editWindow(t, "      aggregates:\n        - {fn: count}\n        - {fn: sum, field: amount}\n", `      grace: 30s
      emit: update
      aggregates:
        - {fn: count}
        - {fn: sum, field: amount}
        - {fn: max, field: amount, as: max_amount}
        - {fn: count_distinct, field: merchant}
        - {fn: quantile, field: amount, q: 0.99}
`)
			},
			want: func(d *Definition) {
				w := theWindow(d)
				w.Grace, w.Emit = 30*time.Second, EmitUpdate
				w.Aggregates = append(w.Aggregates,
					Aggregation{Func: AggMax, Field: "amount", As: "max_amount"},
					Aggregation{Func: AggCountDistinct, Field: "merchant"},
					Aggregation{Func: AggQuantile, Field: "amount", Q: 0.99},
				)
			},
		},
		{
			name: "tumbling",
			yaml: func(t *testing.T) string {
				return editWindow(t, "      type: hopping\n      size: 10m\n      advance: 1m\n", "      type: tumbling\n      size: 5m\n")
			},
			want: func(d *Definition) {
				w := theWindow(d)
				w.Type, w.Size, w.Advance = WindowTumbling, 5*time.Minute, 0
			},
		},
		{
			name: "sliding",
			yaml: func(t *testing.T) string {
				return editWindow(t, "      type: hopping\n      size: 10m\n      advance: 1m\n", "      type: sliding\n      size: 1s\n")
			},
			want: func(d *Definition) {
				w := theWindow(d)
				w.Type, w.Size, w.Advance = WindowSliding, time.Second, 0
			},
		},
		{
			name: "session",
			yaml: func(t *testing.T) string {
				return editWindow(t, "      type: hopping\n      size: 10m\n      advance: 1m\n", "      type: session\n      gap: 30m\n")
			},
			want: func(d *Definition) {
				w := theWindow(d)
				w.Type, w.Size, w.Advance, w.Gap = WindowSession, 0, 0, 30*time.Minute
			},
		},
		{
			name: "advance equal to size",
			yaml: func(t *testing.T) string { return editWindow(t, "advance: 1m", "advance: 10m") },
			want: func(d *Definition) { theWindow(d).Advance = 10 * time.Minute },
		},
		{
			name: "every function",
			yaml: func(t *testing.T) string {
				return editWindow(t, "        - {fn: sum, field: amount}\n", `        - {fn: sum, field: amount}
        - {fn: min, field: amount}
        - {fn: max, field: amount}
        - {fn: avg, field: amount}
        - {fn: first, field: amount}
        - {fn: last, field: amount}
        - {fn: count_distinct, field: merchant}
        - {fn: quantile, field: amount, q: 0}
        - {fn: quantile, field: amount, q: 1}
        - {fn: quantile, field: amount, q: 0.5}
`)
			},
			want: func(d *Definition) {
				w := theWindow(d)
				w.Aggregates = append(w.Aggregates,
					Aggregation{Func: AggMin, Field: "amount"},
					Aggregation{Func: AggMax, Field: "amount"},
					Aggregation{Func: AggAvg, Field: "amount"},
					Aggregation{Func: AggFirst, Field: "amount"},
					Aggregation{Func: AggLast, Field: "amount"},
					Aggregation{Func: AggCountDistinct, Field: "merchant"},
					Aggregation{Func: AggQuantile, Field: "amount", Q: 0},
					Aggregation{Func: AggQuantile, Field: "amount", Q: 1},
					Aggregation{Func: AggQuantile, Field: "amount", Q: 0.5},
				)
			},
		},
		{
			name: "block style aggregates, names of every kind",
			yaml: func(t *testing.T) string {
				return editWindow(t, "        - {fn: count}\n", "        - fn: count\n          as: n\n        - fn: avg\n          field: amount\n          as: mean.amount-eur\n")
			},
			want: func(d *Definition) {
				w := theWindow(d)
				w.Aggregates = []Aggregation{
					{Func: AggCount, As: "n"},
					{Func: AggAvg, Field: "amount", As: "mean.amount-eur"},
					{Func: AggSum, Field: "amount"},
				}
			},
		},
		{
			name: "q as an integer and as a float in exponent form",
			yaml: func(t *testing.T) string {
				return editWindow(t, "        - {fn: count}\n", "        - {fn: quantile, field: amount, q: 1, as: top}\n        - {fn: quantile, field: amount, q: 9.9e-1}\n")
			},
			want: func(d *Definition) {
				theWindow(d).Aggregates = []Aggregation{
					{Func: AggQuantile, Field: "amount", Q: 1, As: "top"},
					{Func: AggQuantile, Field: "amount", Q: 0.99},
					{Func: AggSum, Field: "amount"},
				}
			},
		},
		{
			name: "grace 0 and emit final written out",
			yaml: func(t *testing.T) string {
				return editWindow(t, "      advance: 1m\n", "      advance: 1m\n      grace: 0s\n      emit: final\n")
			},
			want: func(*Definition) {},
		},
		{
			name: "whole-millisecond max_out_of_orderness",
			yaml: func(t *testing.T) string {
				return editWindow(t, "  key_field: card_id\n", "  key_field: card_id\n  max_out_of_orderness: 1.5s\n")
			},
			want: func(d *Definition) { d.Input.MaxOutOfOrderness = 1500 * time.Millisecond },
		},
		{
			name: "flow style",
			yaml: func(t *testing.T) string {
				return editWindow(t, `  - window:
      type: hopping
      size: 10m
      advance: 1m
      aggregates:
        - {fn: count}
        - {fn: sum, field: amount}
`, "  - {window: {type: hopping, size: 10m, advance: 1m, aggregates: [{fn: count}, {fn: sum, field: amount}]}}\n")
			},
			want: func(*Definition) {},
		},
		{
			name: "aliases",
			yaml: func(t *testing.T) string {
				s := editWindow(t, "        - {fn: count}\n", "        - &n {fn: count}\n")
				return strings.Replace(s, "size: 10m", "size: &ten 10m", 1) + "# end\n"
			},
			want: func(*Definition) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("p.yaml", []byte(tt.yaml(t)))
			if err != nil {
				t.Fatalf("Parse: got error\n%v\nwant none", err)
			}
			want := windowDef()
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

// TestParseWindowProblems checks each rule of the window operator through the exact text a
// user sees.
func TestParseWindowProblems(t *testing.T) {
	const (
		typeLine   = "      type: hopping\n"
		sizeLine   = "      size: 10m\n"
		spansLines = typeLine + sizeLine + "      advance: 1m\n"
		aggLines   = "      aggregates:\n        - {fn: count}\n        - {fn: sum, field: amount}\n"
	)
	// agg replaces the first aggregate, {fn: count} at line 13, column 11.
	agg := func(t *testing.T, repl string) string { return editWindow(t, "{fn: count}", repl) }
	tests := []struct {
		name string
		yaml func(t *testing.T) string
		want []string
	}{
		// The window settings.
		{
			name: "empty window",
			yaml: func(t *testing.T) string { return editWindow(t, spansLines+aggLines, "") },
			want: []string{"p.yaml:8:5: operators[0].window: is empty; it needs type, aggregates and, by type, size, advance or gap, e.g. window: {type: tumbling, size: 1m, aggregates: [{fn: count}]}"},
		},
		{
			name: "empty window mapping",
			yaml: func(t *testing.T) string {
				return editWindow(t, "  - window:\n"+spansLines+aggLines, "  - window: {}\n")
			},
			want: []string{"p.yaml:8:13: operators[0].window: is empty; it needs type, aggregates and, by type, size, advance or gap, e.g. window: {type: tumbling, size: 1m, aggregates: [{fn: count}]}"},
		},
		{
			name: "window not a mapping",
			yaml: func(t *testing.T) string {
				return editWindow(t, "  - window:\n"+spansLines+aggLines, "  - window: tumbling\n")
			},
			want: []string{`p.yaml:8:13: operators[0].window: must be a mapping, got the string "tumbling"; it needs type, aggregates and, by type, size, advance or gap, e.g. window: {type: tumbling, size: 1m, aggregates: [{fn: count}]}`},
		},
		{
			name: "window without settings",
			yaml: func(t *testing.T) string { return editWindow(t, "  - window:\n"+spansLines+aggLines, "  - window\n") },
			want: []string{`p.yaml:8:5: operators[0]: "window" needs its settings; write - window: {type: tumbling, size: 1m, aggregates: [{fn: count}]}`},
		},
		{
			name: "window setting not indented",
			yaml: func(t *testing.T) string {
				return editWindow(t, "  - window:\n"+typeLine, "  - type: hopping\n    window:\n")
			},
			want: []string{`p.yaml:8:5: operators[0].type: "type" is a setting of window, not an operator kind; indent it under window:`},
		},
		{
			name: "window setting without its kind",
			yaml: func(t *testing.T) string {
				return editWindow(t, "  - window:\n"+spansLines+aggLines, "  - {type: tumbling, size: 1m}\n")
			},
			want: []string{
				`p.yaml:8:6: operators[0].type: "type" is a setting of window, not an operator kind; write - window: {type: tumbling, size: 1m, aggregates: [{fn: count}]}`,
				`p.yaml:8:22: operators[0].size: "size" is a setting of window, not an operator kind; write - window: {type: tumbling, size: 1m, aggregates: [{fn: count}]}`,
			},
		},
		{
			name: "operator kind misspelt",
			yaml: func(t *testing.T) string { return editWindow(t, "  - window:", "  - windows:") },
			want: []string{`p.yaml:8:5: operators[0].windows: unknown operator kind; did you mean "window"?`},
		},
		{
			name: "type missing",
			yaml: func(t *testing.T) string { return editWindow(t, typeLine, "") },
			want: []string{"p.yaml:8:5: operators[0].window.type: required field is missing; add the window type: type: tumbling, hopping, sliding or session"},
		},
		{
			name: "type empty",
			yaml: func(t *testing.T) string { return editWindow(t, typeLine, "      type:\n") },
			want: []string{"p.yaml:9:7: operators[0].window.type: is empty; add the window type: type: tumbling, hopping, sliding or session"},
		},
		{
			name: "type misspelt",
			yaml: func(t *testing.T) string { return editWindow(t, "type: hopping", "type: hoping") },
			want: []string{`p.yaml:9:13: operators[0].window.type: "hoping" is not a window type; did you mean "hopping"?`},
		},
		{
			name: "type unknown",
			yaml: func(t *testing.T) string { return editWindow(t, "type: hopping", "type: global") },
			want: []string{`p.yaml:9:13: operators[0].window.type: "global" is not a window type; use tumbling, hopping, sliding or session`},
		},
		{
			name: "type not a string",
			yaml: func(t *testing.T) string { return editWindow(t, "type: hopping", "type: [hopping]") },
			want: []string{"p.yaml:9:13: operators[0].window.type: must be a string, got a list"},
		},
		{
			name: "unknown type still checks the lengths",
			yaml: func(t *testing.T) string {
				return editWindow(t, spansLines, "      type: global\n      size: -1m\n      advance: 1500us\n      gap: 1m\n")
			},
			want: []string{
				`p.yaml:9:13: operators[0].window.type: "global" is not a window type; use tumbling, hopping, sliding or session`,
				"p.yaml:10:13: operators[0].window.size: -1m is not more than 0; use a positive duration, e.g. size: 10m",
				"p.yaml:11:16: operators[0].window.advance: 1.5ms is not a whole number of milliseconds, the unit windows count in; use e.g. 2ms",
			},
		},
		{
			name: "size missing",
			yaml: func(t *testing.T) string { return editWindow(t, sizeLine, "") },
			want: []string{"p.yaml:8:5: operators[0].window.size: required field is missing; add the window size, e.g. size: 10m"},
		},
		{
			name: "size empty",
			yaml: func(t *testing.T) string { return editWindow(t, "size: 10m", "size:") },
			want: []string{"p.yaml:10:7: operators[0].window.size: is empty; add the window size, e.g. size: 10m"},
		},
		{
			name: "size zero",
			yaml: func(t *testing.T) string { return editWindow(t, "size: 10m", "size: 0s") },
			want: []string{"p.yaml:10:13: operators[0].window.size: 0s is not more than 0; use a positive duration, e.g. size: 10m"},
		},
		{
			name: "size negative",
			yaml: func(t *testing.T) string { return editWindow(t, "size: 10m", "size: -10m") },
			want: []string{"p.yaml:10:13: operators[0].window.size: -10m is not more than 0; use a positive duration, e.g. size: 10m"},
		},
		{
			name: "size not whole milliseconds",
			yaml: func(t *testing.T) string { return editWindow(t, "size: 10m", "size: 10m500us") },
			want: []string{"p.yaml:10:13: operators[0].window.size: 10m0.0005s is not a whole number of milliseconds, the unit windows count in; use e.g. 10m0.001s"},
		},
		{
			name: "size without a unit",
			yaml: func(t *testing.T) string { return editWindow(t, "size: 10m", "size: 600") },
			want: []string{"p.yaml:10:13: operators[0].window.size: 600 has no unit; write e.g. 600ms or 600s"},
		},
		{
			name: "size not a duration",
			yaml: func(t *testing.T) string { return editWindow(t, "size: 10m", "size: ten minutes") },
			want: []string{`p.yaml:10:13: operators[0].window.size: "ten minutes" is not a duration; write a number and a unit, e.g. 500ms, 5s or 1m30s`},
		},
		{
			name: "size of a session",
			yaml: func(t *testing.T) string {
				return editWindow(t, spansLines, "      type: session\n      size: 10m\n      gap: 5m\n")
			},
			want: []string{"p.yaml:10:7: operators[0].window.size: size is a setting of tumbling, hopping and sliding windows; remove it or use type: tumbling, hopping or sliding"},
		},
		{
			name: "advance of a tumbling window",
			yaml: func(t *testing.T) string { return editWindow(t, "type: hopping", "type: tumbling") },
			want: []string{"p.yaml:11:7: operators[0].window.advance: advance is a setting of hopping windows; remove it or use type: hopping"},
		},
		{
			name: "advance of a sliding window, even 0",
			yaml: func(t *testing.T) string {
				return editWindow(t, spansLines, "      type: sliding\n      size: 10m\n      advance: 0s\n")
			},
			want: []string{"p.yaml:11:7: operators[0].window.advance: advance is a setting of hopping windows; remove it or use type: hopping"},
		},
		{
			name: "gap of a hopping window",
			yaml: func(t *testing.T) string { return editWindow(t, sizeLine, sizeLine+"      gap:\n") },
			want: []string{"p.yaml:11:7: operators[0].window.gap: gap is a setting of session windows; remove it or use type: session"},
		},
		{
			name: "advance missing",
			yaml: func(t *testing.T) string { return editWindow(t, "      advance: 1m\n", "") },
			want: []string{"p.yaml:8:5: operators[0].window.advance: required field is missing; add how far apart the windows start, e.g. advance: 1m"},
		},
		{
			name: "advance zero",
			yaml: func(t *testing.T) string { return editWindow(t, "advance: 1m", "advance: 0") },
			want: []string{"p.yaml:11:16: operators[0].window.advance: 0s is not more than 0; use a positive duration, e.g. advance: 1m"},
		},
		{
			name: "advance more than size",
			yaml: func(t *testing.T) string { return editWindow(t, "advance: 1m", "advance: 11m") },
			want: []string{"p.yaml:11:16: operators[0].window.advance: 11m is more than the size, 10m; hopping windows start at most one size apart, or records between them would be in no window, so use an advance up to 10m"},
		},
		{
			name: "gap missing",
			yaml: func(t *testing.T) string { return editWindow(t, spansLines, "      type: session\n") },
			want: []string{"p.yaml:8:5: operators[0].window.gap: required field is missing; add the inactivity that ends a session, e.g. gap: 30m"},
		},
		{
			name: "gap negative",
			yaml: func(t *testing.T) string { return editWindow(t, spansLines, "      type: session\n      gap: -30m\n") },
			want: []string{"p.yaml:10:12: operators[0].window.gap: -30m is not more than 0; use a positive duration, e.g. gap: 30m"},
		},
		{
			name: "grace negative",
			yaml: func(t *testing.T) string { return editWindow(t, sizeLine, sizeLine+"      grace: -1s\n") },
			want: []string{"p.yaml:11:14: operators[0].window.grace: -1s is negative; use 0 (the default) or a positive duration, e.g. 30s"},
		},
		{
			name: "grace not whole milliseconds",
			yaml: func(t *testing.T) string { return editWindow(t, sizeLine, sizeLine+"      grace: 1ns\n") },
			want: []string{"p.yaml:11:14: operators[0].window.grace: 1ns is not a whole number of milliseconds, the unit windows count in; use e.g. 1ms"},
		},
		{
			name: "grace without a value",
			yaml: func(t *testing.T) string { return editWindow(t, sizeLine, sizeLine+"      grace:\n") },
			want: []string{"p.yaml:11:7: operators[0].window.grace: has no value; set one, or remove the line to use the default (0)"},
		},
		{
			name: "grace misspelt",
			yaml: func(t *testing.T) string { return editWindow(t, sizeLine, sizeLine+"      grase: 1s\n") },
			want: []string{`p.yaml:11:7: operators[0].window.grase: unknown field; did you mean "grace"?`},
		},
		{
			name: "grace by another name",
			yaml: func(t *testing.T) string { return editWindow(t, sizeLine, sizeLine+"      allowed-lateness: 1s\n") },
			want: []string{`p.yaml:11:7: operators[0].window.allowed-lateness: unknown field; did you mean "grace"?`},
		},
		{
			name: "emit unknown",
			yaml: func(t *testing.T) string { return editWindow(t, sizeLine, sizeLine+"      emit: changes\n") },
			want: []string{`p.yaml:11:13: operators[0].window.emit: "changes" is not an emit mode; use final (the default: one result per window, when it closes) or update (a result after every change)`},
		},
		{
			name: "emit misspelt",
			yaml: func(t *testing.T) string { return editWindow(t, sizeLine, sizeLine+"      emit: updates\n") },
			want: []string{`p.yaml:11:13: operators[0].window.emit: "updates" is not an emit mode; did you mean "update"?`},
		},
		{
			name: "emit empty",
			yaml: func(t *testing.T) string { return editWindow(t, sizeLine, sizeLine+"      emit: ''\n") },
			want: []string{"p.yaml:11:13: operators[0].window.emit: is empty; set emit: final (the default) or update"},
		},
		{
			name: "emit without a value",
			yaml: func(t *testing.T) string { return editWindow(t, sizeLine, sizeLine+"      emit:\n") },
			want: []string{"p.yaml:11:7: operators[0].window.emit: has no value; set one, or remove the line to use the default (final)"},
		},
		{
			name: "unknown window setting",
			yaml: func(t *testing.T) string { return editWindow(t, sizeLine, sizeLine+"      parallelism: 4\n") },
			want: []string{"p.yaml:11:7: operators[0].window.parallelism: unknown field; the fields here are type, size, advance, gap, grace, emit and aggregates"},
		},
		{
			name: "window setting by another name",
			yaml: func(t *testing.T) string { return editWindow(t, "      advance: 1m", "      hop: 1m") },
			want: []string{`p.yaml:11:7: operators[0].window.hop: unknown field; did you mean "advance"?`},
		},
		{
			name: "aggregate field under window",
			yaml: func(t *testing.T) string { return editWindow(t, sizeLine, sizeLine+"      fn: count\n") },
			want: []string{"p.yaml:11:7: operators[0].window.fn: unknown field; it belongs in an entry of operators[].window.aggregates, so move it there"},
		},

		// The list of aggregates.
		{
			name: "aggregates missing",
			yaml: func(t *testing.T) string { return editWindow(t, aggLines, "") },
			want: []string{"p.yaml:8:5: operators[0].window.aggregates: required field is missing; add at least one aggregate, e.g. aggregates: [{fn: count}]"},
		},
		{
			name: "aggregates empty",
			yaml: func(t *testing.T) string { return editWindow(t, aggLines, "      aggregates: []\n") },
			want: []string{"p.yaml:12:19: operators[0].window.aggregates: is empty; add at least one aggregate, e.g. aggregates: [{fn: count}]"},
		},
		{
			name: "aggregates without a value",
			yaml: func(t *testing.T) string { return editWindow(t, aggLines, "      aggregates:\n") },
			want: []string{"p.yaml:12:7: operators[0].window.aggregates: is empty; add at least one aggregate, e.g. aggregates: [{fn: count}]"},
		},
		{
			name: "aggregates a mapping",
			yaml: func(t *testing.T) string { return editWindow(t, aggLines, "      aggregates:\n        fn: count\n") },
			want: []string{`p.yaml:13:9: operators[0].window.aggregates: must be a list, got a mapping; start each aggregate with "- ", e.g. - {fn: count}`},
		},
		{
			name: "aggregates a string",
			yaml: func(t *testing.T) string { return editWindow(t, aggLines, "      aggregates: count\n") },
			want: []string{`p.yaml:12:19: operators[0].window.aggregates: must be a list of aggregates, got the string "count"; e.g. aggregates: [{fn: count}]`},
		},
		{
			name: "aggregates by another name",
			yaml: func(t *testing.T) string { return editWindow(t, "      aggregates:", "      aggregations:") },
			want: []string{`p.yaml:12:7: operators[0].window.aggregations: unknown field; did you mean "aggregates"?`},
		},
		{
			name: "aggregate entry without a value",
			yaml: func(t *testing.T) string { return editWindow(t, "        - {fn: count}\n", "        -\n") },
			want: []string{"p.yaml:13:10: operators[0].window.aggregates[0]: is empty; write an aggregate, e.g. - {fn: count}"},
		},
		{
			name: "aggregate entry empty",
			yaml: func(t *testing.T) string { return agg(t, "{}") },
			want: []string{"p.yaml:13:11: operators[0].window.aggregates[0]: is empty; it needs fn, and field for every fn but count, e.g. {fn: sum, field: amount}"},
		},
		{
			name: "aggregate entry a function name",
			yaml: func(t *testing.T) string { return agg(t, "quantile") },
			want: []string{`p.yaml:13:11: operators[0].window.aggregates[0]: "quantile" needs to be a mapping; write - {fn: quantile, field: amount, q: 0.99}`},
		},
		{
			name: "aggregate entry a list",
			yaml: func(t *testing.T) string { return agg(t, "[count]") },
			want: []string{"p.yaml:13:11: operators[0].window.aggregates[0]: must be a mapping such as {fn: sum, field: amount}, got a list"},
		},

		// One aggregate.
		{
			name: "unknown aggregate field",
			yaml: func(t *testing.T) string { return agg(t, "{fn: count, window: 1m}") },
			want: []string{"p.yaml:13:23: operators[0].window.aggregates[0].window: unknown field; the fields here are fn, field, q and as"},
		},
		{
			name: "aggregate field misspelt",
			yaml: func(t *testing.T) string {
				return editWindow(t, "{fn: sum, field: amount}", "{fn: sum, feild: amount}")
			},
			want: []string{`p.yaml:14:21: operators[0].window.aggregates[1].feild: unknown field; did you mean "field"?`},
		},
		{
			name: "fn by another name",
			yaml: func(t *testing.T) string { return agg(t, "{function: count}") },
			want: []string{`p.yaml:13:12: operators[0].window.aggregates[0].function: unknown field; did you mean "fn"?`},
		},
		{
			name: "window setting in an aggregate",
			yaml: func(t *testing.T) string { return agg(t, "{fn: count, grace: 1s}") },
			want: []string{"p.yaml:13:23: operators[0].window.aggregates[0].grace: unknown field; it belongs under operators[].window, so move it there"},
		},
		{
			name: "duplicate aggregate field",
			yaml: func(t *testing.T) string { return agg(t, "{fn: count, fn: sum}") },
			want: []string{"p.yaml:13:23: operators[0].window.aggregates[0].fn: duplicate field; it is already set at line 13; remove one"},
		},
		{
			name: "fn missing",
			yaml: func(t *testing.T) string { return agg(t, "{field: amount}") },
			want: []string{"p.yaml:13:11: operators[0].window.aggregates[0].fn: required field is missing; add the function, e.g. fn: count; the functions are count, sum, min, max, avg, first, last, count_distinct and quantile"},
		},
		{
			name: "fn empty",
			yaml: func(t *testing.T) string { return agg(t, "{fn: ''}") },
			want: []string{"p.yaml:13:16: operators[0].window.aggregates[0].fn: is empty; add the function, e.g. fn: count; the functions are count, sum, min, max, avg, first, last, count_distinct and quantile"},
		},
		{
			name: "fn misspelt",
			yaml: func(t *testing.T) string { return agg(t, "{fn: cuont}") },
			want: []string{`p.yaml:13:16: operators[0].window.aggregates[0].fn: "cuont" is not an aggregate function; did you mean "count"?`},
		},
		{
			name: "fn unknown",
			yaml: func(t *testing.T) string { return agg(t, "{fn: median, field: amount}") },
			want: []string{`p.yaml:13:16: operators[0].window.aggregates[0].fn: "median" is not an aggregate function; use count, sum, min, max, avg, first, last, count_distinct or quantile`},
		},
		{
			name: "fn not a string",
			yaml: func(t *testing.T) string { return agg(t, "{fn: 1}") },
			want: []string{`p.yaml:13:16: operators[0].window.aggregates[0].fn: must be a string, got the number 1; quote it to make it one: "1"`},
		},
		{
			name: "field of count",
			yaml: func(t *testing.T) string { return agg(t, "{fn: count, field: amount}") },
			want: []string{"p.yaml:13:23: operators[0].window.aggregates[0].field: count takes no field, it counts records; remove it, or use fn: count_distinct to count the distinct values of a field"},
		},
		{
			name: "field of count, even empty",
			yaml: func(t *testing.T) string { return agg(t, "{field: '', fn: count}") },
			want: []string{"p.yaml:13:12: operators[0].window.aggregates[0].field: count takes no field, it counts records; remove it, or use fn: count_distinct to count the distinct values of a field"},
		},
		{
			name: "field missing",
			yaml: func(t *testing.T) string { return agg(t, "{fn: count_distinct}") },
			want: []string{"p.yaml:13:11: operators[0].window.aggregates[0].field: required field is missing; add the field that count_distinct reads, e.g. {fn: count_distinct, field: amount}"},
		},
		{
			name: "field empty",
			yaml: func(t *testing.T) string { return agg(t, "{fn: first, field: }") },
			want: []string{"p.yaml:13:23: operators[0].window.aggregates[0].field: is empty; add the field that first reads, e.g. {fn: first, field: amount}"},
		},
		{
			name: "field dotted",
			yaml: func(t *testing.T) string { return agg(t, "{fn: max, field: amount.eur}") },
			want: []string{`p.yaml:13:28: operators[0].window.aggregates[0].field: "amount.eur" is a dotted path; use a top-level field name (nested fields are not supported yet)`},
		},
		{
			name: "field not a string",
			yaml: func(t *testing.T) string { return agg(t, "{fn: max, field: [amount]}") },
			want: []string{"p.yaml:13:28: operators[0].window.aggregates[0].field: must be a string, got a list"},
		},
		{
			name: "q of a sum",
			yaml: func(t *testing.T) string {
				return editWindow(t, "{fn: sum, field: amount}", "{fn: sum, field: amount, q: 0.5}")
			},
			want: []string{"p.yaml:14:36: operators[0].window.aggregates[1].q: q is a setting of quantile; remove it or use fn: quantile"},
		},
		{
			name: "q of a count, even 0",
			yaml: func(t *testing.T) string { return agg(t, "{fn: count, q: 0}") },
			want: []string{"p.yaml:13:23: operators[0].window.aggregates[0].q: q is a setting of quantile; remove it or use fn: quantile"},
		},
		{
			name: "q missing",
			yaml: func(t *testing.T) string { return agg(t, "{fn: quantile, field: amount}") },
			want: []string{"p.yaml:13:11: operators[0].window.aggregates[0].q: required field is missing; add the quantile as a fraction, e.g. q: 0.99 for the 99th percentile"},
		},
		{
			name: "q without a value",
			yaml: func(t *testing.T) string { return agg(t, "{fn: quantile, field: amount, q: }") },
			want: []string{"p.yaml:13:41: operators[0].window.aggregates[0].q: is empty; add the quantile as a fraction, e.g. q: 0.99 for the 99th percentile"},
		},
		{
			name: "q quoted",
			yaml: func(t *testing.T) string { return agg(t, `{fn: quantile, field: amount, q: "0.99"}`) },
			want: []string{`p.yaml:13:44: operators[0].window.aggregates[0].q: must be a number such as 0.99, got the string "0.99"; remove the quotes`},
		},
		{
			name: "q a percentage",
			yaml: func(t *testing.T) string { return agg(t, "{fn: quantile, field: amount, q: 99%}") },
			want: []string{`p.yaml:13:44: operators[0].window.aggregates[0].q: must be a number such as 0.99, got the string "99%"`},
		},
		{
			name: "q a boolean",
			yaml: func(t *testing.T) string { return agg(t, "{fn: quantile, field: amount, q: true}") },
			want: []string{"p.yaml:13:44: operators[0].window.aggregates[0].q: must be a number such as 0.99, got the boolean true"},
		},
		{
			name: "q more than 1",
			yaml: func(t *testing.T) string { return agg(t, "{fn: quantile, field: amount, q: 99}") },
			want: []string{"p.yaml:13:44: operators[0].window.aggregates[0].q: 99 is not between 0 and 1; q is a fraction, e.g. q: 0.99 for the 99th percentile"},
		},
		{
			name: "q negative",
			yaml: func(t *testing.T) string { return agg(t, "{fn: quantile, field: amount, q: -0.5}") },
			want: []string{"p.yaml:13:44: operators[0].window.aggregates[0].q: -0.5 is not between 0 and 1; q is a fraction, e.g. q: 0.99 for the 99th percentile"},
		},
		{
			name: "q not a number",
			yaml: func(t *testing.T) string { return agg(t, "{fn: quantile, field: amount, q: .nan}") },
			want: []string{"p.yaml:13:44: operators[0].window.aggregates[0].q: NaN is not between 0 and 1; q is a fraction, e.g. q: 0.99 for the 99th percentile"},
		},
		{
			name: "as empty",
			yaml: func(t *testing.T) string { return agg(t, "{fn: count, as: ''}") },
			want: []string{"p.yaml:13:27: operators[0].window.aggregates[0].as: is empty; write a name, or remove the line to use the default (count)"},
		},
		{
			name: "as without a value",
			yaml: func(t *testing.T) string { return agg(t, "{fn: quantile, field: amount, q: 0.999, as: }") },
			want: []string{"p.yaml:13:51: operators[0].window.aggregates[0].as: has no value; set one, or remove the line to use the default (p99.9_amount)"},
		},
		{
			name: "as with a space",
			yaml: func(t *testing.T) string { return agg(t, "{fn: count, as: number of payments}") },
			want: []string{`p.yaml:13:27: operators[0].window.aggregates[0].as: "number of payments" contains a space; an output name uses only letters, digits, "_", "-" and "."`},
		},
		{
			name: "as with a quote",
			yaml: func(t *testing.T) string { return agg(t, `{fn: count, as: 'say "n"'}`) },
			want: []string{`p.yaml:13:27: operators[0].window.aggregates[0].as: "say \"n\"" contains a space; an output name uses only letters, digits, "_", "-" and "."`},
		},
		{
			name: "as not a string",
			yaml: func(t *testing.T) string { return agg(t, "{fn: count, as: 7}") },
			want: []string{`p.yaml:13:27: operators[0].window.aggregates[0].as: must be a string, got the number 7; quote it to make it one: "7"`},
		},
		{
			name: "default name that is not an output name",
			yaml: func(t *testing.T) string { return agg(t, "{fn: avg, field: 'amount (eur)'}") },
			want: []string{`p.yaml:13:11: operators[0].window.aggregates[0]: its default output name "avg_amount (eur)" contains a space, which output names cannot have (only letters, digits, "_", "-" and "."); name it with as:, e.g. as: avg_amount__eur_`},
		},
		{
			name: "two aggregates with one default name",
			yaml: func(t *testing.T) string { return agg(t, "{fn: sum, field: amount}") },
			want: []string{`p.yaml:14:11: operators[0].window.aggregates[1]: its output name "sum_amount" is that of aggregates[0] too; each output name must be unique, so name one of them with as:`},
		},
		{
			name: "a name given twice",
			yaml: func(t *testing.T) string {
				return editWindow(t, "{fn: sum, field: amount}", "{fn: sum, field: amount, as: count}")
			},
			want: []string{`p.yaml:14:40: operators[0].window.aggregates[1].as: "count" is the output name of aggregates[0] too; each output name must be unique, so choose another`},
		},
		{
			name: "quantiles that round to one name",
			yaml: func(t *testing.T) string {
				return agg(t, "{fn: quantile, field: amount, q: 0.5}\n        - {fn: quantile, field: amount, q: 5e-1}")
			},
			want: []string{`p.yaml:14:11: operators[0].window.aggregates[1]: its output name "p50_amount" is that of aggregates[0] too; each output name must be unique, so name one of them with as:`},
		},
		{
			name: "every problem of one aggregate at once",
			yaml: func(t *testing.T) string { return agg(t, "{fn: count, field: x, q: 0.5, as: a b, extra: 1}") },
			want: []string{
				"p.yaml:13:23: operators[0].window.aggregates[0].field: count takes no field, it counts records; remove it, or use fn: count_distinct to count the distinct values of a field",
				"p.yaml:13:33: operators[0].window.aggregates[0].q: q is a setting of quantile; remove it or use fn: quantile",
				`p.yaml:13:45: operators[0].window.aggregates[0].as: "a b" contains a space; an output name uses only letters, digits, "_", "-" and "."`,
				"p.yaml:13:50: operators[0].window.aggregates[0].extra: unknown field; the fields here are fn, field, q and as",
			},
		},

		// The pipeline around it.
		{
			name: "max_out_of_orderness not whole milliseconds",
			yaml: func(t *testing.T) string {
				return editWindow(t, "  key_field: card_id\n", "  key_field: card_id\n  max_out_of_orderness: 2500us\n")
			},
			want: []string{"p.yaml:6:25: input.max_out_of_orderness: 2.5ms is not a whole number of milliseconds, the unit windows count in; use e.g. 3ms"},
		},
		{
			name: "a second operator",
			yaml: func(t *testing.T) string {
				return editWindow(t, "output:", "  - window: {type: session, gap: 1m, aggregates: [{fn: count}]}\noutput:")
			},
			want: []string{"p.yaml:15:5: operators[1]: a pipeline has at most one window operator, and operators[0] is one; remove this one, or run it in a pipeline of its own"},
		},
		{
			name: "window and aggregate in one entry",
			yaml: func(t *testing.T) string {
				return editWindow(t, "  - window:", "  - aggregate: {field: amount}\n    window:")
			},
			want: []string{"p.yaml:8:5: operators[0]: names 2 operator kinds (aggregate, window); an entry names exactly one, so start a new entry with - for each"},
		},
		{
			name: "output is the late topic",
			yaml: func(t *testing.T) string { return editWindow(t, "topic: card-windows", "topic: card-windows-late") },
			want: []string{`p.yaml:16:10: output.topic: "card-windows-late" is the late-record topic of this pipeline; choose another topic`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse("p.yaml", []byte(tt.yaml(t)))
			if d != nil {
				t.Errorf("Parse: got a definition %s, want nil", dump(d))
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Parse: got error %v (%T), want Problems", err, err)
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("Parse problems:\ngot\n%s\nwant\n%s", got, want)
			}
		})
	}
}
