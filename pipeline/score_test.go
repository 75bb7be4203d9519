package pipeline

import (
	"errors"
	"math"
	"strings"
	"testing"
)

// TestValidateScore checks the rules of the score operator on definitions built in Go.
func TestValidateScore(t *testing.T) {
	tests := []struct {
		name string
		edit func(d *Definition, s *Score)
		want []string
	}{
		{name: "valid", edit: func(*Definition, *Score) {}},
		{
			name: "zero score",
			edit: func(_ *Definition, s *Score) { *s = Score{} },
			want: []string{
				"operators[1].score.model.file: required field is missing; add the model file, e.g. file: models/fraud.json, or the topic of its models, e.g. topic: fraud-models",
				"operators[1].score.features: required field is missing; add the model's inputs in its feature order, e.g. features: [amount, window.count]",
			},
		},
		{
			name: "every setting",
			edit: func(_ *Definition, s *Score) {
				s.Model = ModelRef{Topic: "fraud-models", Name: "fraud", Version: "sha256:0a1b2c3d4e5f"}
				s.Shadow = &ModelRef{File: "/models/fraud-v2.json", Name: "fraud", Version: "v2"}
				s.Alert = &Alert{Threshold: -1e300, Topic: "fraud-alerts"}
			},
		},
		{
			name: "a Go threshold may be 0, and a file a relative path",
			edit: func(_ *Definition, s *Score) {
				s.Alert.Threshold = 0
				s.Model = ModelRef{File: "../fraud.json", Name: "fraud"}
			},
		},
		{
			name: "file and topic",
			edit: func(_ *Definition, s *Score) { s.Model.Topic = "fraud-models" },
			want: []string{"operators[1].score.model.topic: a model comes from a file or from a topic, not both; remove file or topic"},
		},
		{
			name: "file without name, defaults not applied",
			edit: func(_ *Definition, s *Score) { s.Model.Name = "" },
			want: []string{`operators[1].score.model.name: required field is missing; set the model name, by default "fraud" (the base name of the file without its extension)`},
		},
		{
			name: "file with a NUL byte",
			edit: func(_ *Definition, s *Score) { s.Model.File = "models/\x00fraud.json" },
			want: []string{`operators[1].score.model.file: "models/\x00fraud.json" contains a NUL byte, which no file system allows; remove it`},
		},
		{
			name: "topic without name",
			edit: func(_ *Definition, s *Score) { s.Model = ModelRef{Topic: "fraud-models"} },
			want: []string{"operators[1].score.model.name: required field is missing; add the model name, the key of its records in fraud-models, e.g. name: fraud"},
		},
		{
			name: "name only",
			edit: func(_ *Definition, s *Score) { s.Model = ModelRef{Name: "fraud"} },
			want: []string{"operators[1].score.model.file: required field is missing; add the model file, e.g. file: models/fraud.json, or the topic of its models, e.g. topic: fraud-models"},
		},
		{
			name: "bad names",
			edit: func(_ *Definition, s *Score) {
				s.Model = ModelRef{File: "models/fraud.json", Name: ".."}
				s.Shadow = &ModelRef{File: "models/fraud/v2.json", Name: "fraud/v2"}
			},
			want: []string{
				`operators[1].score.model.name: ".." is not a valid model name; use letters or digits`,
				`operators[1].score.shadow.name: "fraud/v2" contains '/'; a model name uses only letters, digits, ".", "_" and "-"`,
			},
		},
		{
			name: "version with spaces",
			edit: func(_ *Definition, s *Score) { s.Model.Version = "v1\n" },
			want: []string{`operators[1].score.model.version: "v1\n" has spaces at its start or end, which no version has; remove them`},
		},
		{
			name: "model topics that are other topics",
			edit: func(_ *Definition, s *Score) {
				s.Model = ModelRef{Topic: "transactions", Name: "fraud"}
				s.Shadow = &ModelRef{Topic: "fraud-scores", Name: "fraud-v2"}
				s.Alert = nil
			},
			want: []string{
				`operators[1].score.model.topic: "transactions" is an input topic; models come from a topic of their own, e.g. fraud-models`,
				`operators[1].score.shadow.topic: "fraud-scores" is the output topic; models come from a topic of their own, e.g. fraud-models`,
			},
		},
		{
			name: "model topics that are internal topics",
			edit: func(d *Definition, s *Score) {
				s.Model = ModelRef{Topic: d.DeadLetterTopic(), Name: "fraud"}
				s.Shadow = &ModelRef{Topic: "fraud models", Name: "fraud-v2"}
			},
			want: []string{
				`operators[1].score.model.topic: "fraud-dlq" is the dead-letter topic of this pipeline; choose another topic`,
				`operators[1].score.shadow.topic: "fraud models" contains a space; a Kafka topic name uses only letters, digits, ".", "_" and "-"`,
			},
		},
		{
			name: "features",
			edit: func(_ *Definition, s *Score) {
				s.Features = []string{"amount", "", "window.txn_count", "amount", "window.count", "window.", "Window.txn_count", "a.b", "fee ", "window.txn_count"}
			},
			want: []string{
				"operators[1].score.features[1]: is empty; write a field name or window.<aggregate name>, or remove the entry",
				`operators[1].score.features[3]: "amount" is listed twice (also features[0]); remove one`,
				`operators[1].score.features[4]: window has no aggregate named "count"; its aggregates are txn_count and sum_amount`,
				`operators[1].score.features[5]: "window." names no aggregate; write window.<aggregate name>, e.g. window.count`,
				`operators[1].score.features[6]: "Window.txn_count" is a dotted path; did you mean "window.txn_count"? (a window feature is window.<aggregate name>)`,
				`operators[1].score.features[7]: "a.b" is a dotted path; use a top-level field name (nested fields are not supported yet)`,
				`operators[1].score.features[8]: "fee " has spaces at its start or end; remove them`,
				`operators[1].score.features[9]: "window.txn_count" is listed twice (also features[2]); remove one`,
			},
		},
		{
			name: "window features by their output names",
			edit: func(d *Definition, s *Score) {
				d.WindowOp().Aggregates = []Aggregation{
					{Func: AggCount},
					{Func: AggQuantile, Field: "amount", Q: 0.999},
					{Func: AggCountDistinct, Field: "merchant", As: "merchants.distinct"},
				}
				s.Features = []string{"window.count", "window.p99.9_amount", "window.merchants.distinct", "window.p99_amount"}
			},
			want: []string{`operators[1].score.features[3]: window has no aggregate named "p99_amount"; its aggregates are count, p99.9_amount and merchants.distinct (did you mean "window.p99.9_amount"?)`},
		},
		{
			name: "window features with a bad aggregate",
			edit: func(d *Definition, s *Score) {
				d.WindowOp().Aggregates = append(d.WindowOp().Aggregates, Aggregation{Func: "p99", Field: "amount"})
				s.Features = []string{"window.p99_amount"}
			},
			want: []string{`operators[0].window.aggregates[2].fn: "p99" is not an aggregate function; use count, sum, min, max, avg, first, last, count_distinct or quantile`},
		},
		{
			name: "window features without a window",
			edit: func(d *Definition, _ *Score) { d.Operators = d.Operators[1:] },
			want: []string{`operators[0].score.features[1]: a window.<name> feature needs a window operator before the score, and this pipeline has none; add a window whose aggregates include one named "txn_count", or use a record field`},
		},
		{
			name: "window features with an entry of no kind",
			edit: func(d *Definition, _ *Score) { d.Operators[0] = Operator{} },
			want: []string{"operators[0]: names no operator kind; use exactly one of aggregate, window or score, e.g. - aggregate: {field: amount}"},
		},
		{
			name: "alert",
			edit: func(_ *Definition, s *Score) { s.Alert = &Alert{Threshold: math.NaN()} },
			want: []string{
				"operators[1].score.alert.threshold: NaN is not a finite number; use a score, e.g. threshold: 0.9",
				"operators[1].score.alert.topic: required field is missing; add the topic that takes the alerts, e.g. topic: fraud-alerts",
			},
		},
		{
			name: "alert to the model topic",
			edit: func(_ *Definition, s *Score) {
				s.Model = ModelRef{Topic: "fraud-models", Name: "fraud"}
				s.Alert = &Alert{Threshold: math.Inf(1), Topic: "fraud-models"}
			},
			want: []string{
				"operators[1].score.alert.threshold: +Inf is not a finite number; use a score, e.g. threshold: 0.9",
				`operators[1].score.alert.topic: "fraud-models" is the topic of the model; write the alerts to a topic of their own`,
			},
		},
		{
			name: "alert to other topics",
			edit: func(d *Definition, _ *Score) {
				d.Input.Topics = append(d.Input.Topics, "fraud-alerts")
				d.Operators = append(d.Operators, Operator{Score: &Score{
					Model:    ModelRef{File: "b.json", Name: "b"},
					Features: []string{"amount"},
					Alert:    &Alert{Topic: d.ChangelogTopic()},
				}})
			},
			want: []string{
				`operators[1].score.alert.topic: "fraud-alerts" is an input topic; write the alerts to a topic of their own, e.g. fraud-alerts`,
				"operators[2]: a pipeline has at most one score operator, and operators[1] is one; remove this one, or run it in a pipeline of its own (to score with a second model beside the first, use shadow: in operators[1].score)",
				`operators[2].score.alert.topic: "fraud-changelog" is the changelog topic of this pipeline; choose another topic`,
			},
		},
		{
			name: "zero shadow",
			edit: func(_ *Definition, s *Score) { s.Shadow = &ModelRef{} },
			want: []string{"operators[1].score.shadow.file: required field is missing; add the model file, e.g. file: models/fraud-v2.json, or the topic of its models, e.g. topic: fraud-models"},
		},
		{
			name: "shadow the model file",
			edit: func(_ *Definition, s *Score) { s.Shadow = &ModelRef{File: "./models//fraud.json", Name: "fraud-v2"} },
			want: []string{`operators[1].score.shadow.file: "./models//fraud.json" is the file of model too; a shadow is a second model, so use another file`},
		},
		{
			name: "shadow the model of a topic",
			edit: func(_ *Definition, s *Score) {
				s.Model = ModelRef{Topic: "fraud-models", Name: "fraud"}
				s.Shadow = &ModelRef{Topic: "fraud-models", Name: "fraud", Version: "v2"}
			},
			want: []string{`operators[1].score.shadow.name: "fraud" of topic "fraud-models" is model itself; a shadow is a second model, so name another`},
		},
		{
			name: "shadow alerts go elsewhere",
			edit: func(_ *Definition, s *Score) {
				s.Shadow = &ModelRef{Topic: "fraud-models", Name: "fraud-v2"}
				s.Alert.Topic = "fraud-models"
			},
			want: []string{`operators[1].score.alert.topic: "fraud-models" is the topic of the shadow model; write the alerts to a topic of their own`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := scoreDef()
			tt.edit(d, theScore(d))
			checkValidate(t, d, tt.want)
		})
	}
}

