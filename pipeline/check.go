package pipeline

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// reporter receives what the rules find. Validate words it for a definition built in Go;
// Parse places it in the file and tells a field left out from one left empty.
type reporter interface {
	// missing reports a required value that is absent or empty; hint says what to add.
	missing(path, hint string)
	// invalid reports a value that is present but wrong; msg says what is wrong and what
	// to do.
	invalid(path, msg string)
	// unreadable reports whether the value at path, or part of it, could not be read
	// (Parse reported why), so that rules which depend on all of it stay quiet.
	unreadable(path string) bool
}

// check applies every rule of a well-formed definition, in field order. It is the one
// place the rules live: Parse and Validate both call it.
func check(d *Definition, r reporter) {
	if d.Name == "" {
		r.missing("name", "add the pipeline name, e.g. name: card-totals")
	} else if msg := nameProblem(d.Name, maxNameLen, "pipeline name"); msg != "" {
		r.invalid("name", msg)
	}

	checkInput(d, r)

	checkOperators(d, r)

	checkOnError(d, r)

	checkTopic(d, r, "output.topic", d.Output.Topic, "add the output topic, e.g. topic: card-totals")
	if t := d.Output.Topic; t != "" {
		for _, in := range d.Input.Topics {
			if t == in {
				r.invalid("output.topic", fmt.Sprintf("%q is also an input topic; write the output to another topic", t))
				break
			}
		}
	}

	checkQuality(d, r)

	switch ci := d.CommitInterval; {
	case ci <= 0:
		r.invalid("commit_interval", fmt.Sprintf("%s is not more than 0; use a positive duration up to %s, e.g. %s (the default)",
			formatDuration(ci), formatDuration(MaxCommitInterval), formatDuration(DefaultCommitInterval)))
	case ci > MaxCommitInterval:
		r.invalid("commit_interval", fmt.Sprintf("%s is more than %s, the longest a transaction may stay open; use e.g. %s (the default)",
			formatDuration(ci), formatDuration(MaxCommitInterval), formatDuration(DefaultCommitInterval)))
	}

	switch {
	case d.StateDir == "":
		r.missing("state_dir", "set the directory of the local state, by default ./kappa-state/<name>")
	case strings.ContainsRune(d.StateDir, 0):
		r.invalid("state_dir", fmt.Sprintf("%q contains a NUL byte, which no file system allows; remove it", d.StateDir))
	}
}

func checkInput(d *Definition, r reporter) {
	in := d.Input
	if len(in.Topics) == 0 {
		r.missing("input.topics", "add the input topics, e.g. topics: [transactions]")
	}
	first := make(map[string]int, len(in.Topics))
	for i, t := range in.Topics {
		path := fmt.Sprintf("input.topics[%d]", i)
		if t == "" {
			r.invalid(path, "is empty; write a topic name or remove the entry")
			continue
		}
		if !checkTopic(d, r, path, t, "") {
			continue
		}
		if j, dup := first[t]; dup {
			r.invalid(path, fmt.Sprintf("%q is listed twice (also input.topics[%d]); remove one", t, j))
			continue
		}
		first[t] = i
	}

	switch in.Format {
	case "":
		r.missing("input.format", "add the record format, e.g. format: json")
	case FormatJSON:
	default:
		r.invalid("input.format", fmt.Sprintf("%q is not a supported input format; use json (the only one for now)", in.Format))
	}

	checkFieldName(r, "input.key_field", in.KeyField, "add the field that holds the record key, e.g. key_field: card_id")
	checkFieldName(r, "input.event_time.field", in.EventTime.Field, "add the field that holds the event time, e.g. field: ts")

	switch in.EventTime.Format {
	case "":
		r.missing("input.event_time.format", "add how the event time is written: format: rfc3339 or format: epoch_millis")
	case TimeRFC3339, TimeEpochMillis:
	default:
		r.invalid("input.event_time.format", fmt.Sprintf("%q is not a time format; use rfc3339 or epoch_millis", in.EventTime.Format))
	}

	checkSchema(d, r)

	switch {
	case in.MaxOutOfOrderness < 0:
		r.invalid("input.max_out_of_orderness", fmt.Sprintf("%s is negative; use 0 (the default) or a positive duration, e.g. 5s",
			formatDuration(in.MaxOutOfOrderness)))
	case d.WindowOp() != nil && wholeMillis(in.MaxOutOfOrderness) != "":
		r.invalid("input.max_out_of_orderness", wholeMillis(in.MaxOutOfOrderness))
	}

	if in.Dedup != nil {
		checkDedup(d, r)
	}
}

// checkTopic checks a topic name at path and reports whether it is valid. An empty name is
// reported as missing with hint, unless hint is empty (the caller handles it).
func checkTopic(d *Definition, r reporter, path, topic, hint string) bool {
	if topic == "" {
		if hint != "" {
			r.missing(path, hint)
		}
		return false
	}
	if msg := nameProblem(topic, maxTopicLen, "Kafka topic name"); msg != "" {
		r.invalid(path, msg)
		return false
	}
	if d.Name == "" {
		return true
	}
	// Input topics may not be internal topics either: a pipeline that read its own dead
	// letters or late records would send them round forever.
	internal := []struct{ name, what string }{
		{d.ChangelogTopic(), "changelog topic"},
		{d.DeadLetterTopic(), "dead-letter topic"},
		{d.LateTopic(), "late-record topic"},
	}
	if d.HasDrift() {
		// Only with drift: "<name>-drift" was free to use before quality.drift existed.
		internal = append(internal, struct{ name, what string }{d.DriftTopic(), "drift topic"})
	}
	for _, it := range internal {
		if topic == it.name {
			r.invalid(path, fmt.Sprintf("%q is the %s of this pipeline; choose another topic", topic, it.what))
			return false
		}
	}
	return true
}

