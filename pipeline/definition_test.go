package pipeline

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestValidate checks the rules on definitions built in Go: the same rules as Parse, the
// paths of the file format, no positions.
func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(d *Definition)
		want []string
	}{
		{name: "valid", edit: func(*Definition) {}},
		{
			name: "zero definition",
			edit: func(d *Definition) { *d = Definition{} },
			want: []string{
				"name: required field is missing; add the pipeline name, e.g. name: card-totals",
				"input.topics: required field is missing; add the input topics, e.g. topics: [transactions]",
				"input.format: required field is missing; add the record format, e.g. format: json",
				"input.key_field: required field is missing; add the field that holds the record key, e.g. key_field: card_id",
				"input.event_time.field: required field is missing; add the field that holds the event time, e.g. field: ts",
				"input.event_time.format: required field is missing; add how the event time is written: format: rfc3339 or format: epoch_millis",
				"operators: required field is missing; add at least one operator, e.g. operators: [{aggregate: {field: amount}}]",
				"output.topic: required field is missing; add the output topic, e.g. topic: card-totals",
				"quality.freshness: 0s is not more than 0; use a positive duration, e.g. 10m (the default)",
				"commit_interval: 0s is not more than 0; use a positive duration up to 1m, e.g. 100ms (the default)",
				"state_dir: required field is missing; set the directory of the local state, by default ./kappa-state/<name>",
			},
		},
		{
			name: "zero definition with defaults applied",
			edit: func(d *Definition) { *d = Definition{}; d.ApplyDefaults() },
			want: []string{
				"name: required field is missing; add the pipeline name, e.g. name: card-totals",
				"input.topics: required field is missing; add the input topics, e.g. topics: [transactions]",
				"input.format: required field is missing; add the record format, e.g. format: json",
				"input.key_field: required field is missing; add the field that holds the record key, e.g. key_field: card_id",
				"input.event_time.field: required field is missing; add the field that holds the event time, e.g. field: ts",
				"input.event_time.format: required field is missing; add how the event time is written: format: rfc3339 or format: epoch_millis",
				"operators: required field is missing; add at least one operator, e.g. operators: [{aggregate: {field: amount}}]",
				"output.topic: required field is missing; add the output topic, e.g. topic: card-totals",
			},
		},
		{
			name: "bad name",
			edit: func(d *Definition) { d.Name = "card\ttotals" },
			want: []string{`name: "card\ttotals" contains a tab; a pipeline name uses only letters, digits, ".", "_" and "-"`},
		},
		{
			name: "non-ASCII name",
			edit: func(d *Definition) { d.Name = "cärd" },
			want: []string{`name: "cärd" contains 'ä'; a pipeline name uses only letters, digits, ".", "_" and "-"`},
		},
		{
			name: "name of dots",
			edit: func(d *Definition) { d.Name = "." },
			want: []string{`name: "." is not a valid pipeline name; use letters or digits`},
		},
		{
			name: "empty and duplicate topics",
			edit: func(d *Definition) { d.Input.Topics = []string{"a", "", "a", "b..c"} },
			want: []string{
				"input.topics[1]: is empty; write a topic name or remove the entry",
				`input.topics[2]: "a" is listed twice (also input.topics[0]); remove one`,
			},
		},
		{
			name: "topic with invalid UTF-8",
			edit: func(d *Definition) { d.Input.Topics = []string{"tx\xff"} },
			want: []string{`input.topics[0]: "tx\xff" contains invalid UTF-8; a Kafka topic name uses only letters, digits, ".", "_" and "-"`},
		},
		{
			name: "unknown formats",
			edit: func(d *Definition) { d.Input.Format, d.Input.EventTime.Format = "JSON", "unix" },
			want: []string{
				`input.format: "JSON" is not a supported input format; use json (the only one for now)`,
				`input.event_time.format: "unix" is not a time format; use rfc3339 or epoch_millis`,
			},
		},
		{
			name: "field names",
			edit: func(d *Definition) {
				d.Input.KeyField, d.Input.EventTime.Field = "card_id ", "meta.ts"
				d.Operators[0].Aggregate.Field = ""
			},
			want: []string{
				`input.key_field: "card_id " has spaces at its start or end; remove them`,
				`input.event_time.field: "meta.ts" is a dotted path; use a top-level field name (nested fields are not supported yet)`,
				"operators[0].aggregate.field: required field is missing; add the numeric field to aggregate, e.g. field: amount",
			},
		},
		{
			name: "negative max_out_of_orderness",
			edit: func(d *Definition) { d.Input.MaxOutOfOrderness = -time.Second },
			want: []string{"input.max_out_of_orderness: -1s is negative; use 0 (the default) or a positive duration, e.g. 5s"},
		},
		{
			name: "operator without a kind",
			edit: func(d *Definition) { d.Operators[0] = Operator{} },
			want: []string{"operators[0]: names no operator kind; use exactly one of aggregate, window or score, e.g. - aggregate: {field: amount}"},
		},
		{
			name: "a second operator",
			edit: func(d *Definition) { d.Operators = append(d.Operators, Operator{Aggregate: &Aggregate{}}) },
			want: []string{
				"operators[1]: a pipeline has at most one aggregate operator, and operators[0] is one; remove this one, or run it in a pipeline of its own",
				"operators[1].aggregate.field: required field is missing; add the numeric field to aggregate, e.g. field: amount",
			},
		},
		{
			name: "output topic",
			edit: func(d *Definition) { d.Output.Topic = "transactions" },
			want: []string{`output.topic: "transactions" is also an input topic; write the output to another topic`},
		},
		{
			name: "changelog topic",
			edit: func(d *Definition) { d.Output.Topic = d.ChangelogTopic() },
			want: []string{`output.topic: "card-totals-changelog" is the changelog topic of this pipeline; choose another topic`},
		},
		{
			name: "dead-letter topic",
			edit: func(d *Definition) { d.Output.Topic = d.DeadLetterTopic() },
			want: []string{`output.topic: "card-totals-dlq" is the dead-letter topic of this pipeline; choose another topic`},
		},
		{
			name: "late topic",
			edit: func(d *Definition) { d.Output.Topic = d.LateTopic() },
			want: []string{`output.topic: "card-totals-late" is the late-record topic of this pipeline; choose another topic`},
		},
		{
			name: "internal topics as inputs",
			edit: func(d *Definition) {
				d.Input.Topics = []string{"card-totals-dlq", "card-totals-late", "card-totals-changelog"}
			},
			want: []string{
				`input.topics[0]: "card-totals-dlq" is the dead-letter topic of this pipeline; choose another topic`,
				`input.topics[1]: "card-totals-late" is the late-record topic of this pipeline; choose another topic`,
				`input.topics[2]: "card-totals-changelog" is the changelog topic of this pipeline; choose another topic`,
			},
		},
		{
			name: "internal topics of another pipeline",
			edit: func(d *Definition) { d.Input.Topics, d.Output.Topic = []string{"fraud-late"}, "fraud-dlq" },
		},
		{
			name: "commit_interval bounds",
			edit: func(d *Definition) { d.CommitInterval = time.Hour },
			want: []string{"commit_interval: 1h is more than 1m, the longest a transaction may stay open; use e.g. 100ms (the default)"},
		},
		{
			name: "commit_interval at its bounds",
			edit: func(d *Definition) { d.CommitInterval = time.Nanosecond },
		},
		{
			name: "state_dir with NUL",
			edit: func(d *Definition) { d.StateDir = "state\x00" },
			want: []string{`state_dir: "state\x00" contains a NUL byte, which no file system allows; remove it`},
		},
		{
			name: "exactly_once false is valid",
			edit: func(d *Definition) { d.ExactlyOnce = false },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := baseDef()
			tt.edit(d)
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
			for _, p := range ps {
				if p.File != "" || p.Line != 0 || p.Column != 0 {
					t.Errorf("Validate: got a position in %+v, want none", p)
				}
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("Validate:\ngot\n%s\nwant\n%s", got, want)
			}
		})
	}
}