// checkValidate checks that d.Validate returns exactly want, or nil for no want.
func checkValidate(t *testing.T, d *Definition, want []string) {
	t.Helper()
	err := d.Validate()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("Validate: got\n%v\nwant nil", err)
		}
		return
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Validate: got error %v (%T), want Problems", err, err)
	}
	if got, want := err.Error(), strings.Join(want, "\n"); got != want {
		t.Errorf("Validate:\ngot\n%s\nwant\n%s", got, want)
	}
}

// TestValidateShapes checks which lists of operators a definition built in Go may have.
func TestValidateShapes(t *testing.T) {
	agg := func() Operator { return Operator{Aggregate: &Aggregate{Field: "amount"}} }
	win := func() Operator { return scoreDef().Operators[0] }
	score := func() Operator { return scoreDef().Operators[1] }
	const alone = "aggregate runs alone: a pipeline with an aggregate operator has no other; remove the other operators, or run them in a pipeline of their own"
	tests := []struct {
		name string
		ops  []Operator
		want []string
	}{
		{name: "aggregate", ops: []Operator{agg()}},
		{name: "window", ops: []Operator{win()}},
		{name: "score", ops: []Operator{{Score: &Score{Model: ModelRef{File: "m.json", Name: "m"}, Features: []string{"amount"}}}}},
		{name: "window, score", ops: []Operator{win(), score()}},
		{
			name: "none",
			want: []string{"operators: required field is missing; add at least one operator, e.g. operators: [{aggregate: {field: amount}}]"},
		},
		{
			name: "score, window",
			ops:  []Operator{score(), win()},
			want: []string{"operators[0]: score must be the last operator, because its records are the pipeline's output; move it after operators[1]"},
		},
		{
			name: "window, score, window",
			ops:  []Operator{win(), score(), win()},
			want: []string{"operators[2]: a pipeline has at most one window operator, and operators[0] is one; remove this one, or run it in a pipeline of its own"},
		},
		{
			name: "window, window, score",
			ops:  []Operator{win(), win(), score()},
			want: []string{"operators[1]: a pipeline has at most one window operator, and operators[0] is one; remove this one, or run it in a pipeline of its own"},
		},
		{
			name: "aggregate, window, score",
			ops:  []Operator{agg(), win(), score()},
			want: []string{"operators[0]: " + alone + " (a score takes per-key aggregates as features from a window operator before it: window.<aggregate name>)"},
		},
		{
			name: "window, aggregate",
			ops:  []Operator{win(), agg()},
			want: []string{"operators[1]: " + alone},
		},
		{
			// The broken entry takes no part in the shape, and its window still serves
			// the features.
			name: "window and score in one entry, then a score",
			ops:  []Operator{{Window: win().Window, Score: score().Score}, score()},
			want: []string{"operators[0]: names 2 operator kinds (window, score); an entry names exactly one, so start a new entry with - for each"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := scoreDef()
			d.Operators = tt.ops
			checkValidate(t, d, tt.want)
		})
	}
}

