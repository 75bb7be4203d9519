package pipeline

import (
	"errors"
	"math"
	"strings"
	"testing"
	"time"
)

// TestValidateWindow checks the rules of the window operator on definitions built in Go.
func TestValidateWindow(t *testing.T) {
	tests := []struct {
		name string
		edit func(d *Definition, w *Window)
		want []string
	}{
		{name: "valid", edit: func(*Definition, *Window) {}},
		{
			name: "zero window",
			edit: func(_ *Definition, w *Window) { *w = Window{} },
			want: []string{
				"operators[0].window.type: required field is missing; add the window type: type: tumbling, hopping, sliding or session",
				"operators[0].window.emit: required field is missing; set emit: final (the default) or update",
				"operators[0].window.aggregates: required field is missing; add at least one aggregate, e.g. aggregates: [{fn: count}]",
			},
		},
		{
			name: "zero window with defaults applied",
			edit: func(d *Definition, w *Window) { *w = Window{}; d.ApplyDefaults() },
			want: []string{
				"operators[0].window.type: required field is missing; add the window type: type: tumbling, hopping, sliding or session",
				"operators[0].window.aggregates: required field is missing; add at least one aggregate, e.g. aggregates: [{fn: count}]",
			},
		},
		{
			name: "each type without its lengths",
			edit: func(d *Definition, w *Window) {
				*w = Window{Type: WindowTumbling, Emit: EmitFinal, Aggregates: []Aggregation{{Func: AggCount}}}
				for _, typ := range []WindowType{WindowHopping, WindowSliding, WindowSession} {
					c := *w
					c.Type = typ
					d.Operators = append(d.Operators, Operator{Window: &c})
				}
			},
			want: []string{
				"operators[0].window.size: required field is missing; add the window size, e.g. size: 10m",
				"operators[1]: a pipeline has at most one window operator, and operators[0] is one; remove this one, or run it in a pipeline of its own",
				"operators[1].window.size: required field is missing; add the window size, e.g. size: 10m",
				"operators[1].window.advance: required field is missing; add how far apart the windows start, e.g. advance: 1m",
				"operators[2]: a pipeline has at most one window operator, and operators[0] is one; remove this one, or run it in a pipeline of its own",
				"operators[2].window.size: required field is missing; add the window size, e.g. size: 10m",
				"operators[3]: a pipeline has at most one window operator, and operators[0] is one; remove this one, or run it in a pipeline of its own",
				"operators[3].window.gap: required field is missing; add the inactivity that ends a session, e.g. gap: 30m",
			},
		},
		{
			name: "lengths of another type",
			edit: func(_ *Definition, w *Window) { w.Type, w.Gap = WindowSession, -time.Second },
			want: []string{
				"operators[0].window.size: size is a setting of tumbling, hopping and sliding windows; remove it or use type: tumbling, hopping or sliding",
				"operators[0].window.advance: advance is a setting of hopping windows; remove it or use type: hopping",
				"operators[0].window.gap: -1s is not more than 0; use a positive duration, e.g. gap: 30m",
			},
		},
		{
			name: "gap of a tumbling window",
			edit: func(_ *Definition, w *Window) { w.Type, w.Advance, w.Gap = WindowTumbling, 0, time.Minute },
			want: []string{"operators[0].window.gap: gap is a setting of session windows; remove it or use type: session"},
		},
		{
			name: "unknown type",
			edit: func(_ *Definition, w *Window) { w.Type = "Hopping" },
			want: []string{`operators[0].window.type: "Hopping" is not a window type; did you mean "hopping"?`},
		},
		{
			name: "lengths not whole milliseconds",
			edit: func(d *Definition, w *Window) {
				w.Size, w.Advance, w.Grace = time.Minute+time.Microsecond, time.Nanosecond, -time.Microsecond
				d.Input.MaxOutOfOrderness = time.Second + time.Nanosecond
			},
			want: []string{
				"input.max_out_of_orderness: 1.000000001s is not a whole number of milliseconds, the unit windows count in; use e.g. 1.001s",
				"operators[0].window.size: 1m0.000001s is not a whole number of milliseconds, the unit windows count in; use e.g. 1m0.001s",
				"operators[0].window.advance: 1ns is not a whole number of milliseconds, the unit windows count in; use e.g. 1ms",
				"operators[0].window.grace: -1µs is negative; use 0 (the default) or a positive duration, e.g. 30s",
			},
		},
		{
			name: "advance more than size",
			edit: func(_ *Definition, w *Window) { w.Advance = w.Size + time.Millisecond },
			want: []string{"operators[0].window.advance: 10m0.001s is more than the size, 10m; hopping windows start at most one size apart, or records between them would be in no window, so use an advance up to 10m"},
		},
		{
			name: "the longest lengths",
			edit: func(d *Definition, w *Window) {
				longest := time.Duration(math.MaxInt64).Truncate(time.Millisecond)
				w.Size, w.Advance, w.Grace = longest, longest, longest
				d.Input.MaxOutOfOrderness = longest
			},
		},
		{
			name: "emit unknown",
			edit: func(_ *Definition, w *Window) { w.Emit = "FINAL" },
			want: []string{`operators[0].window.emit: "FINAL" is not an emit mode; did you mean "final"?`},
		},
		{
			name: "emit update",
			edit: func(_ *Definition, w *Window) { w.Emit = EmitUpdate },
		},
		{
			name: "aggregates",
			edit: func(_ *Definition, w *Window) {
				w.Aggregates = []Aggregation{
					{},
					{Func: "p99", Field: "amount"},
					{Func: AggCount, Field: "amount"},
					{Func: AggSum},
					{Func: AggMin, Field: " amount"},
					{Func: AggQuantile, Field: "amount", Q: 1.5},
					{Func: AggQuantile, Field: "amount", Q: math.NaN()},
					{Func: AggMax, Field: "amount", Q: 0.5},
					{Func: AggAvg, Field: "amount", As: "avg/amount"},
					{Func: AggLast, Field: "amount", As: "\t"},
					{Func: AggFirst, Field: "montant €"},
				}
			},
			want: []string{
				"operators[0].window.aggregates[0].fn: required field is missing; add the function, e.g. fn: count; the functions are count, sum, min, max, avg, first, last, count_distinct and quantile",
				`operators[0].window.aggregates[1].fn: "p99" is not an aggregate function; use count, sum, min, max, avg, first, last, count_distinct or quantile`,
				"operators[0].window.aggregates[2].field: count takes no field, it counts records; remove it, or use fn: count_distinct to count the distinct values of a field",
				"operators[0].window.aggregates[3].field: required field is missing; add the field that sum reads, e.g. {fn: sum, field: amount}",
				`operators[0].window.aggregates[4].field: " amount" has spaces at its start or end; remove them`,
				"operators[0].window.aggregates[5].q: 1.5 is not between 0 and 1; q is a fraction, e.g. q: 0.99 for the 99th percentile",
				"operators[0].window.aggregates[6].q: NaN is not between 0 and 1; q is a fraction, e.g. q: 0.99 for the 99th percentile",
				"operators[0].window.aggregates[7].q: q is a setting of quantile; remove it or use fn: quantile",
				`operators[0].window.aggregates[8].as: "avg/amount" contains '/'; an output name uses only letters, digits, "_", "-" and "."`,
				`operators[0].window.aggregates[9].as: "\t" contains a tab; an output name uses only letters, digits, "_", "-" and "."`,
				`operators[0].window.aggregates[10]: its default output name "first_montant €" contains a space, which output names cannot have (only letters, digits, "_", "-" and "."); name it with as:, e.g. as: first_montant__`,
			},
		},
		{
			name: "output names must differ",
			edit: func(_ *Definition, w *Window) {
				w.Aggregates = []Aggregation{
					{Func: AggCount},
					{Func: AggSum, Field: "amount"},
					{Func: AggCount, As: "sum_amount"},
					{Func: AggCountDistinct, Field: "merchant", As: "count"},
					{Func: AggQuantile, Field: "amount", Q: 0.99, As: "p99"},
					{Func: AggQuantile, Field: "amount", Q: 0.99},
					{Func: AggQuantile, Field: "amount", Q: 0.990},
				}
			},
			want: []string{
				`operators[0].window.aggregates[2].as: "sum_amount" is the output name of aggregates[1] too; each output name must be unique, so choose another`,
				`operators[0].window.aggregates[3].as: "count" is the output name of aggregates[0] too; each output name must be unique, so choose another`,
				`operators[0].window.aggregates[6]: its output name "p99_amount" is that of aggregates[5] too; each output name must be unique, so name one of them with as:`,
			},
		},
		{
			name: "a bad aggregate takes no name",
			edit: func(_ *Definition, w *Window) {
				w.Aggregates = append(w.Aggregates, Aggregation{Func: AggSum, Field: "amount", As: "a b"}, Aggregation{Func: AggSum, Field: "amount", As: "a b"})
			},
			want: []string{
				`operators[0].window.aggregates[2].as: "a b" contains a space; an output name uses only letters, digits, "_", "-" and "."`,
				`operators[0].window.aggregates[3].as: "a b" contains a space; an output name uses only letters, digits, "_", "-" and "."`,
			},
		},
		{
			name: "late topic",
			edit: func(d *Definition, _ *Window) { d.Output.Topic = d.LateTopic() },
			want: []string{`output.topic: "card-windows-late" is the late-record topic of this pipeline; choose another topic`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := windowDef()
			tt.edit(d, theWindow(d))
			err := d.Validate()
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: got\n%v\nwant nil", err)
				}
				return
			}
			var ps Problems
			if !errors.As(err, &ps) {
				t.Fatalf("Validate: got error %v (%T), want Problems", err, err)
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("Validate:\ngot\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestAggregationName(t *testing.T) {
	tests := []struct {
		a    Aggregation
		want string
	}{
		{Aggregation{Func: AggCount}, "count"},
		{Aggregation{Func: AggSum, Field: "amount"}, "sum_amount"},
		{Aggregation{Func: AggMin, Field: "amount"}, "min_amount"},
		{Aggregation{Func: AggMax, Field: "amount"}, "max_amount"},
		{Aggregation{Func: AggAvg, Field: "amount"}, "avg_amount"},
		{Aggregation{Func: AggFirst, Field: "amount"}, "first_amount"},
		{Aggregation{Func: AggLast, Field: "amount"}, "last_amount"},
		{Aggregation{Func: AggCountDistinct, Field: "merchant"}, "count_distinct_merchant"},
		{Aggregation{Func: AggQuantile, Field: "amount", Q: 0.99}, "p99_amount"},
		{Aggregation{Func: AggQuantile, Field: "amount", Q: 0.999}, "p99.9_amount"},
		{Aggregation{Func: AggQuantile, Field: "amount", Q: 0.9999}, "p99.99_amount"},
		{Aggregation{Func: AggQuantile, Field: "amount", Q: 0.5}, "p50_amount"},
		{Aggregation{Func: AggQuantile, Field: "amount", Q: 0.05}, "p5_amount"},
		{Aggregation{Func: AggQuantile, Field: "amount", Q: 0.29}, "p29_amount"}, // 100*0.29 is 28.999999999999996
		{Aggregation{Func: AggQuantile, Field: "amount", Q: 0.001}, "p0.1_amount"},
		{Aggregation{Func: AggQuantile, Field: "amount", Q: 1e-7}, "p0.00001_amount"},
		{Aggregation{Func: AggQuantile, Field: "amount", Q: 0}, "p0_amount"},
		{Aggregation{Func: AggQuantile, Field: "amount", Q: 1}, "p100_amount"},
		{Aggregation{Func: AggQuantile, Field: "amount", Q: 0.99, As: "p99"}, "p99"},
		{Aggregation{Func: AggCount, As: "n"}, "n"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.a.Name(); got != tt.want {
				t.Errorf("%+v.Name(): got %q, want %q", tt.a, got, tt.want)
			}
		})
	}
}

// TestPercent checks the decimal shift that names quantiles on values a name never shows,
// so that it cannot panic or mislead.
func TestPercent(t *testing.T) {
	tests := []struct {
		q    float64
		want string
	}{
		{0.99, "99"},
		{12.5, "1250"},
		{-0.5, "-50"},
		{1e21, "100000000000000000000000"},
		{math.NaN(), "NaN"},
		{math.Inf(1), "+Inf"},
	}
	for _, tt := range tests {
		if got := percent(tt.q); got != tt.want {
			t.Errorf("percent(%v): got %q, want %q", tt.q, got, tt.want)
		}
	}
}

func TestApplyDefaultsWindow(t *testing.T) {
	d := &Definition{Name: "x", Operators: []Operator{
		{Window: &Window{Type: WindowTumbling}},
		{Window: &Window{Type: WindowTumbling, Emit: EmitUpdate}},
		{Aggregate: &Aggregate{Field: "amount"}},
	}}
	d.ApplyDefaults()
	if got, want := d.Operators[0].Window.Emit, EmitFinal; got != want {
		t.Errorf("Emit of a window without one: got %q, want %q", got, want)
	}
	if got, want := d.Operators[1].Window.Emit, EmitUpdate; got != want {
		t.Errorf("Emit of a window with one: got %q, want the %q it was given", got, want)
	}
	if got := theWindow(d).Grace; got != 0 {
		t.Errorf("Grace: got %v, want 0", got)
	}
}

func TestKindWindow(t *testing.T) {
	if got, want := (Operator{Window: &Window{}}).Kind(), "window"; got != want {
		t.Errorf("Kind: got %q, want %q", got, want)
	}
	if got := (Operator{Window: &Window{}, Aggregate: &Aggregate{}}).Kind(); got != "" {
		t.Errorf("Kind of an operator with two kinds: got %q, want \"\"", got)
	}
}
