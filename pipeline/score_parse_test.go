package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// scoreBase is a minimal valid file with a window operator followed by a score; the cases
// below edit one part of it so that their line and column numbers are easy to check
// against it.
const scoreBase = `name: fraud
input:
  topics: [transactions]
  format: json
  key_field: card_id
  event_time: {field: ts, format: epoch_millis}
operators:
  - window:
      type: sliding
      size: 10m
      aggregates:
        - {fn: count, as: txn_count}
        - {fn: sum, field: amount}
  - score:
      model:
        file: models/fraud.json
      features:
        - amount
        - window.txn_count
      alert: {threshold: 0.9, topic: fraud-alerts}
output:
  topic: fraud-scores
`

// The parts of scoreBase that cases replace.
const (
	windowLines = "  - window:\n      type: sliding\n      size: 10m\n      aggregates:\n" +
		"        - {fn: count, as: txn_count}\n        - {fn: sum, field: amount}\n"
	modelLines    = "      model:\n        file: models/fraud.json\n"
	fileLine      = "        file: models/fraud.json\n"
	featuresLines = "      features:\n        - amount\n        - window.txn_count\n"
	alertLine     = "      alert: {threshold: 0.9, topic: fraud-alerts}\n"
)

// editScore returns scoreBase with the one occurrence of old replaced by repl.
func editScore(t *testing.T, old, repl string) string {
	t.Helper()
	if n := strings.Count(scoreBase, old); n != 1 {
		t.Fatalf("editScore: %q occurs %d times in scoreBase, want 1", old, n)
	}
	return strings.Replace(scoreBase, old, repl, 1)
}

// scoreDef is the Definition of scoreBase parsed as p.yaml, defaults applied.
func scoreDef() *Definition {
	return &Definition{
		Name: "fraud",
		Input: Input{
			Topics:    []string{"transactions"},
			Format:    FormatJSON,
			KeyField:  "card_id",
			EventTime: EventTime{Field: "ts", Format: TimeEpochMillis},
		},
		Operators: []Operator{
			{Window: &Window{
				Type:       WindowSliding,
				Size:       10 * time.Minute,
				Emit:       EmitFinal,
				Aggregates: []Aggregation{{Func: AggCount, As: "txn_count"}, {Func: AggSum, Field: "amount"}},
			}},
			{Score: &Score{
				Model:    ModelRef{File: "models/fraud.json", Name: "fraud"},
				Features: []string{"amount", "window.txn_count"},
				Alert:    &Alert{Threshold: 0.9, Topic: "fraud-alerts"},
			}},
		},
		Output:         Output{Topic: "fraud-scores"},
		Quality:        Quality{Freshness: DefaultFreshness},
		ExactlyOnce:    true,
		CommitInterval: 100 * time.Millisecond,
		StateDir:       "./kappa-state/fraud",
	}
}

// theScore returns the settings of the score operator of d.
func theScore(d *Definition) *Score { return d.ScoreOp() }