func TestApplyDefaultsScore(t *testing.T) {
	d := &Definition{Name: "x", Operators: []Operator{
		{Score: &Score{
			Model:  ModelRef{File: "models/fraud.v1.json"},
			Shadow: &ModelRef{File: "../fraud-v2"},
		}},
		{Score: &Score{
			Model:  ModelRef{File: "models/fraud.json", Name: "given"},
			Shadow: &ModelRef{Topic: "fraud-models"},
		}},
		{Score: &Score{Model: ModelRef{File: "models/.json"}}},
	}}
	d.ApplyDefaults()
	tests := []struct {
		what string
		got  ModelRef
		want ModelRef
	}{
		{"a model file without a name", d.Operators[0].Score.Model, ModelRef{File: "models/fraud.v1.json", Name: "fraud.v1"}},
		{"a shadow file without a name or extension", *d.Operators[0].Score.Shadow, ModelRef{File: "../fraud-v2", Name: "fraud-v2"}},
		{"a model file with a name", d.Operators[1].Score.Model, ModelRef{File: "models/fraud.json", Name: "given"}},
		{"a topic without a name", *d.Operators[1].Score.Shadow, ModelRef{Topic: "fraud-models"}},
		{"a file that is only an extension", d.Operators[2].Score.Model, ModelRef{File: "models/.json"}},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %+v, want %+v", tt.what, tt.got, tt.want)
		}
	}
}