// checkOperators applies the rules of the list of operators and of each operator.
func checkOperators(d *Definition, r reporter) {
	if len(d.Operators) == 0 {
		r.missing("operators", "add at least one operator, e.g. operators: [{"+kinds[0].example+"}]")
	}
	shape := shapeProblems(d.Operators)
	for i, op := range d.Operators {
		path := fmt.Sprintf("operators[%d]", i)
		if msg, ok := shape[i]; ok {
			r.invalid(path, msg)
		}
		checkOperator(d, op, path, r)
	}
}

// shapeProblems checks the kinds of the operators and their order against the shapes the
// processor runs: [aggregate], [window], [score] or [window, score]. It returns what is
// wrong by the index of the operator to report it at. Entries that name no kind, or more
// than one, are reported by checkOperator and left out here.
func shapeProblems(ops []Operator) map[int]string {
	problems := map[int]string{}
	first := map[string]int{} // the index of the first operator of each kind
	last := -1                // the index of the last first-of-its-kind operator
	for i, op := range ops {
		k := op.Kind()
		if k == "" {
			continue
		}
		if j, dup := first[k]; dup {
			msg := fmt.Sprintf("a pipeline has at most one %s operator, and operators[%d] is one; remove this one, or run it in a pipeline of its own", k, j)
			if k == scoreKind.name {
				msg += fmt.Sprintf(" (to score with a second model beside the first, use shadow: in operators[%d].score)", j)
			}
			problems[i] = msg
			continue
		}
		first[k] = i
		last = i
	}
	if i, ok := first[scoreKind.name]; ok && i != last {
		problems[i] = fmt.Sprintf("score must be the last operator, because its records are the pipeline's output; move it after operators[%d]", last)
	}
	if i, ok := first[aggregateKind.name]; ok && len(first) > 1 {
		msg := "aggregate runs alone: a pipeline with an aggregate operator has no other; remove the other operators, or run them in a pipeline of their own"
		if _, ok := first[scoreKind.name]; ok {
			msg += " (a score takes per-key aggregates as features from a window operator before it: window.<aggregate name>)"
		}
		problems[i] = msg
	}
	return problems
}

func checkOperator(d *Definition, op Operator, path string, r reporter) {
	var set []*operatorKind
	for i := range kinds {
		if kinds[i].isSet(op) {
			set = append(set, &kinds[i])
		}
	}
	switch len(set) {
	case 0:
		r.invalid(path, fmt.Sprintf("names no operator kind; use exactly one of %s, e.g. - %s",
			orList(kindNames()), kinds[0].example))
	case 1:
		set[0].check(d, op, path+"."+set[0].name, r)
	default:
		names := make([]string, len(set))
		for i, k := range set {
			names[i] = k.name
		}
		r.invalid(path, fmt.Sprintf("names %d operator kinds (%s); an entry names exactly one, so start a new entry with - for each",
			len(set), strings.Join(names, ", ")))
	}
}

// checkFieldName checks the name of a record field: for now a top-level field, so no dots.
// It reports whether the name is valid.
func checkFieldName(r reporter, path, name, hint string) bool {
	switch {
	case name == "":
		r.missing(path, hint)
	case strings.TrimSpace(name) != name:
		r.invalid(path, fmt.Sprintf("%q has spaces at its start or end; remove them", name))
	case strings.Contains(name, "."):
		// Rejected rather than taken literally, so that dotted paths into nested fields
		// can come later without changing the meaning of existing files.
		r.invalid(path, fmt.Sprintf("%q is a dotted path; use a top-level field name (nested fields are not supported yet)", name))
	default:
		return true
	}
	return false
}

// nameProblem says what is wrong with a pipeline or topic name, or returns "". Both follow
// Kafka's rule for topic names: letters, digits, ".", "_" and "-", and not "." or "..".
func nameProblem(name string, maxLen int, what string) string {
	for _, c := range name {
		if !nameChar(c) {
			return fmt.Sprintf("%s contains %s; a %s uses only letters, digits, \".\", \"_\" and \"-\"",
				quoteShort(name), describeChar(c), what)
		}
	}
	switch {
	case len(name) > maxLen:
		return fmt.Sprintf("%s is %d characters long; a %s has at most %d", quoteShort(name), len(name), what, maxLen)
	case name == "." || name == "..":
		return fmt.Sprintf("%q is not a valid %s; use letters or digits", name, what)
	}
	return ""
}

func nameChar(c rune) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// describeChar names a character for a message, so that invisible ones can be seen.
func describeChar(c rune) string {
	switch c {
	case ' ':
		return "a space"
	case '\t':
		return "a tab"
	case utf8.RuneError:
		return "invalid UTF-8"
	}
	return fmt.Sprintf("%q", c)
}

// quoteShort quotes s for a message, cut to a readable length.
func quoteShort(s string) string {
	const maxRunes = 40
	if utf8.RuneCountInString(s) <= maxRunes {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q...", string([]rune(s)[:maxRunes]))
}

// formatDuration writes d as a user would: "1m" rather than "1m0s".
func formatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// orList joins names as "a", "a or b", "a, b or c".
func orList(names []string) string { return joinList(names, "or") }

// andList joins names as "a", "a and b", "a, b and c".
func andList(names []string) string { return joinList(names, "and") }

func joinList(names []string, conj string) string {
	switch len(names) {
	case 0:
		return ""
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " " + conj + " " + names[len(names)-1]
}
