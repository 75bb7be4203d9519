package pipeline

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a pipeline definition: where it is and what to do.
type Problem struct {
	File   string // the file name given to Parse; empty for Validate
	Line   int    // 1-based; 0 for a problem of the whole file, and from Validate
	Column int    // 1-based; 0 when unknown
	Path   string // the field path, e.g. "input.topics[1]"; empty for problems of the whole file
	Msg    string // what is wrong and how to fix it
}

// String formats the problem as "file:line:column: path: msg", leaving out what is unknown,
// e.g. `pipeline.yaml:7:3: input.key_feild: unknown field; did you mean "key_field"?`.
func (p Problem) String() string {
	var b strings.Builder
	if p.File != "" {
		b.WriteString(p.File)
		b.WriteByte(':')
	}
	if p.Line > 0 {
		b.WriteString(strconv.Itoa(p.Line))
		b.WriteByte(':')
		if p.Column > 0 {
			b.WriteString(strconv.Itoa(p.Column))
			b.WriteByte(':')
		}
	}
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	if p.Path != "" {
		b.WriteString(p.Path)
		b.WriteString(": ")
	}
	b.WriteString(p.Msg)
	return b.String()
}

// Problems is every problem found in a definition. Parse, Load and Validate return it as
// their error (never empty), so a caller can print each problem or use errors.As to get at
// them one by one.
type Problems []Problem

// Error lists the problems one per line, in file order: by line, then column.
func (ps Problems) Error() string {
	sorted := slices.Clone(ps)
	sortProblems(sorted)
	lines := make([]string, len(sorted))
	for i, p := range sorted {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// sortProblems orders problems by position and keeps the order of those at the same place
// (Validate's are all at line 0 and stay in field order).
func sortProblems(ps Problems) {
	slices.SortStableFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
}
