package pipeline

import (
	"slices"
	"strings"
	"testing"
)

// withSchema returns base with the lines of a schema (indented as under input, with four
// spaces per level in the test's text) or of on_error added.
func withSchema(section string) string {
	if strings.HasPrefix(section, "on_error") {
		return base + section
	}
	return strings.Replace(base, "    format: epoch_millis\n", "    format: epoch_millis\n"+strings.ReplaceAll(section, "    ", "  "), 1)
}

func TestParseSchemaProblems(t *testing.T) {
	tests := []struct {
		name    string
		section string
		want    []string // nil: the file is valid
	}{
		{
			name: "every type and rule",
			section: "    schema:\n" +
				"      amount: {type: float, required: true, min: 0, max: 100000}\n" +
				"      card_id: {type: string, pattern: '^card-[0-9]+$', max_length: 32, allowed: [card-1, card-2]}\n" +
				"      ok: {type: bool, allowed: [true]}\n" +
				"      n: {type: int, allowed: [1, 2, 3], min: 1}\n" +
				"      at: {type: timestamp, required: true}\n",
		},
		{
			name: "unknown, misspelt and missing types",
			section: "    schema:\n" +
				"      amount: {type: integer}\n" +
				"      b: {type: flaot}\n" +
				"      c: {type: blob}\n" +
				"      d: {}\n" +
				"      e:\n" +
				"      f: float\n" +
				"      g: [1]\n",
			want: []string{
				"p.yaml:10:20: input.schema.amount.type: \"integer\" is not a field type; did you mean \"int\"?",
				"p.yaml:11:15: input.schema.b.type: \"flaot\" is not a field type; did you mean \"float\"?",
				"p.yaml:12:15: input.schema.c.type: \"blob\" is not a field type; use string, int, float, bool or timestamp",
				"p.yaml:13:8: input.schema.d: is empty; it needs type, e.g. amount: {type: float, required: true}",
				"p.yaml:14:5: input.schema.e: is empty; it needs type, e.g. amount: {type: float, required: true}",
				"p.yaml:15:8: input.schema.f: must be a mapping of rules, got the string \"float\"; write e.g. f: {type: float}",
				"p.yaml:16:8: input.schema.g: must be a mapping of rules, got a list; write e.g. g: {type: string}",
			},
		},
		{
			name: "rules of another type",
			section: "    schema:\n" +
				"      amount: {type: int, pattern: '^1', max_length: 3}\n" +
				"      s: {type: string, min: 1, max: 2}\n" +
				"      t: {type: timestamp, allowed: [a]}\n",
			want: []string{
				"p.yaml:10:34: input.schema.amount.pattern: pattern is a rule of string fields, and amount is an int field; remove it",
				"p.yaml:10:52: input.schema.amount.max_length: max_length is a rule of string fields, and amount is an int field; remove it",
				"p.yaml:11:28: input.schema.s.min: min is a rule of int and float fields, and s is a string field; remove it or use max_length to bound a string",
				"p.yaml:11:36: input.schema.s.max: max is a rule of int and float fields, and s is a string field; remove it or use max_length to bound a string",
				"p.yaml:12:35: input.schema.t.allowed: allowed is a rule of string, int, float and bool fields, and t is a timestamp field; remove it",
			},
		},
		{
			name: "bounds and patterns",
			section: "    schema:\n" +
				"      amount: {type: float, min: 10, max: 5}\n" +
				"      x: {type: float, min: .nan, max: .inf}\n" +
				"      p: {type: string, pattern: '[a-'}\n" +
				"      q: {type: string, pattern: ''}\n",
			want: []string{
				"p.yaml:10:41: input.schema.amount.max: 5 is below min 10, so no value could pass; swap them or fix one",
				"p.yaml:11:27: input.schema.x.min: NaN is not a finite number; write a number, or remove min for no bound",
				"p.yaml:11:38: input.schema.x.max: +Inf is not a finite number; write a number, or remove max for no bound",
				"p.yaml:12:32: input.schema.p.pattern: \"[a-\" is not a valid regular expression (RE2 syntax): missing closing ] in \"[a-\"; fix it, e.g. pattern: '^card-[0-9]+$'",
				"p.yaml:13:32: input.schema.q.pattern: is empty; write a regular expression, or remove the line for none",
			},
		},
		{
			name: "allowed values",
			section: "    schema:\n" +
				"      amount: {type: string, allowed: [1, true, x, [a]], max_length: 0}\n" +
				"      n: {type: int, allowed: [1.5, x], min: 2, max: 3}\n" +
				"      m: {type: float, allowed: [1, 5], min: 2, max: 3}\n" +
				"      s: {type: string, allowed: [abcd, x1], max_length: 3, pattern: '^x'}\n",
			want: []string{
				"p.yaml:10:38: input.schema.amount.allowed[0]: the number 1 is not a string, the type of amount; write a value of that type, or quote it to make it a string",
				"p.yaml:10:41: input.schema.amount.allowed[1]: the boolean true is not a string, the type of amount; write a value of that type, or quote it to make it a string",
				"p.yaml:10:50: input.schema.amount.allowed[3]: must be a string, number or boolean, got a list",
				"p.yaml:10:68: input.schema.amount.max_length: 0 is not a length; use at least 1, or remove the line for no limit",
				"p.yaml:11:30: input.schema.n.allowed[0]: the number 1.5 is not an int, the type of n; write a value of that type",
				"p.yaml:11:35: input.schema.n.allowed[1]: the string \"x\" is not an int, the type of n; write a value of that type",
				"p.yaml:12:32: input.schema.m.allowed[0]: 1 is below min 2, so it could never pass; remove it or lower min",
				"p.yaml:12:35: input.schema.m.allowed[1]: 5 is above max 3, so it could never pass; remove it or raise max",
				"p.yaml:13:33: input.schema.s.allowed[0]: \"abcd\" is longer than max_length 3, so it could never pass; remove it or raise max_length",
			},
		},
		{
			name: "field names and settings",
			section: "    schema:\n" +
				"      a.b: {type: int}\n" +
				"      ' c': {type: int}\n" +
				"      d: {type: int, requird: true, mn: 1, maximum: 3}\n" +
				"      e: {type: int, required: 'yes', max_length: -1, min: '3'}\n" +
				"    schema2: 1\n",
			want: []string{
				"p.yaml:10:10: input.schema[\"a.b\"]: \"a.b\" is a dotted path; use a top-level field name (nested fields are not supported yet)",
				"p.yaml:11:11: input.schema[\" c\"]: \" c\" has spaces at its start or end; remove them",
				"p.yaml:12:20: input.schema.d.requird: unknown field; did you mean \"required\"?",
				"p.yaml:12:35: input.schema.d.mn: unknown field; the fields here are type, required, min, max, allowed, pattern and max_length",
				"p.yaml:12:42: input.schema.d.maximum: unknown field; did you mean \"max\"?",
				"p.yaml:13:30: input.schema.e.required: must be true or false, got the string \"yes\"",
				"p.yaml:13:49: input.schema.e.max_length: -1 is not a length; use at least 1, or remove the line for no limit",
				"p.yaml:13:58: input.schema.e.min: must be a number such as 0.99, got the string \"3\"; remove the quotes",
				"p.yaml:14:3: input.schema2: unknown field; did you mean \"schema\"?",
			},
		},
		{
			name:    "schema not a mapping",
			section: "    schema: [a]\n",
			want: []string{
				"p.yaml:9:11: input.schema: must be a mapping of field names to rules, got a list; e.g. schema: {amount: {type: float, required: true}}",
			},
		},
		{
			name:    "empty schema",
			section: "    schema:\n",
		},
		{
			name:    "policies",
			section: "on_error: {decode: skip, schema: fial, late: fail, lat: x}\n",
			want: []string{
				"p.yaml:14:34: on_error.schema: \"fial\" is not a policy; did you mean \"fail\"? (dlq: to the dead-letter topic, skip: drop and count, fail: stop at the record)",
				"p.yaml:14:46: on_error.late: only a pipeline with a window operator has late records, and this one has none; remove late: fail",
				"p.yaml:14:52: on_error.lat: unknown field; did you mean \"late\"?",
			},
		},
		{
			name:    "scoring without a score operator",
			section: "on_error: {scoring: skip}\n",
			want: []string{
				"p.yaml:14:21: on_error.scoring: only a pipeline with a score operator has scoring errors, and this one has none; remove scoring: skip",
			},
		},
		{
			name:    "unknown policy",
			section: "on_error: {decode: drop}\n",
			want: []string{
				"p.yaml:14:20: on_error.decode: \"drop\" is not a policy; use dlq, skip or fail (dlq: to the dead-letter topic, skip: drop and count, fail: stop at the record)",
			},
		},
		{
			name:    "empty on_error",
			section: "on_error:\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := Parse("p.yaml", []byte(withSchema(tt.section)))
			var got []string
			if err != nil {
				got = strings.Split(err.Error(), "\n")
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Parse problems: got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if err == nil {
				if err := d.Validate(); err != nil {
					t.Fatalf("Validate of a parsed definition: got %v, want nil", err)
				}
			}
		})
	}
}
