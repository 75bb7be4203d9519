package pipeline

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// base is a minimal valid file; the cases below edit one part of it so that their line
// and column numbers are easy to check against it.
const base = `name: card-totals
input:
  topics: [transactions]
  format: json
  key_field: card_id
  event_time:
    field: ts
    format: epoch_millis
operators:
  - aggregate:
      field: amount
output:
  topic: card-totals
`

// edit returns base with the one occurrence of old replaced by repl.
func edit(t *testing.T, old, repl string) string {
	t.Helper()
	if n := strings.Count(base, old); n != 1 {
		t.Fatalf("edit: %q occurs %d times in base, want 1", old, n)
	}
	return strings.Replace(base, old, repl, 1)
}

// dump shows a Definition in a failure message, operators included.
func dump(d *Definition) string {
	b, err := json.Marshal(d)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// baseDef is the Definition of base, defaults applied.
func baseDef() *Definition {
	return &Definition{
		Name: "card-totals",
		Input: Input{
			Topics:    []string{"transactions"},
			Format:    FormatJSON,
			KeyField:  "card_id",
			EventTime: EventTime{Field: "ts", Format: TimeEpochMillis},
		},
		Operators:      []Operator{{Aggregate: &Aggregate{Field: "amount"}}},
		Output:         Output{Topic: "card-totals"},
		Quality:        Quality{Freshness: DefaultFreshness},
		ExactlyOnce:    true,
		CommitInterval: 100 * time.Millisecond,
		StateDir:       "./kappa-state/card-totals",
	}
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		yaml func(t *testing.T) string
		want func(d *Definition) // edits baseDef into the expected Definition
	}{
		{
			name: "defaults",
			yaml: func(*testing.T) string { return base },
			want: func(*Definition) {},
		},
		{
			name: "every optional field",
			yaml: func(*testing.T) string {
				return base + "exactly_once: false\ncommit_interval: 250ms\nstate_dir: /var/lib/kappa\n"
			},
			want: func(d *Definition) {
				d.ExactlyOnce, d.CommitInterval, d.StateDir = false, 250*time.Millisecond, "/var/lib/kappa"
			},
		},
		{
			name: "max_out_of_orderness",
			yaml: func(t *testing.T) string {
				return edit(t, "  key_field: card_id\n", "  key_field: card_id\n  max_out_of_orderness: 1m30s\n")
			},
			want: func(d *Definition) { d.Input.MaxOutOfOrderness = 90 * time.Second },
		},
		{
			name: "a bare 0 is a duration",
			yaml: func(t *testing.T) string {
				return edit(t, "  key_field: card_id\n", "  key_field: card_id\n  max_out_of_orderness: 0\n")
			},
			want: func(*Definition) {},
		},
		{
			name: "exactly_once true written out",
			yaml: func(*testing.T) string { return base + "exactly_once: true\n" },
			want: func(*Definition) {},
		},
		{
			name: "commit_interval at its maximum",
			yaml: func(*testing.T) string { return base + "commit_interval: 1m\n" },
			want: func(d *Definition) { d.CommitInterval = time.Minute },
		},
		{
			name: "rfc3339 and several topics",
			yaml: func(t *testing.T) string {
				s := edit(t, "format: epoch_millis", "format: rfc3339")
				return strings.Replace(s, "[transactions]", "[transactions, refunds, chargebacks.v2]", 1)
			},
			want: func(d *Definition) {
				d.Input.EventTime.Format = TimeRFC3339
				d.Input.Topics = []string{"transactions", "refunds", "chargebacks.v2"}
			},
		},
		{
			name: "block list of topics",
			yaml: func(t *testing.T) string {
				return edit(t, "  topics: [transactions]\n", "  topics:\n    - transactions\n    - refunds\n")
			},
			want: func(d *Definition) { d.Input.Topics = []string{"transactions", "refunds"} },
		},
		{
			name: "flow style",
			yaml: func(*testing.T) string {
				return `{name: card-totals, input: {topics: [transactions], format: json, key_field: card_id,` +
					` event_time: {field: ts, format: epoch_millis}}, operators: [{aggregate: {field: amount}}],` +
					` output: {topic: card-totals}}`
			},
			want: func(*Definition) {},
		},
		{
			name: "quoted numbers are strings",
			yaml: func(t *testing.T) string {
				s := edit(t, "name: card-totals", `name: "2024"`)
				s = strings.Replace(s, "[transactions]", `["123"]`, 1)
				return strings.Replace(s, "field: amount", "field: '7'", 1)
			},
			want: func(d *Definition) {
				d.Name, d.StateDir, d.Input.Topics = "2024", "./kappa-state/2024", []string{"123"}
				d.Operators[0].Aggregate.Field = "7"
			},
		},
		{
			name: "explicit string tag",
			yaml: func(t *testing.T) string { return edit(t, "name: card-totals", "name: !!str 2024") },
			want: func(d *Definition) { d.Name, d.StateDir = "2024", "./kappa-state/2024" },
		},
		{
			name: "document markers and comments",
			yaml: func(*testing.T) string { return "# a pipeline\n---\n" + base + "...\n" },
			want: func(*Definition) {},
		},
		{
			name: "anchors and aliases",
			yaml: func(t *testing.T) string {
				s := edit(t, "  topics: [transactions]", "  topics: &in [transactions]")
				return s + "exactly_once: &yes true\n"
			},
			want: func(*Definition) {},
		},
		{
			name: "longest name and topic",
			yaml: func(t *testing.T) string {
				s := edit(t, "name: card-totals", "name: "+strings.Repeat("n", 200))
				return strings.Replace(s, "topic: card-totals", "topic: "+strings.Repeat("t", 249), 1)
			},
			want: func(d *Definition) {
				d.Name, d.StateDir = strings.Repeat("n", 200), "./kappa-state/"+strings.Repeat("n", 200)
				d.Output.Topic = strings.Repeat("t", 249)
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse("p.yaml", []byte(tt.yaml(t)))
			if err != nil {
				t.Fatalf("Parse: got error\n%v\nwant none", err)
			}
			want := baseDef()
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

// TestParseProblems checks each rule through the exact text a user sees.
func TestParseProblems(t *testing.T) {
	tests := []struct {
		name string
		yaml func(t *testing.T) string
		want []string
	}{
		// The document.
		{
			name: "empty file",
			yaml: func(*testing.T) string { return "" },
			want: []string{"p.yaml: the file is empty; a pipeline needs at least name, input, operators and output"},
		},
		{
			name: "only comments",
			yaml: func(*testing.T) string { return "# nothing yet\n" },
			want: []string{"p.yaml: the file is empty; a pipeline needs at least name, input, operators and output"},
		},
		{
			name: "empty document",
			yaml: func(*testing.T) string { return "---\n" },
			want: []string{"p.yaml:2:1: the document is empty; a pipeline needs at least name, input, operators and output"},
		},
		{
			name: "not a mapping",
			yaml: func(*testing.T) string { return "- name: card-totals\n" },
			want: []string{"p.yaml:1:1: a pipeline file is a mapping of fields (name, input, operators, output, on_error, quality, exactly_once, commit_interval, state_dir); got a list"},
		},
		{
			name: "syntax error",
			yaml: func(t *testing.T) string { return edit(t, "  topics: [transactions]", "  topics: [transactions") },
			want: []string{"p.yaml:3: invalid YAML: did not find expected ',' or ']'; check the indentation and the quoting of this line and the lines around it"},
		},
		{
			name: "bad indentation",
			yaml: func(t *testing.T) string { return edit(t, "  format: json", " format: json") },
			want: []string{"p.yaml:4: invalid YAML: did not find expected key; check the indentation and the quoting of this line and the lines around it"},
		},
		{
			name: "tab indentation",
			yaml: func(t *testing.T) string { return edit(t, "  format: json", "\tformat: json") },
			want: []string{"p.yaml:4: invalid YAML: found character that cannot start any token; this line is indented with a tab, and YAML indents with spaces only"},
		},
		{
			name: "two documents",
			yaml: func(*testing.T) string { return base + "---\nname: other\n" },
			want: []string{"p.yaml:14:1: a second YAML document starts here; a pipeline file holds exactly one, so remove this one"},
		},
		{
			name: "syntax error in a second document",
			yaml: func(*testing.T) string { return base + "---\nname: [\n" },
			want: []string{"p.yaml:16: invalid YAML: did not find expected node content; check the indentation and the quoting of this line and the lines around it"},
		},

		// Keys.
		{
			name: "unknown field, misspelt",
			yaml: func(t *testing.T) string { return edit(t, "key_field", "key_feild") },
			want: []string{`p.yaml:5:3: input.key_feild: unknown field; did you mean "key_field"?`},
		},
		{
			name: "unknown field, other case",
			yaml: func(t *testing.T) string { return edit(t, "name:", "Name:") },
			want: []string{`p.yaml:1:1: Name: unknown field; did you mean "name"?`},
		},
		{
			name: "unknown field, camel case",
			yaml: func(t *testing.T) string { return edit(t, "event_time:", "eventTime:") },
			want: []string{`p.yaml:6:3: input.eventTime: unknown field; did you mean "event_time"?`},
		},
		{
			name: "unknown field, nothing close",
			yaml: func(*testing.T) string { return base + "parallelism: 4\n" },
			want: []string{"p.yaml:14:1: parallelism: unknown field; the fields at the top level are name, input, operators, output, on_error, quality, exactly_once, commit_interval and state_dir"},
		},
		{
			name: "unknown field in event_time",
			yaml: func(t *testing.T) string { return edit(t, "    format: epoch_millis", "    fromat: epoch_millis") },
			want: []string{`p.yaml:8:5: input.event_time.fromat: unknown field; did you mean "format"?`},
		},
		{
			name: "unknown field in output",
			yaml: func(t *testing.T) string {
				return edit(t, "  topic: card-totals", "  topic: card-totals\n  partitions: 3")
			},
			want: []string{"p.yaml:14:3: output.partitions: unknown field; the fields here are topic"},
		},
		{
			name: "unknown setting of an operator",
			yaml: func(t *testing.T) string { return edit(t, "      field: amount", "      fields: amount") },
			want: []string{`p.yaml:11:7: operators[0].aggregate.fields: unknown field; did you mean "field"?`},
		},
		{
			name: "field in the wrong mapping",
			yaml: func(t *testing.T) string {
				return strings.Replace(edit(t, "  key_field: card_id\n", ""), "name: card-totals\n", "name: card-totals\nkey_field: card_id\n", 1)
			},
			want: []string{"p.yaml:2:1: key_field: unknown field; it belongs under input, so move it there"},
		},
		{
			name: "top-level field in a mapping",
			yaml: func(t *testing.T) string {
				return edit(t, "  format: json\n", "  format: json\n  commit_interval: 1s\n")
			},
			want: []string{"p.yaml:5:3: input.commit_interval: unknown field; it belongs at the top level, so move it there"},
		},
		{
			name: "field in the wrong mapping while its home has one",
			yaml: func(t *testing.T) string {
				s := edit(t, "      field: amount", "      field: amount\n      topic: transactions")
				return strings.Replace(s, "topic: card-totals", "topic: transactions", 1)
			},
			want: []string{
				"p.yaml:12:7: operators[0].aggregate.topic: unknown field; it belongs under output or under operators[].score.model, alert or shadow, so move it there",
				`p.yaml:14:10: output.topic: "transactions" is also an input topic; write the output to another topic`,
			},
		},
		{
			name: "field with two homes",
			yaml: func(*testing.T) string { return base + "field: amount\n" },
			want: []string{"p.yaml:14:1: field: unknown field; it belongs under input.event_time, under input.dedup, in an entry of quality.histograms, under operators[].aggregate or in an entry of operators[].window.aggregates, so move it there"},
		},
		{
			name: "duplicate field",
			yaml: func(t *testing.T) string { return edit(t, "  format: json", "  format: json\n  format: json") },
			want: []string{"p.yaml:5:3: input.format: duplicate field; it is already set at line 4; remove one"},
		},
		{
			name: "merge key",
			yaml: func(*testing.T) string { return "defaults: &d {exactly_once: true}\n" + base + "<<: *d\n" },
			want: []string{
				"p.yaml:1:1: defaults: unknown field; the fields at the top level are name, input, operators, output, on_error, quality, exactly_once, commit_interval and state_dir",
				"p.yaml:15:1: merge keys (<<) are not supported; write the fields out in full",
			},
		},
		{
			name: "key that is a list",
			yaml: func(*testing.T) string { return base + "[a, b]: 1\n" },
			want: []string{"p.yaml:14:1: has a key that is a list; keys are field names"},
		},
		{
			name: "odd key in a path",
			yaml: func(*testing.T) string { return base + "\"a b\": 1\n" },
			want: []string{`p.yaml:14:1: ["a b"]: unknown field; the fields at the top level are name, input, operators, output, on_error, quality, exactly_once, commit_interval and state_dir`},
		},

		// Types.
		{
			name: "string given a list",
			yaml: func(t *testing.T) string { return edit(t, "name: card-totals", "name: [card-totals]") },
			want: []string{"p.yaml:1:7: name: must be a string, got a list"},
		},
		{
			name: "string given a number",
			yaml: func(t *testing.T) string { return edit(t, "[transactions]", "[transactions, 2024]") },
			want: []string{`p.yaml:3:26: input.topics[1]: must be a string, got the number 2024; quote it to make it one: "2024"`},
		},
		{
			name: "string given a boolean",
			yaml: func(t *testing.T) string { return edit(t, "key_field: card_id", "key_field: true") },
			want: []string{`p.yaml:5:14: input.key_field: must be a string, got the boolean true; quote it to make it one: "true"`},
		},
		{
			name: "string given a tagged value",
			yaml: func(t *testing.T) string { return edit(t, "format: json", "format: !custom json") },
			want: []string{"p.yaml:4:11: input.format: must be a string, got a value tagged !custom"},
		},
		{
			name: "mapping given a string",
			yaml: func(*testing.T) string {
				return "name: card-totals\ninput: transactions\noperators: [{aggregate: {field: amount}}]\noutput: {topic: card-totals}\n"
			},
			want: []string{`p.yaml:2:8: input: must be a mapping, got the string "transactions"; it needs topics, format, key_field and event_time`},
		},
		{
			name: "list given a string",
			yaml: func(t *testing.T) string { return edit(t, "[transactions]", "transactions") },
			want: []string{`p.yaml:3:11: input.topics: must be a list, got the string "transactions"; write topics: [transactions]`},
		},
		{
			name: "list given a mapping",
			yaml: func(t *testing.T) string { return edit(t, "[transactions]", "{a: b}") },
			want: []string{"p.yaml:3:11: input.topics: must be a list, got a mapping"},
		},
		{
			name: "boolean given a string",
			yaml: func(*testing.T) string { return base + "exactly_once: yes\n" },
			want: []string{`p.yaml:14:15: exactly_once: must be true or false, got the string "yes"`},
		},
		{
			name: "duration given a list",
			yaml: func(*testing.T) string { return base + "commit_interval: [1s]\n" },
			want: []string{"p.yaml:14:18: commit_interval: must be a duration such as 5s, got a list"},
		},
		{
			name: "duration without a unit",
			yaml: func(*testing.T) string { return base + "commit_interval: 100\n" },
			want: []string{"p.yaml:14:18: commit_interval: 100 has no unit; write e.g. 100ms or 100s"},
		},
		{
			name: "not a duration",
			yaml: func(*testing.T) string { return base + "commit_interval: 5 seconds\n" },
			want: []string{`p.yaml:14:18: commit_interval: "5 seconds" is not a duration; write a number and a unit, e.g. 500ms, 5s or 1m30s`},
		},
		{
			name: "optional field without a value",
			yaml: func(*testing.T) string { return base + "commit_interval:\nexactly_once:\nstate_dir:\n" },
			want: []string{
				"p.yaml:14:1: commit_interval: has no value; set one, or remove the line to use the default (100ms)",
				"p.yaml:15:1: exactly_once: has no value; set one, or remove the line to use the default (true)",
				"p.yaml:16:1: state_dir: has no value; set one, or remove the line to use the default (./kappa-state/card-totals)",
			},
		},
		{
			name: "optional input field without a value",
			yaml: func(t *testing.T) string {
				return edit(t, "  key_field: card_id\n", "  key_field: card_id\n  max_out_of_orderness:\n")
			},
			want: []string{"p.yaml:6:3: input.max_out_of_orderness: has no value; set one, or remove the line to use the default (0)"},
		},

		// Required fields.
		{
			name: "required field missing",
			yaml: func(t *testing.T) string { return edit(t, "  topics: [transactions]\n", "") },
			want: []string{"p.yaml:2:1: input.topics: required field is missing; add the input topics, e.g. topics: [transactions]"},
		},
		{
			name: "every field of input missing, one by one",
			yaml: func(*testing.T) string {
				return "name: card-totals\ninput:\n  max_out_of_orderness: 1s\noperators: [{aggregate: {field: amount}}]\noutput: {topic: card-totals}\n"
			},
			want: []string{
				"p.yaml:2:1: input.topics: required field is missing; add the input topics, e.g. topics: [transactions]",
				"p.yaml:2:1: input.format: required field is missing; add the record format, e.g. format: json",
				"p.yaml:2:1: input.key_field: required field is missing; add the field that holds the record key, e.g. key_field: card_id",
				"p.yaml:2:1: input.event_time: required field is missing; it needs field and format, e.g. event_time: {field: ts, format: epoch_millis}",
			},
		},
		{
			name: "event_time fields missing",
			yaml: func(t *testing.T) string {
				return edit(t, "  event_time:\n    field: ts\n    format: epoch_millis\n", "  event_time:\n    field: ts\n")
			},
			want: []string{"p.yaml:6:3: input.event_time.format: required field is missing; add how the event time is written: format: rfc3339 or format: epoch_millis"},
		},
		{
			name: "event_time field missing",
			yaml: func(t *testing.T) string { return edit(t, "    field: ts\n", "") },
			want: []string{"p.yaml:6:3: input.event_time.field: required field is missing; add the field that holds the event time, e.g. field: ts"},
		},
		{
			name: "sections missing",
			yaml: func(*testing.T) string { return "name: card-totals\n" },
			want: []string{
				"p.yaml:1:1: input: required field is missing; it needs topics, format, key_field and event_time",
				"p.yaml:1:1: operators: required field is missing; add at least one operator, e.g. operators: [{aggregate: {field: amount}}]",
				"p.yaml:1:1: output: required field is missing; it needs topic, e.g. output: {topic: card-totals}",
			},
		},
		{
			name: "name missing",
			yaml: func(t *testing.T) string { return edit(t, "name: card-totals\n", "") },
			want: []string{"p.yaml:1:1: name: required field is missing; add the pipeline name, e.g. name: card-totals"},
		},
		{
			name: "output topic missing",
			yaml: func(t *testing.T) string { return edit(t, "  topic: card-totals\n", "  {}\n") },
			want: []string{"p.yaml:13:3: output: is empty; it needs topic, e.g. output: {topic: card-totals}"},
		},
		{
			name: "empty values",
			yaml: func(t *testing.T) string {
				s := edit(t, "name: card-totals", `name: ""`)
				s = strings.Replace(s, "[transactions]", "[]", 1)
				s = strings.Replace(s, "key_field: card_id", "key_field:", 1)
				return strings.Replace(s, "  event_time:\n    field: ts\n    format: epoch_millis\n", "  event_time: {}\n", 1)
			},
			want: []string{
				"p.yaml:1:7: name: is empty; add the pipeline name, e.g. name: card-totals",
				"p.yaml:3:11: input.topics: is empty; add the input topics, e.g. topics: [transactions]",
				"p.yaml:5:3: input.key_field: is empty; add the field that holds the record key, e.g. key_field: card_id",
				"p.yaml:6:15: input.event_time: is empty; it needs field and format, e.g. event_time: {field: ts, format: epoch_millis}",
			},
		},
		{
			name: "empty topic",
			yaml: func(t *testing.T) string { return edit(t, "[transactions]", `[transactions, ""]`) },
			want: []string{`p.yaml:3:26: input.topics[1]: is empty; write a topic name or remove the entry`},
		},
		{
			name: "operators empty",
			yaml: func(t *testing.T) string {
				return edit(t, "operators:\n  - aggregate:\n      field: amount\n", "operators:\n")
			},
			want: []string{"p.yaml:9:1: operators: is empty; add at least one operator, e.g. operators: [{aggregate: {field: amount}}]"},
		},

		// Values.
		{
			name: "name with a space",
			yaml: func(t *testing.T) string { return edit(t, "name: card-totals", "name: card totals") },
			want: []string{`p.yaml:1:7: name: "card totals" contains a space; a pipeline name uses only letters, digits, ".", "_" and "-"`},
		},
		{
			name: "name with a slash",
			yaml: func(t *testing.T) string { return edit(t, "name: card-totals", "name: team/card-totals") },
			want: []string{`p.yaml:1:7: name: "team/card-totals" contains '/'; a pipeline name uses only letters, digits, ".", "_" and "-"`},
		},
		{
			name: "name too long",
			yaml: func(t *testing.T) string { return edit(t, "name: card-totals", "name: "+strings.Repeat("n", 201)) },
			want: []string{`p.yaml:1:7: name: "nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn"... is 201 characters long; a pipeline name has at most 200`},
		},
		{
			name: "name is dots",
			yaml: func(t *testing.T) string { return edit(t, "name: card-totals", `name: ".."`) },
			want: []string{`p.yaml:1:7: name: ".." is not a valid pipeline name; use letters or digits`},
		},
		{
			name: "topic with a bad character",
			yaml: func(t *testing.T) string { return edit(t, "[transactions]", "[transactions, tx:eu]") },
			want: []string{`p.yaml:3:26: input.topics[1]: "tx:eu" contains ':'; a Kafka topic name uses only letters, digits, ".", "_" and "-"`},
		},
		{
			name: "topic too long",
			yaml: func(t *testing.T) string { return edit(t, "topic: card-totals", "topic: "+strings.Repeat("t", 250)) },
			want: []string{`p.yaml:13:10: output.topic: "tttttttttttttttttttttttttttttttttttttttt"... is 250 characters long; a Kafka topic name has at most 249`},
		},
		{
			name: "topic is a dot",
			yaml: func(t *testing.T) string { return edit(t, "topic: card-totals", `topic: "."`) },
			want: []string{`p.yaml:13:10: output.topic: "." is not a valid Kafka topic name; use letters or digits`},
		},
		{
			name: "duplicate topics",
			yaml: func(t *testing.T) string { return edit(t, "[transactions]", "[transactions, refunds, transactions]") },
			want: []string{`p.yaml:3:35: input.topics[2]: "transactions" is listed twice (also input.topics[0]); remove one`},
		},
		{
			name: "format",
			yaml: func(t *testing.T) string { return edit(t, "format: json", "format: avro") },
			want: []string{`p.yaml:4:11: input.format: "avro" is not a supported input format; use json (the only one for now)`},
		},
		{
			name: "time format",
			yaml: func(t *testing.T) string { return edit(t, "format: epoch_millis", "format: epoch_ms") },
			want: []string{`p.yaml:8:13: input.event_time.format: "epoch_ms" is not a time format; use rfc3339 or epoch_millis`},
		},
		{
			name: "dotted key field",
			yaml: func(t *testing.T) string { return edit(t, "key_field: card_id", "key_field: card.id") },
			want: []string{`p.yaml:5:14: input.key_field: "card.id" is a dotted path; use a top-level field name (nested fields are not supported yet)`},
		},
		{
			name: "field name with spaces",
			yaml: func(t *testing.T) string { return edit(t, "field: ts", `field: " ts"`) },
			want: []string{`p.yaml:7:12: input.event_time.field: " ts" has spaces at its start or end; remove them`},
		},
		{
			name: "dotted aggregate field",
			yaml: func(t *testing.T) string { return edit(t, "field: amount", "field: amount.value") },
			want: []string{`p.yaml:11:14: operators[0].aggregate.field: "amount.value" is a dotted path; use a top-level field name (nested fields are not supported yet)`},
		},
		{
			name: "negative max_out_of_orderness",
			yaml: func(t *testing.T) string {
				return edit(t, "  key_field: card_id\n", "  key_field: card_id\n  max_out_of_orderness: -5s\n")
			},
			want: []string{"p.yaml:6:25: input.max_out_of_orderness: -5s is negative; use 0 (the default) or a positive duration, e.g. 5s"},
		},
		{
			name: "commit_interval zero",
			yaml: func(*testing.T) string { return base + "commit_interval: 0s\n" },
			want: []string{"p.yaml:14:18: commit_interval: 0s is not more than 0; use a positive duration up to 1m, e.g. 100ms (the default)"},
		},
		{
			name: "commit_interval too long",
			yaml: func(*testing.T) string { return base + "commit_interval: 61s\n" },
			want: []string{"p.yaml:14:18: commit_interval: 1m1s is more than 1m, the longest a transaction may stay open; use e.g. 100ms (the default)"},
		},
		{
			name: "output is an input",
			yaml: func(t *testing.T) string { return edit(t, "topic: card-totals", "topic: transactions") },
			want: []string{`p.yaml:13:10: output.topic: "transactions" is also an input topic; write the output to another topic`},
		},
		{
			name: "output is the changelog",
			yaml: func(t *testing.T) string { return edit(t, "topic: card-totals", "topic: card-totals-changelog") },
			want: []string{`p.yaml:13:10: output.topic: "card-totals-changelog" is the changelog topic of this pipeline; choose another topic`},
		},
		{
			name: "output is the dead-letter topic",
			yaml: func(t *testing.T) string { return edit(t, "topic: card-totals", "topic: card-totals-dlq") },
			want: []string{`p.yaml:13:10: output.topic: "card-totals-dlq" is the dead-letter topic of this pipeline; choose another topic`},
		},
		{
			name: "output is the late topic",
			yaml: func(t *testing.T) string { return edit(t, "topic: card-totals", "topic: card-totals-late") },
			want: []string{`p.yaml:13:10: output.topic: "card-totals-late" is the late-record topic of this pipeline; choose another topic`},
		},
		{
			name: "input is the dead-letter topic",
			yaml: func(t *testing.T) string { return edit(t, "[transactions]", "[transactions, card-totals-dlq]") },
			want: []string{`p.yaml:3:26: input.topics[1]: "card-totals-dlq" is the dead-letter topic of this pipeline; choose another topic`},
		},
		{
			name: "input is the changelog",
			yaml: func(t *testing.T) string { return edit(t, "[transactions]", "[card-totals-changelog]") },
			want: []string{`p.yaml:3:12: input.topics[0]: "card-totals-changelog" is the changelog topic of this pipeline; choose another topic`},
		},
		{
			name: "state_dir empty",
			yaml: func(*testing.T) string { return base + "state_dir: ''\n" },
			want: []string{"p.yaml:14:12: state_dir: is empty; set the directory of the local state, by default ./kappa-state/<name>"},
		},

		// Operator entries.
		{
			name: "a second operator",
			yaml: func(t *testing.T) string {
				return edit(t, "      field: amount\n", "      field: amount\n  - aggregate: {field: fee}\n  - aggregate: {field: tip}\n")
			},
			want: []string{
				"p.yaml:12:5: operators[1]: a pipeline has at most one aggregate operator, and operators[0] is one; remove this one, or run it in a pipeline of its own",
				"p.yaml:13:5: operators[2]: a pipeline has at most one aggregate operator, and operators[0] is one; remove this one, or run it in a pipeline of its own",
			},
		},
		{
			name: "operators not a list",
			yaml: func(t *testing.T) string {
				return edit(t, "  - aggregate:\n      field: amount", "  aggregate:\n    field: amount")
			},
			want: []string{`p.yaml:10:3: operators: must be a list, got a mapping; start each operator with "- ", e.g. - aggregate: {field: amount}`},
		},
		{
			name: "operators a string",
			yaml: func(t *testing.T) string {
				return edit(t, "operators:\n  - aggregate:\n      field: amount", "operators: aggregate")
			},
			want: []string{"p.yaml:9:12: operators: must be a list of operators, got the string \"aggregate\"; e.g. operators: [{aggregate: {field: amount}}]"},
		},
		{
			name: "operator with no kind",
			yaml: func(t *testing.T) string { return edit(t, "      field: amount\n", "      field: amount\n  - {}\n") },
			want: []string{"p.yaml:12:5: operators[1]: names no operator kind; use exactly one of aggregate, window or score, e.g. - aggregate: {field: amount}"},
		},
		{
			name: "operator entry without a value",
			yaml: func(t *testing.T) string { return edit(t, "      field: amount\n", "      field: amount\n  -\n") },
			want: []string{"p.yaml:12:4: operators[1]: is empty; name an operator kind, e.g. - aggregate: {field: amount}"},
		},
		{
			name: "operator kind without settings",
			yaml: func(t *testing.T) string {
				return edit(t, "      field: amount\n", "      field: amount\n  - aggregate\n")
			},
			want: []string{`p.yaml:12:5: operators[1]: "aggregate" needs its settings; write - aggregate: {field: amount}`},
		},
		{
			name: "operator entry a list",
			yaml: func(t *testing.T) string {
				return edit(t, "      field: amount\n", "      field: amount\n  - [aggregate]\n")
			},
			want: []string{"p.yaml:12:5: operators[1]: must be a mapping that names one operator kind, e.g. - aggregate: {field: amount}; got a list"},
		},
		{
			name: "operator kind misspelt",
			yaml: func(t *testing.T) string { return edit(t, "  - aggregate:", "  - aggregat:") },
			want: []string{`p.yaml:10:5: operators[0].aggregat: unknown operator kind; did you mean "aggregate"?`},
		},
		{
			name: "operator kind unknown",
			yaml: func(t *testing.T) string { return edit(t, "  - aggregate:", "  - tumbling_window:") },
			want: []string{"p.yaml:10:5: operators[0].tumbling_window: unknown operator kind; the kinds are aggregate, window and score"},
		},
		{
			name: "operator setting not indented",
			yaml: func(t *testing.T) string { return edit(t, "      field: amount", "    field: amount") },
			want: []string{`p.yaml:11:5: operators[0].field: "field" is a setting of aggregate, not an operator kind; indent it under aggregate:`},
		},
		{
			name: "operator setting without its kind",
			yaml: func(t *testing.T) string { return edit(t, "  - aggregate:\n      field: amount", "  - field: amount") },
			want: []string{`p.yaml:10:5: operators[0].field: "field" is a setting of aggregate, not an operator kind; write - aggregate: {field: amount}`},
		},
		{
			name: "operator settings missing",
			yaml: func(t *testing.T) string { return edit(t, "  - aggregate:\n      field: amount", "  - aggregate: {}") },
			want: []string{"p.yaml:10:16: operators[0].aggregate: is empty; it needs field, e.g. aggregate: {field: amount}"},
		},
		{
			name: "operator settings null",
			yaml: func(t *testing.T) string { return edit(t, "  - aggregate:\n      field: amount", "  - aggregate:") },
			want: []string{"p.yaml:10:5: operators[0].aggregate: is empty; it needs field, e.g. aggregate: {field: amount}"},
		},
		{
			name: "operator settings not a mapping",
			yaml: func(t *testing.T) string {
				return edit(t, "  - aggregate:\n      field: amount", "  - aggregate: amount")
			},
			want: []string{`p.yaml:10:16: operators[0].aggregate: must be a mapping, got the string "amount"; it needs field, e.g. aggregate: {field: amount}`},
		},
		{
			name: "alias to a wrong type is reported where it is used",
			yaml: func(t *testing.T) string {
				return edit(t, "  topics: [transactions]", "  topics: &t [transactions]\n  key_field: *t") + "# end\n"
			},
			want: []string{
				"p.yaml:4:14: input.key_field: must be a string, got a list",
				"p.yaml:6:3: input.key_field: duplicate field; it is already set at line 4; remove one",
			},
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

// TestParseAllAtOnce checks that problems from every stage come back together, in file
// order, with the File, Line, Column and Path fields set.
func TestParseAllAtOnce(t *testing.T) {
	src := `name: card totals
input:
  topics: [transactions, transactions]
  key_feild: card_id
  event_time: {field: ts, format: epoch_ms}
operators:
  - aggregat: {field: amount}
output:
  topic: transactions
commit_interval: 2m
`
	_, err := Parse("pipeline.yaml", []byte(src))
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("Parse: got error %v, want Problems", err)
	}
	want := Problems{
		{File: "pipeline.yaml", Line: 1, Column: 7, Path: "name", Msg: `"card totals" contains a space; a pipeline name uses only letters, digits, ".", "_" and "-"`},
		{File: "pipeline.yaml", Line: 2, Column: 1, Path: "input.format", Msg: "required field is missing; add the record format, e.g. format: json"},
		{File: "pipeline.yaml", Line: 3, Column: 26, Path: "input.topics[1]", Msg: `"transactions" is listed twice (also input.topics[0]); remove one`},
		{File: "pipeline.yaml", Line: 4, Column: 3, Path: "input.key_feild", Msg: `unknown field; did you mean "key_field"?`},
		{File: "pipeline.yaml", Line: 5, Column: 35, Path: "input.event_time.format", Msg: `"epoch_ms" is not a time format; use rfc3339 or epoch_millis`},
		{File: "pipeline.yaml", Line: 7, Column: 5, Path: "operators[0].aggregat", Msg: `unknown operator kind; did you mean "aggregate"?`},
		{File: "pipeline.yaml", Line: 9, Column: 10, Path: "output.topic", Msg: `"transactions" is also an input topic; write the output to another topic`},
		{File: "pipeline.yaml", Line: 10, Column: 18, Path: "commit_interval", Msg: "2m is more than 1m, the longest a transaction may stay open; use e.g. 100ms (the default)"},
	}
	if !reflect.DeepEqual(ps, want) {
		t.Errorf("Parse problems:\ngot\n%v\nwant\n%v", ps, want)
	}
}

// TestTwoKinds registers a second operator kind, as a later issue will, and checks that an
// entry naming both is refused by Parse and by Validate.
func TestTwoKinds(t *testing.T) {
	saved := kinds
	t.Cleanup(func() { kinds = saved })
	kinds = append(kinds[:len(kinds):len(kinds)], operatorKind{
		name:    "count",
		example: "count: {}",
		// A stand-in: it shares Aggregate, so any aggregate operator also counts as one.
		isSet:  func(o Operator) bool { return o.Aggregate != nil },
		decode: func(_ *parser, _ map[string]*yaml.Node, _ string, op *Operator) { op.Aggregate = &Aggregate{} },
		check:  func(*Definition, Operator, string, reporter) {},
	})

	_, err := Parse("p.yaml", []byte(edit(t, "  - aggregate:", "  - count: {}\n    aggregate:")))
	want := "p.yaml:10:5: operators[0]: names 2 operator kinds (count, aggregate); an entry names exactly one, so start a new entry with - for each"
	if err == nil || err.Error() != want {
		t.Errorf("Parse: got error\n%v\nwant\n%s", err, want)
	}

	d := baseDef()
	err = d.Validate()
	want = "operators[0]: names 2 operator kinds (aggregate, count); an entry names exactly one, so start a new entry with - for each"
	if err == nil || err.Error() != want {
		t.Errorf("Validate: got error\n%v\nwant\n%s", err, want)
	}
	if got := d.Operators[0].Kind(); got != "" {
		t.Errorf("Kind of an operator with two kinds: got %q, want \"\"", got)
	}
}

func TestLoad(t *testing.T) {
	t.Run("example", func(t *testing.T) {
		got, err := Load(filepath.Join("..", "examples", "card-totals.yaml"))
		if err != nil {
			t.Fatalf("Load: got error\n%v\nwant none", err)
		}
		want := baseDef()
		want.Input.MaxOutOfOrderness = 5 * time.Second
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Load:\ngot  %s\nwant %s", dump(got), dump(want))
		}
	})
	t.Run("problems name the file", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "p.yaml")
		if err := os.WriteFile(path, []byte("name: x\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := Load(path)
		if err == nil || !strings.HasPrefix(err.Error(), path+":1:1: input: ") {
			t.Errorf("Load: got error %v, want problems starting with %q", err, path+":1:1: input: ")
		}
	})
	t.Run("missing file", func(t *testing.T) {
		_, err := Load(filepath.Join(t.TempDir(), "nope.yaml"))
		if !errors.Is(err, os.ErrNotExist) {
			t.Errorf("Load: got error %v, want one that is os.ErrNotExist", err)
		}
		if err != nil && !strings.HasPrefix(err.Error(), "pipeline: ") {
			t.Errorf("Load: got error %q, want the prefix \"pipeline: \"", err)
		}
	})
}

func BenchmarkParse(b *testing.B) {
	data, err := os.ReadFile(filepath.Join("..", "examples", "card-totals.yaml"))
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse("card-totals.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
