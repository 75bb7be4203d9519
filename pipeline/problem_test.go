package pipeline

import (
	"errors"
	"fmt"
	"testing"
)

func TestProblemString(t *testing.T) {
	tests := []struct {
		name string
		p    Problem
		want string
	}{
		{"everything", Problem{File: "p.yaml", Line: 7, Column: 3, Path: "input.key_feild", Msg: "unknown field"}, "p.yaml:7:3: input.key_feild: unknown field"},
		{"no column", Problem{File: "p.yaml", Line: 7, Msg: "invalid YAML"}, "p.yaml:7: invalid YAML"},
		{"no line", Problem{File: "p.yaml", Msg: "the file is empty"}, "p.yaml: the file is empty"},
		{"no file", Problem{Line: 2, Column: 1, Path: "name", Msg: "is empty"}, "2:1: name: is empty"},
		{"path only", Problem{Path: "name", Msg: "is empty"}, "name: is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Errorf("String: got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProblemsError(t *testing.T) {
	ps := Problems{
		{File: "p", Line: 9, Column: 1, Msg: "c"},
		{File: "p", Line: 2, Column: 5, Msg: "b"},
		{File: "p", Line: 2, Column: 1, Msg: "a"},
		{File: "p", Msg: "file"},
		{File: "p", Line: 9, Column: 1, Msg: "d"},
	}
	want := "p: file\np:2:1: a\np:2:5: b\np:9:1: c\np:9:1: d"
	if got := ps.Error(); got != want {
		t.Errorf("Error:\ngot\n%s\nwant\n%s", got, want)
	}
	if ps[0].Msg != "c" {
		t.Errorf("Error reordered the slice: got first %q, want %q", ps[0].Msg, "c")
	}

	err := fmt.Errorf("validate: %w", ps)
	var got Problems
	if !errors.As(err, &got) || len(got) != len(ps) {
		t.Errorf("errors.As: got %v, want the %d problems", got, len(ps))
	}
}