func TestWindowFeature(t *testing.T) {
	tests := []struct {
		feature, agg string
		ok           bool
	}{
		{"window.txn_count", "txn_count", true},
		{"window.p99.9_amount", "p99.9_amount", true},
		{"window.", "", true},
		{"window", "", false},
		{"amount", "", false},
		{"Window.count", "", false},
	}
	for _, tt := range tests {
		if agg, ok := WindowFeature(tt.feature); agg != tt.agg || ok != tt.ok {
			t.Errorf("WindowFeature(%q): got %q, %v, want %q, %v", tt.feature, agg, ok, tt.agg, tt.ok)
		}
	}
}

func TestOps(t *testing.T) {
	d := scoreDef()
	if got, want := d.WindowOp(), d.Operators[0].Window; got != want {
		t.Errorf("WindowOp: got %p, want the window of operators[0], %p", got, want)
	}
	if got, want := d.ScoreOp(), d.Operators[1].Score; got != want {
		t.Errorf("ScoreOp: got %p, want the score of operators[1], %p", got, want)
	}
	if !d.HasWindow() {
		t.Errorf("HasWindow: got false, want true")
	}
	d = baseDef()
	if d.WindowOp() != nil || d.ScoreOp() != nil || d.HasWindow() {
		t.Errorf("an aggregate pipeline: got WindowOp %v, ScoreOp %v, HasWindow %v, want nil, nil, false", d.WindowOp(), d.ScoreOp(), d.HasWindow())
	}
}

func TestKindScore(t *testing.T) {
	if got, want := (Operator{Score: &Score{}}).Kind(), "score"; got != want {
		t.Errorf("Kind: got %q, want %q", got, want)
	}
	if got := (Operator{Score: &Score{}, Window: &Window{}}).Kind(); got != "" {
		t.Errorf("Kind of an operator with two kinds: got %q, want \"\"", got)
	}
}