func TestParseScore(t *testing.T) {
	tests := []struct {
		name string
		yaml func(t *testing.T) string
		want func(d *Definition) // edits scoreDef into the expected Definition
	}{
		{
			name: "defaults",
			yaml: func(*testing.T) string { return scoreBase },
			want: func(*Definition) {},
		},
		{
			name: "the example of the spec, from a topic",
			yaml: func(t *testing.T) string {
				return editScore(t, modelLines+featuresLines+alertLine, `      model:                  # required: exactly one of file or topic
        topic: fraud-models
        name: fraud
        version: ""
      features:
        - amount
        - window.txn_count
      alert:
        threshold: 0.9
        topic: fraud-alerts
      shadow:
        file: models/fraud-v2.json
`)
			},
			want: func(d *Definition) {
				s := theScore(d)
				s.Model = ModelRef{Topic: "fraud-models", Name: "fraud"}
				s.Shadow = &ModelRef{File: "models/fraud-v2.json", Name: "fraud-v2"}
			},
		},
		{
			name: "score alone, without alert",
			yaml: func(t *testing.T) string {
				s := editScore(t, windowLines, "")
				s = strings.Replace(s, alertLine, "", 1)
				return strings.Replace(s, "        - window.txn_count\n", "        - fee\n", 1)
			},
			want: func(d *Definition) {
				s := theScore(d)
				d.Operators = d.Operators[1:]
				s.Features[1] = "fee"
				s.Alert = nil
			},
		},
		{
			name: "name and version given",
			yaml: func(t *testing.T) string {
				return editScore(t, fileLine, fileLine+"        name: fraud.v1-eu\n        version: sha256:0a1b2c3d4e5f\n")
			},
			want: func(d *Definition) {
				theScore(d).Model = ModelRef{File: "models/fraud.json", Name: "fraud.v1-eu", Version: "sha256:0a1b2c3d4e5f"}
			},
		},
		{
			name: "default names of files",
			yaml: func(t *testing.T) string {
				return editScore(t, fileLine+featuresLines+alertLine,
					"        file: fraud.v2.onnx.json\n"+featuresLines+"      shadow: {file: ../shared/models/fraud-next}\n")
			},
			want: func(d *Definition) {
				s := theScore(d)
				s.Model = ModelRef{File: "fraud.v2.onnx.json", Name: "fraud.v2.onnx"}
				s.Shadow = &ModelRef{File: "../shared/models/fraud-next", Name: "fraud-next"}
				s.Alert = nil
			},
		},
		{
			name: "shadow from the model's topic under another name, both pinned",
			yaml: func(t *testing.T) string {
				return editScore(t, fileLine+featuresLines+alertLine, `        topic: fraud-models
        name: fraud
        version: "7"
`+featuresLines+alertLine+`      shadow:
        topic: fraud-models
        name: fraud-v2
        version: "8"
`)
			},
			want: func(d *Definition) {
				s := theScore(d)
				s.Model = ModelRef{Topic: "fraud-models", Name: "fraud", Version: "7"}
				s.Shadow = &ModelRef{Topic: "fraud-models", Name: "fraud-v2", Version: "8"}
			},
		},
		{
			name: "every kind of window feature, and thresholds of any sign",
			yaml: func(t *testing.T) string {
				s := editScore(t, "        - {fn: sum, field: amount}\n",
					"        - {fn: sum, field: amount}\n        - {fn: quantile, field: amount, q: 0.99}\n        - {fn: avg, field: amount, as: mean.amount-eur}\n")
				s = strings.Replace(s, "        - window.txn_count\n",
					"        - window.txn_count\n        - window.sum_amount\n        - window.p99_amount\n        - window.mean.amount-eur\n        - window\n", 1)
				return strings.Replace(s, "threshold: 0.9", "threshold: -2.5e3", 1)
			},
			want: func(d *Definition) {
				w := d.WindowOp()
				w.Aggregates = append(w.Aggregates,
					Aggregation{Func: AggQuantile, Field: "amount", Q: 0.99},
					Aggregation{Func: AggAvg, Field: "amount", As: "mean.amount-eur"})
				s := theScore(d)
				s.Features = append(s.Features, "window.sum_amount", "window.p99_amount", "window.mean.amount-eur", "window")
				s.Alert.Threshold = -2500
			},
		},
		{
			name: "threshold as an integer",
			yaml: func(t *testing.T) string { return editScore(t, "threshold: 0.9", "threshold: 1") },
			want: func(d *Definition) { theScore(d).Alert.Threshold = 1 },
		},
		{
			name: "window after which the score comes, whatever the features",
			yaml: func(t *testing.T) string { return editScore(t, "        - window.txn_count\n", "") },
			want: func(d *Definition) { theScore(d).Features = []string{"amount"} },
		},
		{
			name: "absolute model file",
			yaml: func(t *testing.T) string {
				return editScore(t, "file: models/fraud.json", "file: /srv/models/fraud.json")
			},
			want: func(d *Definition) { theScore(d).Model.File = "/srv/models/fraud.json" },
		},
		{
			name: "flow style",
			yaml: func(t *testing.T) string {
				return editScore(t, "  - score:\n"+modelLines+featuresLines+alertLine,
					"  - {score: {model: {file: models/fraud.json}, features: [amount, window.txn_count], alert: {threshold: 0.9, topic: fraud-alerts}}}\n")
			},
			want: func(*Definition) {},
		},
		{
			name: "aliases",
			yaml: func(t *testing.T) string {
				s := editScore(t, "        - amount\n", "        - &amt amount\n")
				return strings.Replace(s, "        - window.txn_count\n", "        - window.txn_count\n      shadow: {file: *amt}\n", 1)
			},
			want: func(d *Definition) { theScore(d).Shadow = &ModelRef{File: "amount", Name: "amount"} },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("p.yaml", []byte(tt.yaml(t)))
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

// TestParseScoreProblems checks each rule of the score operator through the exact text a
// user sees.
func TestParseScoreProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml func(t *testing.T) string
		want []string
	}{
		// The score as a whole.
		{
			name: "empty score",
			yaml: func(t *testing.T) string { return editScore(t, modelLines+featuresLines+alertLine, "") },
			want: []string{"p.yaml:14:5: operators[1].score: is empty; it needs model and features, e.g. score: {model: {file: models/fraud.json}, features: [amount]}"},
		},
		{
			name: "empty score mapping",
			yaml: func(t *testing.T) string {
				return editScore(t, "  - score:\n"+modelLines+featuresLines+alertLine, "  - score: {}\n")
			},
			want: []string{"p.yaml:14:12: operators[1].score: is empty; it needs model and features, e.g. score: {model: {file: models/fraud.json}, features: [amount]}"},
		},
		{
			name: "score without settings",
			yaml: func(t *testing.T) string {
				return editScore(t, "  - score:\n"+modelLines+featuresLines+alertLine, "  - score\n")
			},
			want: []string{`p.yaml:14:5: operators[1]: "score" needs its settings; write - score: {model: {file: models/fraud.json}, features: [amount]}`},
		},
		{
			name: "score misspelt",
			yaml: func(t *testing.T) string { return editScore(t, "  - score:", "  - scor:") },
			want: []string{`p.yaml:14:5: operators[1].scor: unknown operator kind; did you mean "score"?`},
		},
		{
			name: "score setting not indented",
			yaml: func(t *testing.T) string { return editScore(t, "  - score:\n", "  - features: [amount]\n    score:\n") },
			want: []string{
				`p.yaml:14:5: operators[1].features: "features" is a setting of score, not an operator kind; indent it under score:`,
			},
		},
		{
			name: "unknown score setting",
			yaml: func(t *testing.T) string { return editScore(t, alertLine, alertLine+"      sample: 0.1\n") },
			want: []string{"p.yaml:21:7: operators[1].score.sample: unknown field; the fields here are model, features, alert and shadow"},
		},

		// The model.
		{
			name: "model missing",
			yaml: func(t *testing.T) string { return editScore(t, modelLines, "") },
			want: []string{"p.yaml:14:5: operators[1].score.model: required field is missing; it needs file or topic, e.g. model: {file: models/fraud.json}"},
		},
		{
			name: "model empty",
			yaml: func(t *testing.T) string { return editScore(t, modelLines, "      model:\n") },
			want: []string{"p.yaml:15:7: operators[1].score.model: is empty; it needs file or topic, e.g. model: {file: models/fraud.json}"},
		},
		{
			name: "model an empty mapping",
			yaml: func(t *testing.T) string { return editScore(t, modelLines, "      model: {}\n") },
			want: []string{"p.yaml:15:14: operators[1].score.model: is empty; it needs file or topic, e.g. model: {file: models/fraud.json}"},
		},
		{
			name: "model a path",
			yaml: func(t *testing.T) string { return editScore(t, modelLines, "      model: models/fraud.json\n") },
			want: []string{`p.yaml:15:14: operators[1].score.model: must be a mapping, got the string "models/fraud.json"; write model: {file: models/fraud.json}`},
		},
		{
			name: "model a name",
			yaml: func(t *testing.T) string { return editScore(t, modelLines, "      model: fraud\n") },
			want: []string{`p.yaml:15:14: operators[1].score.model: must be a mapping, got the string "fraud"; it needs file or topic, e.g. model: {file: models/fraud.json}`},
		},
		{
			name: "model without file or topic",
			yaml: func(t *testing.T) string { return editScore(t, fileLine, "        name: fraud\n") },
			want: []string{"p.yaml:15:7: operators[1].score.model.file: required field is missing; add the model file, e.g. file: models/fraud.json, or the topic of its models, e.g. topic: fraud-models"},
		},
		{
			name: "file empty",
			yaml: func(t *testing.T) string { return editScore(t, fileLine, "        file:\n") },
			want: []string{"p.yaml:16:9: operators[1].score.model.file: is empty; add the model file, e.g. file: models/fraud.json, or the topic of its models, e.g. topic: fraud-models"},
		},
		{
			name: "file not a string",
			yaml: func(t *testing.T) string { return editScore(t, "file: models/fraud.json", "file: [models/fraud.json]") },
			want: []string{"p.yaml:16:15: operators[1].score.model.file: must be a string, got a list"},
		},
		{
			name: "file with a NUL byte",
			yaml: func(t *testing.T) string {
				return editScore(t, "file: models/fraud.json", `file: "models/fraud\0.json"`)
			},
			want: []string{`p.yaml:16:15: operators[1].score.model.file: "models/fraud\x00.json" contains a NUL byte, which no file system allows; remove it`},
		},
		{
			name: "file written path",
			yaml: func(t *testing.T) string { return editScore(t, "file: models", "path: models") },
			want: []string{`p.yaml:16:9: operators[1].score.model.path: unknown field; did you mean "file"?`},
		},
		{
			name: "file misspelt",
			yaml: func(t *testing.T) string { return editScore(t, "file: models", "fiel: models") },
			want: []string{`p.yaml:16:9: operators[1].score.model.fiel: unknown field; did you mean "file"?`},
		},
		{
			name: "file outside the model",
			yaml: func(t *testing.T) string { return editScore(t, modelLines, "      file: models/fraud.json\n") },
			want: []string{"p.yaml:15:7: operators[1].score.file: unknown field; it belongs under operators[].score.model or shadow, so move it there"},
		},
		{
			name: "file and topic",
			yaml: func(t *testing.T) string { return editScore(t, fileLine, fileLine+"        topic: fraud-models\n") },
			want: []string{"p.yaml:17:16: operators[1].score.model.topic: a model comes from a file or from a topic, not both; remove file or topic"},
		},
		{
			name: "topic without name",
			yaml: func(t *testing.T) string { return editScore(t, fileLine, "        topic: fraud-models\n") },
			want: []string{"p.yaml:15:7: operators[1].score.model.name: required field is missing; add the model name, the key of its records in fraud-models, e.g. name: fraud"},
		},
		{
			name: "topic with an empty name",
			yaml: func(t *testing.T) string {
				return editScore(t, fileLine, "        topic: fraud-models\n        name:\n")
			},
			want: []string{"p.yaml:17:9: operators[1].score.model.name: is empty; add the model name, the key of its records in fraud-models, e.g. name: fraud"},
		},
		{
			name: "topic an input topic",
			yaml: func(t *testing.T) string {
				return editScore(t, fileLine, "        topic: transactions\n        name: fraud\n")
			},
			want: []string{`p.yaml:16:16: operators[1].score.model.topic: "transactions" is an input topic; models come from a topic of their own, e.g. fraud-models`},
		},
		{
			name: "topic the output topic",
			yaml: func(t *testing.T) string {
				return editScore(t, fileLine, "        topic: fraud-scores\n        name: fraud\n")
			},
			want: []string{`p.yaml:16:16: operators[1].score.model.topic: "fraud-scores" is the output topic; models come from a topic of their own, e.g. fraud-models`},
		},
		{
			name: "topic the changelog",
			yaml: func(t *testing.T) string {
				return editScore(t, fileLine, "        topic: fraud-changelog\n        name: fraud\n")
			},
			want: []string{`p.yaml:16:16: operators[1].score.model.topic: "fraud-changelog" is the changelog topic of this pipeline; choose another topic`},
		},
		{
			name: "topic not a topic name",
			yaml: func(t *testing.T) string {
				return editScore(t, fileLine, "        topic: fraud models\n        name: fraud\n")
			},
			want: []string{`p.yaml:16:16: operators[1].score.model.topic: "fraud models" contains a space; a Kafka topic name uses only letters, digits, ".", "_" and "-"`},
		},
		{
			name: "name without a value",
			yaml: func(t *testing.T) string { return editScore(t, fileLine, fileLine+"        name:\n") },
			want: []string{"p.yaml:17:9: operators[1].score.model.name: has no value; set one, or remove the line to use the default (fraud)"},
		},
		{
			name: "name empty",
			yaml: func(t *testing.T) string { return editScore(t, fileLine, fileLine+"        name: ''\n") },
			want: []string{"p.yaml:17:15: operators[1].score.model.name: is empty; write a name, or remove the line to use the default (fraud)"},
		},
		{
			name: "name with a space",
			yaml: func(t *testing.T) string { return editScore(t, fileLine, fileLine+"        name: fraud v2\n") },
			want: []string{`p.yaml:17:15: operators[1].score.model.name: "fraud v2" contains a space; a model name uses only letters, digits, ".", "_" and "-"`},
		},
		{
			name: "default name with a space",
			yaml: func(t *testing.T) string {
				return editScore(t, "file: models/fraud.json", "file: models/fraud v2.json")
			},
			want: []string{`p.yaml:16:9: operators[1].score.model.name: "fraud v2" contains a space; a model name uses only letters, digits, ".", "_" and "-"; it is the base name of the file, so set one with name:, e.g. name: fraud_v2`},
		},
		{
			name: "name not a string",
			yaml: func(t *testing.T) string { return editScore(t, fileLine, fileLine+"        name: 2024\n") },
			want: []string{`p.yaml:17:15: operators[1].score.model.name: must be a string, got the number 2024; quote it to make it one: "2024"`},
		},
		{
			name: "model_name",
			yaml: func(t *testing.T) string { return editScore(t, fileLine, fileLine+"        model_name: fraud\n") },
			want: []string{`p.yaml:17:9: operators[1].score.model.model_name: unknown field; did you mean "name"?`},
		},
		{
			name: "version without a value",
			yaml: func(t *testing.T) string { return editScore(t, fileLine, fileLine+"        version:\n") },
			want: []string{"p.yaml:17:9: operators[1].score.model.version: has no value; set one, or remove the line to use the default (any version)"},
		},
		{
			name: "version with spaces",
			yaml: func(t *testing.T) string { return editScore(t, fileLine, fileLine+"        version: ' v1'\n") },
			want: []string{`p.yaml:17:18: operators[1].score.model.version: " v1" has spaces at its start or end, which no version has; remove them`},
		},
		{
			name: "version a number",
			yaml: func(t *testing.T) string { return editScore(t, fileLine, fileLine+"        version: 3\n") },
			want: []string{`p.yaml:17:18: operators[1].score.model.version: must be a string, got the number 3; quote it to make it one: "3"`},
		},
		{
			name: "a setting of alert in the model",
			yaml: func(t *testing.T) string { return editScore(t, fileLine, fileLine+"        threshold: 0.9\n") },
			want: []string{"p.yaml:17:9: operators[1].score.model.threshold: unknown field; it belongs under operators[].score.alert, so move it there"},
		},

		// The features.
		{
			name: "features missing",
			yaml: func(t *testing.T) string { return editScore(t, featuresLines, "") },
			want: []string{"p.yaml:14:5: operators[1].score.features: required field is missing; add the model's inputs in its feature order, e.g. features: [amount, window.count]"},
		},
		{
			name: "features without a value",
			yaml: func(t *testing.T) string { return editScore(t, featuresLines, "      features:\n") },
			want: []string{"p.yaml:17:7: operators[1].score.features: is empty; add the model's inputs in its feature order, e.g. features: [amount, window.count]"},
		},
		{
			name: "features an empty list",
			yaml: func(t *testing.T) string { return editScore(t, featuresLines, "      features: []\n") },
			want: []string{"p.yaml:17:17: operators[1].score.features: is empty; add the model's inputs in its feature order, e.g. features: [amount, window.count]"},
		},
		{
			name: "features a string",
			yaml: func(t *testing.T) string { return editScore(t, featuresLines, "      features: amount\n") },
			want: []string{`p.yaml:17:17: operators[1].score.features: must be a list, got the string "amount"; write features: [amount]`},
		},
		{
			name: "features written inputs",
			yaml: func(t *testing.T) string { return editScore(t, "      features:\n", "      inputs:\n") },
			want: []string{`p.yaml:17:7: operators[1].score.inputs: unknown field; did you mean "features"?`},
		},
		{
			name: "bad entries",
			yaml: func(t *testing.T) string {
				return editScore(t, "        - window.txn_count\n", "        - window.sum_amount\n        - ''\n        -\n        - 3\n        - ' fee'\n        - amount\n")
			},
			want: []string{
				"p.yaml:20:11: operators[1].score.features[2]: is empty; write a field name or window.<aggregate name>, or remove the entry",
				"p.yaml:21:10: operators[1].score.features[3]: is empty; write a field name or window.<aggregate name>, or remove the entry",
				`p.yaml:22:11: operators[1].score.features[4]: must be a string, got the number 3; quote it to make it one: "3"`,
				`p.yaml:23:11: operators[1].score.features[5]: " fee" has spaces at its start or end; remove them`,
				`p.yaml:24:11: operators[1].score.features[6]: "amount" is listed twice (also features[0]); remove one`,
			},
		},
		{
			name: "a window feature twice",
			yaml: func(t *testing.T) string {
				return editScore(t, "        - window.txn_count\n", "        - window.txn_count\n        - window.txn_count\n")
			},
			want: []string{`p.yaml:20:11: operators[1].score.features[2]: "window.txn_count" is listed twice (also features[1]); remove one`},
		},
		{
			name: "nested field",
			yaml: func(t *testing.T) string { return editScore(t, "        - amount\n", "        - user.age\n") },
			want: []string{`p.yaml:18:11: operators[1].score.features[0]: "user.age" is a dotted path; use a top-level field name (nested fields are not supported yet)`},
		},
		{
			name: "window feature misspelt",
			yaml: func(t *testing.T) string { return editScore(t, "- window.txn_count", "- window.txn_cnt") },
			want: []string{`p.yaml:19:11: operators[1].score.features[1]: window has no aggregate named "txn_cnt"; its aggregates are txn_count and sum_amount (did you mean "window.txn_count"?)`},
		},
		{
			name: "window feature unknown",
			yaml: func(t *testing.T) string { return editScore(t, "- window.txn_count", "- window.p99") },
			want: []string{`p.yaml:19:11: operators[1].score.features[1]: window has no aggregate named "p99"; its aggregates are txn_count and sum_amount`},
		},
		{
			name: "window feature by function rather than output name",
			yaml: func(t *testing.T) string { return editScore(t, "- window.txn_count", "- window.count") },
			want: []string{`p.yaml:19:11: operators[1].score.features[1]: window has no aggregate named "count"; its aggregates are txn_count and sum_amount`},
		},
		{
			name: "window feature without a name",
			yaml: func(t *testing.T) string { return editScore(t, "- window.txn_count", "- window.") },
			want: []string{`p.yaml:19:11: operators[1].score.features[1]: "window." names no aggregate; write window.<aggregate name>, e.g. window.count`},
		},
		{
			name: "window feature with a misspelt prefix",
			yaml: func(t *testing.T) string { return editScore(t, "- window.txn_count", "- windows.txn_count") },
			want: []string{`p.yaml:19:11: operators[1].score.features[1]: "windows.txn_count" is a dotted path; did you mean "window.txn_count"? (a window feature is window.<aggregate name>)`},
		},
		{
			name: "window feature without a window",
			yaml: func(t *testing.T) string { return editScore(t, windowLines, "") },
			want: []string{`p.yaml:13:11: operators[0].score.features[1]: a window.<name> feature needs a window operator before the score, and this pipeline has none; add a window whose aggregates include one named "txn_count", or use a record field`},
		},
		{
			name: "window feature of a window whose entry is broken",
			yaml: func(t *testing.T) string { return editScore(t, windowLines, "  - window\n") },
			want: []string{`p.yaml:8:5: operators[0]: "window" needs its settings; write - window: {type: tumbling, size: 1m, aggregates: [{fn: count}]}`},
		},
		{
			name: "window feature of an aggregate with a bad name",
			yaml: func(t *testing.T) string { return editScore(t, "as: txn_count", "as: txn count") },
			want: []string{`p.yaml:12:27: operators[0].window.aggregates[0].as: "txn count" contains a space; an output name uses only letters, digits, "_", "-" and "."`},
		},
		{
			name: "window feature of an aggregate that cannot be read",
			yaml: func(t *testing.T) string { return editScore(t, "as: txn_count", "as: [txn_count]") },
			want: []string{"p.yaml:12:27: operators[0].window.aggregates[0].as: must be a string, got a list"},
		},
		{
			name: "window feature of a window without aggregates",
			yaml: func(t *testing.T) string {
				return editScore(t, "        - {fn: count, as: txn_count}\n        - {fn: sum, field: amount}\n", "")
			},
			want: []string{"p.yaml:11:7: operators[0].window.aggregates: is empty; add at least one aggregate, e.g. aggregates: [{fn: count}]"},
		},

		// The alert.
		{
			name: "alert without a value",
			yaml: func(t *testing.T) string { return editScore(t, alertLine, "      alert:\n") },
			want: []string{"p.yaml:20:7: operators[1].score.alert: has no value; set one, or remove the line to use the default (no alerts)"},
		},
		{
			name: "alert empty",
			yaml: func(t *testing.T) string { return editScore(t, alertLine, "      alert: {}\n") },
			want: []string{"p.yaml:20:14: operators[1].score.alert: is empty; it needs threshold and topic, e.g. alert: {threshold: 0.9, topic: fraud-alerts}"},
		},
		{
			name: "alert a number",
			yaml: func(t *testing.T) string { return editScore(t, alertLine, "      alert: 0.9\n") },
			want: []string{"p.yaml:20:14: operators[1].score.alert: must be a mapping, got the number 0.9; it needs threshold and topic, e.g. alert: {threshold: 0.9, topic: fraud-alerts}"},
		},
		{
			name: "threshold missing",
			yaml: func(t *testing.T) string { return editScore(t, "threshold: 0.9, ", "") },
			want: []string{"p.yaml:20:7: operators[1].score.alert.threshold: required field is missing; add the score at or above which a record alerts, e.g. threshold: 0.9"},
		},
		{
			name: "threshold empty",
			yaml: func(t *testing.T) string {
				return editScore(t, alertLine, "      alert:\n        threshold:\n        topic: fraud-alerts\n")
			},
			want: []string{"p.yaml:21:9: operators[1].score.alert.threshold: is empty; add the score at or above which a record alerts, e.g. threshold: 0.9"},
		},
		{
			name: "threshold misspelt",
			yaml: func(t *testing.T) string { return editScore(t, "threshold: 0.9", "treshold: 0.9") },
			want: []string{`p.yaml:20:15: operators[1].score.alert.treshold: unknown field; did you mean "threshold"?`},
		},
		{
			name: "threshold written cutoff",
			yaml: func(t *testing.T) string { return editScore(t, "threshold: 0.9", "cutoff: 0.9") },
			want: []string{`p.yaml:20:15: operators[1].score.alert.cutoff: unknown field; did you mean "threshold"?`},
		},
		{
			name: "threshold outside the alert",
			yaml: func(t *testing.T) string { return editScore(t, alertLine, "      threshold: 0.9\n") },
			want: []string{"p.yaml:20:7: operators[1].score.threshold: unknown field; it belongs under operators[].score.alert, so move it there"},
		},
		{
			name: "threshold NaN",
			yaml: func(t *testing.T) string { return editScore(t, "threshold: 0.9", "threshold: .nan") },
			want: []string{"p.yaml:20:26: operators[1].score.alert.threshold: NaN is not a finite number; use a score, e.g. threshold: 0.9"},
		},
		{
			name: "threshold infinite",
			yaml: func(t *testing.T) string { return editScore(t, "threshold: 0.9", "threshold: -.inf") },
			want: []string{"p.yaml:20:26: operators[1].score.alert.threshold: -Inf is not a finite number; use a score, e.g. threshold: 0.9"},
		},
		{
			name: "threshold quoted",
			yaml: func(t *testing.T) string { return editScore(t, "threshold: 0.9", "threshold: '0.9'") },
			want: []string{`p.yaml:20:26: operators[1].score.alert.threshold: must be a number such as 0.99, got the string "0.9"; remove the quotes`},
		},
		{
			name: "alert topic missing",
			yaml: func(t *testing.T) string { return editScore(t, ", topic: fraud-alerts", "") },
			want: []string{"p.yaml:20:7: operators[1].score.alert.topic: required field is missing; add the topic that takes the alerts, e.g. topic: fraud-alerts"},
		},
		{
			name: "alert topic an input topic",
			yaml: func(t *testing.T) string { return editScore(t, "topic: fraud-alerts", "topic: transactions") },
			want: []string{`p.yaml:20:38: operators[1].score.alert.topic: "transactions" is an input topic; write the alerts to a topic of their own, e.g. fraud-alerts`},
		},
		{
			name: "alert topic the output topic",
			yaml: func(t *testing.T) string { return editScore(t, "topic: fraud-alerts", "topic: fraud-scores") },
			want: []string{`p.yaml:20:38: operators[1].score.alert.topic: "fraud-scores" is the output topic; alerts go to a topic of their own, beside the output`},
		},
		{
			name: "alert topic the late topic",
			yaml: func(t *testing.T) string { return editScore(t, "topic: fraud-alerts", "topic: fraud-late") },
			want: []string{`p.yaml:20:38: operators[1].score.alert.topic: "fraud-late" is the late-record topic of this pipeline; choose another topic`},
		},
		{
			name: "alert topic the model topic",
			yaml: func(t *testing.T) string {
				s := editScore(t, fileLine, "        topic: fraud-models\n        name: fraud\n")
				return strings.Replace(s, "topic: fraud-alerts", "topic: fraud-models", 1)
			},
			want: []string{`p.yaml:21:38: operators[1].score.alert.topic: "fraud-models" is the topic of the model; write the alerts to a topic of their own`},
		},
		{
			name: "alert topic the shadow topic",
			yaml: func(t *testing.T) string {
				return editScore(t, alertLine, "      alert: {threshold: 0.9, topic: fraud-models}\n      shadow: {topic: fraud-models, name: fraud-v2}\n")
			},
			want: []string{`p.yaml:20:38: operators[1].score.alert.topic: "fraud-models" is the topic of the shadow model; write the alerts to a topic of their own`},
		},

		// The shadow.
		{
			name: "shadow without a value",
			yaml: func(t *testing.T) string { return editScore(t, alertLine, "      shadow:\n") },
			want: []string{"p.yaml:20:7: operators[1].score.shadow: has no value; set one, or remove the line to use the default (no shadow model)"},
		},
		{
			name: "shadow empty",
			yaml: func(t *testing.T) string { return editScore(t, alertLine, "      shadow: {}\n") },
			want: []string{"p.yaml:20:15: operators[1].score.shadow: is empty; it needs file or topic, e.g. shadow: {file: models/fraud-v2.json}"},
		},
		{
			name: "shadow a path",
			yaml: func(t *testing.T) string { return editScore(t, alertLine, "      shadow: models/fraud-v2.json\n") },
			want: []string{`p.yaml:20:15: operators[1].score.shadow: must be a mapping, got the string "models/fraud-v2.json"; write shadow: {file: models/fraud-v2.json}`},
		},
		{
			name: "shadow without file or topic",
			yaml: func(t *testing.T) string { return editScore(t, alertLine, "      shadow: {version: v2}\n") },
			want: []string{"p.yaml:20:7: operators[1].score.shadow.file: required field is missing; add the model file, e.g. file: models/fraud-v2.json, or the topic of its models, e.g. topic: fraud-models"},
		},
		{
			name: "shadow the model file",
			yaml: func(t *testing.T) string {
				return editScore(t, alertLine, "      shadow: {file: ./models/../models/fraud.json}\n")
			},
			want: []string{`p.yaml:20:22: operators[1].score.shadow.file: "models/fraud.json" is the file of model too; a shadow is a second model, so use another file`},
		},
		{
			name: "shadow the model of a topic",
			yaml: func(t *testing.T) string {
				s := editScore(t, fileLine, "        topic: fraud-models\n        name: fraud\n")
				return strings.Replace(s, alertLine, "      shadow: {topic: fraud-models, name: fraud, version: v2}\n", 1)
			},
			want: []string{`p.yaml:21:43: operators[1].score.shadow.name: "fraud" of topic "fraud-models" is model itself; a shadow is a second model, so name another`},
		},
		{
			name: "shadow with file and topic",
			yaml: func(t *testing.T) string {
				return editScore(t, alertLine, "      shadow: {file: models/fraud-v2.json, topic: fraud-models}\n")
			},
			want: []string{"p.yaml:20:51: operators[1].score.shadow.topic: a model comes from a file or from a topic, not both; remove file or topic"},
		},
		{
			name: "shadow topic an input topic",
			yaml: func(t *testing.T) string {
				return editScore(t, alertLine, "      shadow: {topic: transactions, name: fraud}\n")
			},
			want: []string{`p.yaml:20:23: operators[1].score.shadow.topic: "transactions" is an input topic; models come from a topic of their own, e.g. fraud-models`},
		},
		{
			name: "shadow written challenger",
			yaml: func(t *testing.T) string {
				return editScore(t, alertLine, "      challenger: {file: models/fraud-v2.json}\n")
			},
			want: []string{`p.yaml:20:7: operators[1].score.challenger: unknown field; did you mean "shadow"?`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblems(t, tt.yaml(t), tt.want)
		})
	}
}

// checkProblems parses src as p.yaml and checks that it fails with exactly want.
func checkProblems(t *testing.T, src string, want []string) {
	t.Helper()
	d, err := Parse("p.yaml", []byte(src))
	if d != nil {
		t.Errorf("Parse: got a definition %s, want nil", dump(d))
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse: got error %v (%T), want Problems", err, err)
	}
	if got, want := err.Error(), strings.Join(want, "\n"); got != want {
		t.Errorf("Parse problems:\ngot\n%s\nwant\n%s", got, want)
	}
}

// TestParseShapes checks which lists of operators a file may have, and what it is told
// when its list is none of them.
func TestParseShapes(t *testing.T) {
	const (
		agg    = "  - aggregate: {field: amount}\n"
		win    = "  - window: {type: tumbling, size: 1m, aggregates: [{fn: count}]}\n"
		score  = "  - score: {model: {file: m.json}, features: [amount]}\n"
		wscore = "  - score: {model: {file: m.json}, features: [amount, window.count]}\n"
	)
	// The operators start at line 8.
	file := func(ops ...string) string {
		return strings.Replace(scoreBase, scoreBase[strings.Index(scoreBase, "  - window:"):strings.Index(scoreBase, "output:")], strings.Join(ops, ""), 1)
	}
	for _, ops := range [][]string{{agg}, {win}, {score}, {win, wscore}} {
		t.Run("valid "+strings.TrimSpace(strings.Join(ops, "")), func(t *testing.T) {
			d, err := Parse("p.yaml", []byte(file(ops...)))
			if err != nil {
				t.Fatalf("Parse: got error\n%v\nwant none", err)
			}
			if len(d.Operators) != len(ops) {
				t.Errorf("Parse: got %d operators, want %d", len(d.Operators), len(ops))
			}
		})
	}

	const (
		alone     = "aggregate runs alone: a pipeline with an aggregate operator has no other; remove the other operators, or run them in a pipeline of their own"
		aloneHint = " (a score takes per-key aggregates as features from a window operator before it: window.<aggregate name>)"
	)
	tests := []struct {
		name string
		ops  []string
		want []string
	}{
		{
			name: "score before the window",
			ops:  []string{wscore, win},
			want: []string{"p.yaml:8:5: operators[0]: score must be the last operator, because its records are the pipeline's output; move it after operators[1]"},
		},
		{
			name: "score before the window, with problems of its own",
			ops:  []string{"  - score: {model: {file: m.json}, features: [amount, window.count], alert: 0.9}\n", win},
			want: []string{
				"p.yaml:8:5: operators[0]: score must be the last operator, because its records are the pipeline's output; move it after operators[1]",
				"p.yaml:8:77: operators[0].score.alert: must be a mapping, got the number 0.9; it needs threshold and topic, e.g. alert: {threshold: 0.9, topic: fraud-alerts}",
			},
		},
		{
			name: "two windows before the score",
			ops:  []string{win, win, wscore},
			want: []string{"p.yaml:9:5: operators[1]: a pipeline has at most one window operator, and operators[0] is one; remove this one, or run it in a pipeline of its own"},
		},
		{
			name: "two scores",
			ops:  []string{win, wscore, score},
			want: []string{"p.yaml:10:5: operators[2]: a pipeline has at most one score operator, and operators[1] is one; remove this one, or run it in a pipeline of its own (to score with a second model beside the first, use shadow: in operators[1].score)"},
		},
		{
			name: "score between two windows",
			ops:  []string{win, wscore, win},
			want: []string{"p.yaml:10:5: operators[2]: a pipeline has at most one window operator, and operators[0] is one; remove this one, or run it in a pipeline of its own"},
		},
		{
			name: "score first of three",
			ops:  []string{score, win, win},
			want: []string{
				"p.yaml:8:5: operators[0]: score must be the last operator, because its records are the pipeline's output; move it after operators[1]",
				"p.yaml:10:5: operators[2]: a pipeline has at most one window operator, and operators[1] is one; remove this one, or run it in a pipeline of its own",
			},
		},
		{
			name: "aggregate and window",
			ops:  []string{agg, win},
			want: []string{"p.yaml:8:5: operators[0]: " + alone},
		},
		{
			name: "window and aggregate",
			ops:  []string{win, agg},
			want: []string{"p.yaml:9:5: operators[1]: " + alone},
		},
		{
			name: "aggregate before a score",
			ops:  []string{agg, score},
			want: []string{"p.yaml:8:5: operators[0]: " + alone + aloneHint},
		},
		{
			name: "aggregate before a score with window features",
			ops:  []string{agg, wscore},
			want: []string{
				"p.yaml:8:5: operators[0]: " + alone + aloneHint,
				`p.yaml:9:55: operators[1].score.features[1]: a window.<name> feature needs a window operator before the score, and this pipeline has none; add a window whose aggregates include one named "count", or use a record field`,
			},
		},
		{
			name: "two aggregates",
			ops:  []string{agg, agg},
			want: []string{"p.yaml:9:5: operators[1]: a pipeline has at most one aggregate operator, and operators[0] is one; remove this one, or run it in a pipeline of its own"},
		},
		{
			name: "a broken entry takes no part",
			ops:  []string{"  - scroe: {}\n", wscore},
			want: []string{`p.yaml:8:5: operators[0].scroe: unknown operator kind; did you mean "score"?`},
		},
		{
			name: "window and score in one entry",
			ops:  []string{"  - window: {type: tumbling, size: 1m, aggregates: [{fn: count}]}\n    score: {model: {file: m.json}, features: [amount]}\n"},
			want: []string{"p.yaml:8:5: operators[0]: names 2 operator kinds (window, score); an entry names exactly one, so start a new entry with - for each"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkProblems(t, file(tt.ops...), tt.want)
		})
	}
}

// TestParseModelPaths checks that Parse and Load resolve relative model files against the
// directory of the pipeline file, and keep absolute ones.
func TestParseModelPaths(t *testing.T) {
	abs, err := filepath.Abs(filepath.Join("srv", "models", "fraud.json"))
	if err != nil {
		t.Fatal(err)
	}
	src := func(file, shadow string) string {
		s := editScore(t, "file: models/fraud.json", "file: "+file)
		return strings.Replace(s, alertLine, "      shadow: {file: '"+shadow+"'}\n", 1)
	}
	tests := []struct {
		name, filename, file, shadow string
		wantFile, wantShadow         string
	}{
		{"in the working directory", "p.yaml", "models/fraud.json", "fraud-v2.json", "models/fraud.json", "fraud-v2.json"},
		{"no file name", "", "./models/fraud.json", "fraud-v2.json", "models/fraud.json", "fraud-v2.json"},
		{
			"in a directory", filepath.Join("pipelines", "eu", "p.yaml"), "models/fraud.json", "../fraud-v2.json",
			filepath.Join("pipelines", "eu", "models", "fraud.json"), filepath.Join("pipelines", "fraud-v2.json"),
		},
		{
			"absolute pipeline file", filepath.Join(filepath.Dir(abs), "p.yaml"), "fraud.json", "v2/fraud.json",
			abs, filepath.Join(filepath.Dir(abs), "v2", "fraud.json"),
		},
		{"absolute model file", filepath.Join("pipelines", "p.yaml"), abs, abs + ".v2", abs, abs + ".v2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse(tt.filename, []byte(src(tt.file, tt.shadow)))
			if err != nil {
				t.Fatalf("Parse: got error\n%v\nwant none", err)
			}
			s := theScore(d)
			if s.Model.File != tt.wantFile || s.Shadow.File != tt.wantShadow {
				t.Errorf("Parse: got files %q and %q, want %q and %q", s.Model.File, s.Shadow.File, tt.wantFile, tt.wantShadow)
			}
			if s.Model.Name != "fraud" {
				t.Errorf("Parse: got model name %q, want fraud", s.Model.Name)
			}
		})
	}

	t.Run("Load", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "pipelines")
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "fraud.yaml")
		if err := os.WriteFile(path, []byte(scoreBase), 0o600); err != nil {
			t.Fatal(err)
		}
		d, err := Load(path)
		if err != nil {
			t.Fatalf("Load: got error\n%v\nwant none", err)
		}
		if got, want := theScore(d).Model.File, filepath.Join(dir, "models", "fraud.json"); got != want {
			t.Errorf("Load: got model file %q, want %q", got, want)
		}
	})
}