func TestApplyDefaults(t *testing.T) {
	d := &Definition{Name: "x"}
	d.ApplyDefaults()
	if got, want := d.CommitInterval, DefaultCommitInterval; got != want {
		t.Errorf("CommitInterval: got %v, want %v", got, want)
	}
	if got, want := d.StateDir, "./kappa-state/x"; got != want {
		t.Errorf("StateDir: got %q, want %q", got, want)
	}
	if d.ExactlyOnce {
		t.Errorf("ExactlyOnce: got true, want the false it was given")
	}

	d = &Definition{Name: "x", CommitInterval: time.Second, StateDir: "/data"}
	d.ApplyDefaults()
	if d.CommitInterval != time.Second || d.StateDir != "/data" {
		t.Errorf("ApplyDefaults changed set fields: got %v, %q, want 1s, /data", d.CommitInterval, d.StateDir)
	}
}

func TestNames(t *testing.T) {
	d := &Definition{Name: "card-totals"}
	if got, want := d.ChangelogTopic(), "card-totals-changelog"; got != want {
		t.Errorf("ChangelogTopic: got %q, want %q", got, want)
	}
	if got, want := d.DeadLetterTopic(), "card-totals-dlq"; got != want {
		t.Errorf("DeadLetterTopic: got %q, want %q", got, want)
	}
	if got, want := d.LateTopic(), "card-totals-late"; got != want {
		t.Errorf("LateTopic: got %q, want %q", got, want)
	}
	if got, want := d.GroupID(), "card-totals"; got != want {
		t.Errorf("GroupID: got %q, want %q", got, want)
	}
	if got, want := DefaultStateDir("card-totals"), "./kappa-state/card-totals"; got != want {
		t.Errorf("DefaultStateDir: got %q, want %q", got, want)
	}
}

func TestKind(t *testing.T) {
	tests := []struct {
		op   Operator
		want string
	}{
		{Operator{Aggregate: &Aggregate{Field: "amount"}}, "aggregate"},
		{Operator{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := tt.op.Kind(); got != tt.want {
				t.Errorf("Kind: got %q, want %q", got, tt.want)
			}
		})
	}
}

// TestKindsTable guards the table that makes operators extensible.
func TestKindsTable(t *testing.T) {
	seen := map[string]bool{}
	for _, k := range kinds {
		if k.name == "" || k.example == "" || len(k.fields) == 0 || k.needs == "" || k.isSet == nil || k.decode == nil || k.check == nil {
			t.Errorf("kind %q: got an incomplete entry, want every part set", k.name)
		}
		for _, l := range k.lists {
			if !slices.Contains(k.fields, l.name) || len(l.fields) == 0 || l.needs == "" {
				t.Errorf("kind %q, list %q: got %+v, want a setting of the kind with fields and needs", k.name, l.name, l)
			}
		}
		if seen[k.name] {
			t.Errorf("kind %q: got it twice, want each kind once", k.name)
		}
		seen[k.name] = true
		if !strings.HasPrefix(k.example, k.name+": ") {
			t.Errorf("kind %q: got example %q, want one that starts with %q", k.name, k.example, k.name+": ")
		}
		// The example must parse, as users will copy it.
		src := strings.Replace(base, "  - aggregate:\n      field: amount\n", "  - "+k.example+"\n", 1)
		if _, err := Parse("p.yaml", []byte(src)); err != nil {
			t.Errorf("kind %q: its example does not parse:\n%v", k.name, err)
		}
	}
}
