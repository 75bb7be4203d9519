package pipeline

import (
	"errors"
	"math"
	"strings"
	"testing"
)

func ptr(f float64) *float64 { return &f }

// TestValidateSchema checks the rules of schemas and policies built in Go, where the parser
// cannot catch wrong Go types or duplicate fields.
func TestValidateSchema(t *testing.T) {
	tests := []struct {
		name   string
		schema []FieldRule
		on     OnError
		want   []string
	}{
		{name: "valid", schema: []FieldRule{
			{Field: "amount", Type: TypeFloat, Required: true, Min: ptr(0), Max: ptr(1e5), Allowed: []any{1, int64(2), 2.5}},
			{Field: "n", Type: TypeInt, Allowed: []any{3.0, int64(4)}},
			{Field: "s", Type: TypeString, Allowed: []any{"a"}, Pattern: "^a$", MaxLength: 1},
			{Field: "b", Type: TypeBool, Allowed: []any{true}},
			{Field: "ts", Type: TypeTimestamp},
		}, on: OnError{Decode: PolicySkip, Schema: PolicyFail}},
		{name: "duplicate and empty names", schema: []FieldRule{
			{Field: "a", Type: TypeInt}, {Field: "a", Type: TypeInt}, {Type: TypeInt},
		}, want: []string{
			`input.schema.a: "a" has a rule already (input.schema[0]); merge the two`,
			`input.schema[""]: required field is missing; name the field of the rule, e.g. amount: {type: float}`,
		}},
		{name: "Go types of allowed values", schema: []FieldRule{
			{Field: "n", Type: TypeInt, Allowed: []any{int32(1), 1.5, math.NaN(), nil}},
		}, want: []string{
			"input.schema.n.allowed[0]: a value of Go type int32 is not an int, the type of n; write a value of that type",
			"input.schema.n.allowed[1]: the number 1.5 is not an int, the type of n; write a value of that type",
			"input.schema.n.allowed[2]: the number NaN is not an int, the type of n; write a value of that type",
			"input.schema.n.allowed[3]: null is not an int, the type of n; write a value of that type",
		}},
		{name: "missing type, negative length, bad policy", schema: []FieldRule{
			{Field: "s", MaxLength: -2},
		}, on: OnError{Late: "drop"}, want: []string{
			"input.schema.s.type: required field is missing; add the field's type: type: string, int, float, bool or timestamp",
			"input.schema.s.max_length: -2 is negative; use a number of characters, at least 1",
			`on_error.late: "drop" is not a policy; use dlq, skip or fail (dlq: to the dead-letter topic, skip: drop and count, fail: stop at the record)`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := baseDef()
			d.Input.Schema, d.OnError = tt.schema, tt.on
			err := d.Validate()
			var got []string
			var ps Problems
			if errors.As(err, &ps) {
				for _, p := range ps {
					got = append(got, p.String())
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Fatalf("Validate: got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
}

func TestPolicyOf(t *testing.T) {
	o := OnError{Schema: PolicyFail, Late: PolicySkip}
	for _, tt := range []struct {
		reason string
		want   Policy
	}{{"decode", PolicyDLQ}, {"schema", PolicyFail}, {"late", PolicySkip}, {"duplicate", PolicySkip}, {"scoring", PolicyDLQ}} {
		if got := o.PolicyOf(tt.reason); got != tt.want {
			t.Errorf("PolicyOf(%q): got %q, want %q", tt.reason, got, tt.want)
		}
	}
	for _, p := range []Policy{PolicyDLQ, PolicySkip, PolicyFail} {
		if got := (OnError{Scoring: p}).PolicyOf("scoring"); got != p {
			t.Errorf("PolicyOf(\"scoring\") with scoring: %s: got %q, want %q", p, got, p)
		}
		if got := (OnError{Duplicate: p}).PolicyOf("duplicate"); got != p {
			t.Errorf("PolicyOf(\"duplicate\") with duplicate: %s: got %q, want %q", p, got, p)
		}
	}
}
