package pipeline

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"go.yaml.in/yaml/v3"
)

// The fields of each mapping of the file, in documentation order. The fields of operator
// kinds are in their entries of kinds.
var (
	definitionFields = []string{"name", "input", "operators", "output", "on_error", "quality", "exactly_once", "commit_interval", "state_dir"}
	inputFields      = []string{"topics", "format", "key_field", "event_time", "max_out_of_orderness", "schema", "dedup"}
	eventTimeFields  = []string{"field", "format"}
	outputFields     = []string{"topic"}
)

// sections maps each mapping of the file to its fields, to tell a user who put a field
// in the wrong mapping where it belongs. A section whose path ends in "[]" is the entries
// of a list.
var sections = []struct {
	path   string
	fields []string
}{
	{"", definitionFields},
	{"input", inputFields},
	{"input.event_time", eventTimeFields},
	{"input.dedup", dedupFields},
	{"output", outputFields},
	{"on_error", onErrorFields},
	{"quality", qualityFields},
	{"quality.histograms[]", histogramFields},
	{"quality.drift", driftFields},
}

// sectionHints say what a mapping needs when it is missing or empty as a whole; the
// problem is then reported once for the mapping instead of once per required field.
var sectionHints = map[string]string{
	"input":            "it needs topics, format, key_field and event_time",
	"input.event_time": "it needs field and format, e.g. event_time: {field: ts, format: epoch_millis}",
	"output":           "it needs topic, e.g. output: {topic: card-totals}",
	"on_error":         "set a policy (dlq, skip or fail) per reason, e.g. on_error: {schema: skip}, or remove it for the defaults (skip for duplicates, dlq for the others)",
	"input.dedup":      dedupNeeds,
	"quality":          "set histograms, freshness or drift, e.g. quality: {freshness: 5m}, or remove it for the defaults",
	"quality.drift":    driftNeeds,
}

// Load reads and parses the pipeline file at path; see Parse. Relative model file paths
// resolve against the directory of path.
func Load(path string) (*Definition, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("pipeline: %w", err)
	}
	return Parse(path, data)
}

// Parse reads a pipeline definition from the YAML document in data, applies the defaults
// and validates it. filename is used in messages, and its directory to resolve the
// relative paths of model files (ModelRef.File), which are relative to the pipeline file:
// with filename "pipelines/fraud.yaml", file: models/fraud.json is
// "pipelines/models/fraud.json". Absolute paths are kept; a filename without a directory
// keeps relative paths relative to the working directory.
//
// Parsing is strict: unknown and duplicate fields, wrong types, missing required fields,
// bad values, YAML syntax errors and more than one document are all errors. Parse finds
// every problem in one pass and returns them all as Problems, sorted by position, and a
// nil Definition.
func Parse(filename string, data []byte) (*Definition, error) {
	p := &parser{
		file:      filename,
		dir:       filepath.Dir(filename),
		keyPos:    map[string]position{},
		valPos:    map[string]position{},
		hollow:    map[string]bool{},
		bad:       map[string]bool{},
		badAbove:  map[string]bool{},
		misplaced: map[string]bool{},
		reported:  map[string]bool{},
	}
	root := p.document(data)
	if root == nil {
		return nil, p.result()
	}
	d := p.definition(root)
	check(d, p)
	if len(p.problems) > 0 {
		return nil, p.result()
	}
	return d, nil
}

type position struct{ line, col int }

func posOf(n *yaml.Node) position { return position{n.Line, n.Column} }

// parser walks the yaml.Node tree of one file. It reports structural problems itself
// (syntax, types, unknown and duplicate fields) and is the reporter through which check
// reports the rules, which it places in the file by field path.
type parser struct {
	file     string
	dir      string // the directory of file, against which relative model files resolve
	problems Problems

	keyPos map[string]position // where the key of each field present in the file is ("" is the file)
	valPos map[string]position // where its value is (the key, for a null value)
	hollow map[string]bool     // mappings that are present but null or empty
	// bad holds the paths that have a structural problem, and badAbove their ancestors.
	// The rules stay silent on these paths, their ancestors and their descendants, so that
	// one mistake is reported once.
	bad, badAbove map[string]bool
	// misplaced holds required fields that were probably written elsewhere (misspelt, or
	// in the wrong mapping): the problem there says so, and they are not also "missing".
	misplaced map[string]bool
	reported  map[string]bool // paths of missing-field problems already reported
}

func (p *parser) result() Problems {
	sortProblems(p.problems)
	return p.problems
}

func (p *parser) report(at position, path, msg string) {
	p.problems = append(p.problems, Problem{File: p.file, Line: at.line, Column: at.col, Path: path, Msg: msg})
}

// fail reports a structural problem at path and silences the rules on it.
func (p *parser) fail(at position, path, msg string) {
	p.report(at, path, msg)
	p.silence(path)
}

// silence keeps the rules quiet about path, its ancestors and its descendants.
func (p *parser) silence(path string) {
	p.bad[path] = true
	for a := path; a != ""; {
		a = parentPath(a)
		p.badAbove[a] = true
	}
}

// document decodes the one YAML document of the file and returns its root mapping, or
// nil when there is none to walk.
func (p *parser) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			p.report(position{}, "", "the file is empty; a pipeline needs at least name, input, operators and output")
		} else {
			p.syntax(err, data)
		}
		return nil
	}
	var extra yaml.Node
	switch err := dec.Decode(&extra); {
	case err == nil:
		p.report(posOf(&extra), "", "a second YAML document starts here; a pipeline file holds exactly one, so remove this one")
	case !errors.Is(err, io.EOF):
		p.syntax(err, data)
	}

	if len(doc.Content) == 0 {
		p.report(position{}, "", "the file is empty; a pipeline needs at least name, input, operators and output")
		return nil
	}
	root := doc.Content[0]
	switch v := resolve(root); {
	case isNull(v):
		p.report(posOf(root), "", "the document is empty; a pipeline needs at least name, input, operators and output")
		return nil
	case v.Kind != yaml.MappingNode:
		p.report(posOf(root), "", fmt.Sprintf("a pipeline file is a mapping of fields (%s); got %s",
			strings.Join(definitionFields, ", "), describe(v)))
		return nil
	}
	return root
}

var (
	syntaxLine    = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)
	unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)
)

// parserProblems are yaml.v3's parser (not scanner) errors. For these it reports the line
// before the one it means (a 0-based line number), and no line at all for the first line.
var parserProblems = map[string]bool{
	"did not find expected <stream-start>":   true,
	"did not find expected <document start>": true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
	"found duplicate %TAG directive":         true,
	"did not find expected node content":     true,
	"did not find expected '-' indicator":    true,
	"did not find expected key":              true,
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
}

// syntax reports a YAML syntax error at the line yaml.v3 gives (it gives no column).
func (p *parser) syntax(err error, data []byte) {
	msg, line := strings.TrimPrefix(err.Error(), "yaml: "), 0
	if m := syntaxLine.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	hint := "check the indentation and the quoting of this line and the lines around it"
	switch m := unknownAnchor.FindStringSubmatch(msg); {
	case parserProblems[msg]:
		line++
	case m != nil:
		line = lineContaining(data, "*"+m[1])
		hint = fmt.Sprintf("define the anchor with &%s before using it as *%s", m[1], m[1])
	case line == 0 && !strings.Contains(msg, "alias") && !strings.Contains(msg, "anchor"):
		line = 1 // a scanner error on the first line; the errors of aliases have no line
	}
	if (strings.Contains(msg, "cannot start any token") || strings.Contains(msg, "tab character")) && tabIndented(data, line) {
		hint = "this line is indented with a tab, and YAML indents with spaces only"
	}
	p.report(position{line: line}, "", "invalid YAML: "+msg+"; "+hint)
}

// tabIndented reports whether line n (1-based) of data is indented with a tab.
func tabIndented(data []byte, n int) bool {
	lines := bytes.Split(data, []byte("\n"))
	if n < 1 || n > len(lines) {
		return false
	}
	line := lines[n-1]
	indent := line[:len(line)-len(bytes.TrimLeft(line, " \t"))]
	return bytes.IndexByte(indent, '\t') >= 0
}

// lineContaining returns the number of the first line of data that contains s, or 0.
func lineContaining(data []byte, s string) int {
	for i, line := range bytes.Split(data, []byte("\n")) {
		if bytes.Contains(line, []byte(s)) {
			return i + 1
		}
	}
	return 0
}

// definition walks the root mapping into a Definition with the defaults of the fields
// left out.
func (p *parser) definition(root *yaml.Node) *Definition {
	p.keyPos[""], p.valPos[""] = posOf(root), posOf(root)
	d := &Definition{ExactlyOnce: true, CommitInterval: DefaultCommitInterval}
	f := p.mapping(root, "", definitionFields)
	if n, ok := f["name"]; ok {
		d.Name = p.str(n, "name")
	}
	if n, ok := f["input"]; ok {
		p.input(n, &d.Input)
	}
	if n, ok := f["operators"]; ok {
		d.Operators = p.operators(n, "operators")
	}
	if n, ok := f["output"]; ok {
		out := p.mapping(n, "output", outputFields)
		if n, ok := out["topic"]; ok {
			d.Output.Topic = p.str(n, "output.topic")
		}
	}
	if n, ok := f["on_error"]; ok {
		p.onError(n, &d.OnError)
	}
	d.Quality.Freshness = DefaultFreshness
	if n, ok := f["quality"]; ok {
		p.quality(n, &d.Quality)
	}
	if n, ok := f["exactly_once"]; ok && p.given(n, "exactly_once", "true") {
		if b, ok := p.boolean(n, "exactly_once"); ok {
			d.ExactlyOnce = b
		}
	}
	if n, ok := f["commit_interval"]; ok && p.given(n, "commit_interval", formatDuration(DefaultCommitInterval)) {
		if v, ok := p.duration(n, "commit_interval"); ok {
			d.CommitInterval = v
		}
	}
	d.StateDir = DefaultStateDir(d.Name)
	def := DefaultStateDir("<name>")
	if d.Name != "" && nameProblem(d.Name, maxNameLen, "") == "" {
		def = d.StateDir
	}
	if n, ok := f["state_dir"]; ok && p.given(n, "state_dir", def) {
		d.StateDir = p.str(n, "state_dir")
	}
	return d
}

func (p *parser) input(n *yaml.Node, in *Input) {
	f := p.mapping(n, "input", inputFields)
	if n, ok := f["topics"]; ok {
		in.Topics = p.stringList(n, "input.topics")
	}
	if n, ok := f["format"]; ok {
		in.Format = Format(p.str(n, "input.format"))
	}
	if n, ok := f["key_field"]; ok {
		in.KeyField = p.str(n, "input.key_field")
	}
	if n, ok := f["event_time"]; ok {
		et := p.mapping(n, "input.event_time", eventTimeFields)
		if n, ok := et["field"]; ok {
			in.EventTime.Field = p.str(n, "input.event_time.field")
		}
		if n, ok := et["format"]; ok {
			in.EventTime.Format = TimeFormat(p.str(n, "input.event_time.format"))
		}
	}
	if n, ok := f["max_out_of_orderness"]; ok && p.given(n, "input.max_out_of_orderness", "0") {
		if v, ok := p.duration(n, "input.max_out_of_orderness"); ok {
			in.MaxOutOfOrderness = v
		}
	}
	if n, ok := f["schema"]; ok {
		in.Schema = p.schema(n, "input.schema")
	}
	if n, ok := f["dedup"]; ok && !isNull(resolve(n)) {
		in.Dedup = p.dedup(n, "input.dedup")
	}
}

func (p *parser) operators(n *yaml.Node, path string) []Operator {
	v := resolve(n)
	switch {
	case isNull(v):
		return nil // the rules report it
	case v.Kind == yaml.MappingNode:
		p.fail(posOf(n), path, fmt.Sprintf("must be a list, got a mapping; start each operator with \"- \", e.g. - %s", kinds[0].example))
		return nil
	case v.Kind != yaml.SequenceNode:
		p.fail(posOf(n), path, fmt.Sprintf("must be a list of operators, got %s; e.g. operators: [{%s}]", describe(v), kinds[0].example))
		return nil
	}
	// Entries with a problem stay as zero Operators, so that indices match the file.
	ops := make([]Operator, len(v.Content))
	for i, item := range v.Content {
		ip := fmt.Sprintf("%s[%d]", path, i)
		p.keyPos[ip], p.valPos[ip] = posOf(item), posOf(item)
		ops[i] = p.operator(item, ip)
	}
	return ops
}

// operator decodes one entry of operators: a mapping with exactly one key, the kind.
func (p *parser) operator(n *yaml.Node, path string) Operator {
	v := resolve(n)
	example := "- " + kinds[0].example
	switch {
	case isNull(v):
		p.fail(posOf(n), path, "is empty; name an operator kind, e.g. "+example)
		return Operator{}
	case v.Kind == yaml.ScalarNode && kindNamed(v.Value) != nil:
		p.fail(posOf(n), path, fmt.Sprintf("%q needs its settings; write - %s", v.Value, kindNamed(v.Value).example))
		return Operator{}
	case v.Kind != yaml.MappingNode:
		p.fail(posOf(n), path, fmt.Sprintf("must be a mapping that names one operator kind, e.g. %s; got %s", example, describe(v)))
		return Operator{}
	}

	entries := p.entries(v, path)
	var found []entry
	for _, e := range entries {
		if kindNamed(e.name) != nil {
			found = append(found, e)
		}
	}
	for _, e := range entries {
		if kindNamed(e.name) == nil {
			p.unknownKind(e, path, found)
		}
	}
	switch len(found) {
	case 0:
		if len(entries) == 0 {
			p.fail(posOf(n), path, fmt.Sprintf("names no operator kind; use exactly one of %s, e.g. %s",
				orList(kindNames()), example))
		}
		p.silence(path)
		return Operator{}
	case 1:
	default:
		names := make([]string, len(found))
		for i, e := range found {
			names[i] = e.name
		}
		p.fail(posOf(n), path, fmt.Sprintf("names %d operator kinds (%s); an entry names exactly one, so start a new entry with - for each",
			len(found), strings.Join(names, ", ")))
		return Operator{}
	}

	e := found[0]
	k := kindNamed(e.name)
	kp := path + "." + k.name
	p.record(kp, e)
	var op Operator
	k.decode(p, p.mapping(e.value, kp, k.fields), kp, &op)
	return op
}

// unknownKind reports a key of an operator entry that names no kind.
func (p *parser) unknownKind(e entry, path string, found []entry) {
	msg := fmt.Sprintf("unknown operator kind; the kinds are %s", andList(kindNames()))
	if s := suggest(e.name, kindNames()); s != "" {
		msg = fmt.Sprintf("unknown operator kind; did you mean %q?", s)
	} else if owners := kindsWithField(e.name); len(owners) > 0 {
		k := kindNamed(owners[0])
		msg = fmt.Sprintf("%q is a setting of %s, not an operator kind; write - %s", e.name, orList(owners), k.example)
		for _, f := range found {
			if slices.Contains(owners, f.name) {
				msg = fmt.Sprintf("%q is a setting of %s, not an operator kind; indent it under %s:", e.name, f.name, f.name)
				// The misplaced setting is the report, not its absence under the kind, nor
				// the kind left empty when none of its settings are indented.
				p.misplaced[join(join(path, f.name), e.name)] = true
				p.misplaced[join(path, f.name)] = true
			}
		}
	}
	p.fail(posOf(e.key), join(path, e.name), msg)
}

func kindsWithField(name string) []string {
	var owners []string
	for _, k := range kinds {
		if slices.Contains(k.fields, name) {
			owners = append(owners, k.name)
		}
	}
	return owners
}

type entry struct {
	name       string
	key, value *yaml.Node
}

// entries lists the key-value pairs of mapping m, reporting keys that are not field names
// and duplicates (the first one wins).
func (p *parser) entries(m *yaml.Node, path string) []entry {
	var out []entry
	first := map[string]*yaml.Node{}
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		rk := resolve(k)
		switch {
		case rk.Kind != yaml.ScalarNode:
			p.report(posOf(k), path, fmt.Sprintf("has a key that is %s; keys are field names", describe(rk)))
			continue
		case rk.ShortTag() == "!!merge":
			// Merged fields would have no position of their own; silence the rules on
			// this mapping rather than report its merged fields as missing.
			p.fail(posOf(k), path, "merge keys (<<) are not supported; write the fields out in full")
			continue
		}
		if prev, dup := first[rk.Value]; dup {
			p.report(posOf(k), join(path, rk.Value), fmt.Sprintf("duplicate field; it is already set at line %d; remove one", prev.Line))
			continue
		}
		first[rk.Value] = k
		out = append(out, entry{name: rk.Value, key: k, value: v})
	}
	return out
}

// mapping checks that n is a mapping with only the given fields, and returns the value of
// each field present. A null value counts as an empty mapping.
func (p *parser) mapping(n *yaml.Node, path string, names []string) map[string]*yaml.Node {
	v := resolve(n)
	if isNull(v) {
		p.hollow[path] = true
		return nil
	}
	if v.Kind != yaml.MappingNode {
		p.fail(posOf(n), path, fmt.Sprintf("must be a mapping, got %s; %s", describe(v), sectionHint(path)))
		return nil
	}
	entries := p.entries(v, path)
	if len(entries) == 0 {
		p.hollow[path] = true
	}
	fields := make(map[string]*yaml.Node, len(entries))
	for _, e := range entries {
		if slices.Contains(names, e.name) {
			fields[e.name] = e.value
			p.record(join(path, e.name), e)
		}
	}
	for _, e := range entries {
		if !slices.Contains(names, e.name) {
			p.unknownField(e, path, names)
		}
	}
	return fields
}

// record notes where the field at path is.
func (p *parser) record(path string, e entry) {
	p.keyPos[path] = posOf(e.key)
	if isNull(resolve(e.value)) {
		p.valPos[path] = posOf(e.key)
	} else {
		p.valPos[path] = posOf(e.value)
	}
}

// unknownField reports a key of the mapping at path that is none of its fields, with the
// likeliest fix: a field it looks like, or the mapping where it belongs.
func (p *parser) unknownField(e entry, path string, names []string) {
	var msg string
	s := suggest(e.name, names)
	if a, ok := aliases[normalize(e.name)]; ok && slices.Contains(names, a) {
		s = a
	}
	if s != "" {
		msg = fmt.Sprintf("unknown field; did you mean %q?", s)
		p.misplaced[join(path, s)] = true // the typo is the report, not the missing field
	} else if paths, homes := homesOf(e.name, path); len(homes) > 0 {
		msg = fmt.Sprintf("unknown field; it belongs %s, so move it there", orList(homes))
		for _, h := range paths {
			p.misplaced[join(h, e.name)] = true
		}
	} else {
		where := "here"
		if path == "" {
			where = "at the top level"
		}
		msg = fmt.Sprintf("unknown field; the fields %s are %s", where, andList(names))
	}
	p.fail(posOf(e.key), join(path, e.name), msg)
}

// homesOf lists the other mappings where a field of this name belongs: their paths, and
// how a message names them.
//
// Written in an operator, a field is not sent to quality: drift shares names with the
// settings of operators (window, score, features, threshold), and a field misplaced in an
// operator belongs in an operator.
func homesOf(name, except string) (paths, names []string) {
	inOperator := strings.HasPrefix(except, "operators")
	if kindNamed(name) != nil && !inOperator {
		names = append(names, "in an entry of operators")
	}
	for _, s := range sections {
		if s.path == except || !slices.Contains(s.fields, name) || inOperator && strings.HasPrefix(s.path, "quality") {
			continue
		}
		switch list, isList := strings.CutSuffix(s.path, "[]"); {
		case isList:
			if !strings.HasPrefix(except, list+"[") {
				names = append(names, "in an entry of "+list)
			}
		case s.path == "":
			paths = append(paths, s.path)
			names = append(names, "at the top level")
		default:
			paths = append(paths, s.path)
			names = append(names, "under "+s.path)
		}
	}
	for _, k := range kinds {
		if slices.Contains(k.fields, name) {
			names = append(names, "under operators[]."+k.name)
		}
		for _, l := range k.lists {
			if slices.Contains(l.fields, name) {
				names = append(names, "in an entry of operators[]."+k.name+"."+l.name)
			}
		}
		var maps []string
		for _, m := range k.mappings {
			if slices.Contains(m.fields, name) {
				maps = append(maps, m.name)
				// Written in the operator itself: not also missing from the mapping.
				if mk := kindPath.FindStringSubmatch(except); mk != nil && mk[1] == k.name {
					paths = append(paths, except+"."+m.name)
				}
			}
		}
		if len(maps) > 0 {
			names = append(names, "under operators[]."+k.name+"."+orList(maps))
		}
	}
	return paths, names
}

// aliases are the names that users coming from other stream processors write for fields
// of ours that they do not resemble closely enough for suggest.
var aliases = map[string]string{
	"func":             "fn",
	"function":         "fn",
	"quantile":         "q",
	"percentile":       "q",
	"alias":            "as",
	"kind":             "type",
	"length":           "size",
	"duration":         "size",
	"hop":              "advance",
	"slide":            "advance",
	"step":             "advance",
	"timeout":          "gap",
	"inactivity_gap":   "gap",
	"allowed_lateness": "grace",
	"lateness":         "grace",
	"mode":             "emit",
	"aggregations":     "aggregates",
	"aggs":             "aggregates",
	"path":             "file",
	"model_file":       "file",
	"model_topic":      "topic",
	"model_name":       "name",
	"pin":              "version",
	"model_version":    "version",
	"inputs":           "features",
	"fields":           "features",
	"columns":          "features",
	"cutoff":           "threshold",
	"min_score":        "threshold",
	"challenger":       "shadow",
	"candidate":        "shadow",
	"minimum":          "min",
	"maximum":          "max",
	"regex":            "pattern",
	"regexp":           "pattern",
	"enum":             "allowed",
	"values":           "allowed",
	"one_of":           "allowed",
	"max_len":          "max_length",
	"maxlength":        "max_length",
	"optional":         "required",
	"nullable":         "required",
	"deduplicate":      "dedup",
	"deduplication":    "dedup",
	"ttl":              "horizon",
	"retention":        "horizon",
	"lag":              "freshness",
	"max_lag":          "freshness",
	"staleness":        "freshness",
	"baseline":         "reference",
	"profile":          "reference",
	"interval":         "every",
	"psi_threshold":    "threshold",
	"min_count":        "min_records",
	"min_samples":      "min_records",
	"buckets":          "bins",
	"bins":             "buckets",
}

// given reports an optional field written with no value, which is more likely an
// unfinished edit than a request for the default.
func (p *parser) given(n *yaml.Node, path, def string) bool {
	if !isNull(resolve(n)) {
		return true
	}
	p.fail(p.valPos[path], path, fmt.Sprintf("has no value; set one, or remove the line to use the default (%s)", def))
	return false
}

// str decodes a string. Null is the empty string, which the rules report where a value is
// required.
func (p *parser) str(n *yaml.Node, path string) string {
	v := resolve(n)
	switch {
	case isNull(v):
		return ""
	case v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str":
		return v.Value
	case v.Kind == yaml.ScalarNode && slices.Contains([]string{"!!int", "!!float", "!!bool", "!!timestamp"}, v.ShortTag()):
		p.fail(posOf(n), path, fmt.Sprintf("must be a string, got %s; quote it to make it one: %s", describe(v), quoteShort(v.Value)))
	default:
		p.fail(posOf(n), path, "must be a string, got "+describe(v))
	}
	return ""
}

// stringList decodes a list of strings. Entries with a problem stay as "" so that indices
// match the file.
func (p *parser) stringList(n *yaml.Node, path string) []string {
	v := resolve(n)
	switch {
	case isNull(v):
		return nil
	case v.Kind == yaml.SequenceNode:
		out := make([]string, len(v.Content))
		for i, item := range v.Content {
			ip := fmt.Sprintf("%s[%d]", path, i)
			p.keyPos[ip], p.valPos[ip] = posOf(item), posOf(item)
			out[i] = p.str(item, ip)
		}
		return out
	case v.Kind == yaml.ScalarNode:
		name := path[strings.LastIndexByte(path, '.')+1:]
		p.fail(posOf(n), path, fmt.Sprintf("must be a list, got %s; write %s: [%s]", describe(v), name, shorten(v.Value)))
	default:
		p.fail(posOf(n), path, "must be a list, got "+describe(v))
	}
	return nil
}

func (p *parser) boolean(n *yaml.Node, path string) (bool, bool) {
	v := resolve(n)
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!bool" {
		return strings.EqualFold(v.Value, "true"), true
	}
	msg := "must be true or false, got " + describe(v)
	if v.Kind == yaml.ScalarNode && (strings.EqualFold(v.Value, "true") || strings.EqualFold(v.Value, "false")) {
		msg += "; remove the quotes"
	}
	p.fail(posOf(n), path, msg)
	return false, false
}

// duration decodes a Go duration such as 100ms or 1m30s. A bare 0 is a duration too.
func (p *parser) duration(n *yaml.Node, path string) (time.Duration, bool) {
	v := resolve(n)
	if v.Kind != yaml.ScalarNode || !slices.Contains([]string{"!!str", "!!int", "!!float"}, v.ShortTag()) {
		p.fail(posOf(n), path, "must be a duration such as 5s, got "+describe(v))
		return 0, false
	}
	d, err := time.ParseDuration(v.Value)
	switch {
	case err == nil:
		return d, true
	case plainNumber(v.Value):
		p.fail(posOf(n), path, fmt.Sprintf("%s has no unit; write e.g. %sms or %ss", v.Value, v.Value, v.Value))
	default:
		p.fail(posOf(n), path, fmt.Sprintf("%s is not a duration; write a number and a unit, e.g. 500ms, 5s or 1m30s", quoteShort(v.Value)))
	}
	return 0, false
}

// plainNumber reports whether s is a decimal number such as 100, -3 or 2.5.
func plainNumber(s string) bool {
	s = strings.TrimLeft(s, "+-")
	digits, dots := 0, 0
	for _, c := range s {
		switch {
		case '0' <= c && c <= '9':
			digits++
		case c == '.':
			dots++
		default:
			return false
		}
	}
	return digits > 0 && dots <= 1 && len(s) <= 20
}

// missing implements reporter. A field left out is "missing" at its parent; one present
// but empty is "empty" where it is. When a whole mapping is left out or empty, the
// problem is reported once, for the mapping.
func (p *parser) missing(path, hint string) {
	target := path
	for a := parentPath(path); a != ""; a = parentPath(a) {
		if !p.present(a) || p.hollow[a] {
			target = a
		}
	}
	if target != path {
		hint = sectionHint(target)
	}
	if p.misplaced[path] || p.misplaced[target] || p.silenced(path) || p.silenced(target) || p.reported[target] {
		return
	}
	p.reported[target] = true
	if p.present(target) {
		p.report(p.valPos[target], target, "is empty; "+hint)
		return
	}
	at := target
	for !p.present(at) {
		at = parentPath(at)
	}
	p.report(p.keyPos[at], target, "required field is missing; "+hint)
}

// invalid implements reporter: the problem is reported at the value.
//
// A problem of an operator entry as a whole, its place among the others, is reported even
// when its settings have problems of their own: those do not make it moot.
func (p *parser) invalid(path, msg string) {
	quiet := p.silenced(path)
	if operatorPath.MatchString(path) {
		quiet = p.bad[path] || p.bad[parentPath(path)]
	}
	if quiet {
		return
	}
	at := path
	for !p.present(at) {
		at = parentPath(at)
	}
	p.report(p.valPos[at], path, msg)
}

// unreadable implements reporter: a structural problem was reported at path, above it or
// below it.
func (p *parser) unreadable(path string) bool { return p.silenced(path) }

func (p *parser) present(path string) bool {
	_, ok := p.valPos[path]
	return ok
}

// silenced reports whether a structural problem was reported at path, above it or below
// it, in which case the rules have nothing useful to add.
func (p *parser) silenced(path string) bool {
	if p.badAbove[path] {
		return true
	}
	for a := path; ; a = parentPath(a) {
		if p.bad[a] {
			return true
		}
		if a == "" {
			return false
		}
	}
}

// parentPath strips the last field or index from a path: "input.topics[1]" becomes
// "input.topics", "input" becomes "".
func parentPath(path string) string {
	i := strings.LastIndexAny(path, ".[")
	if i < 0 {
		return ""
	}
	return path[:i]
}

var (
	operatorPath  = regexp.MustCompile(`^operators\[\d+\]$`)
	kindPath      = regexp.MustCompile(`^operators\[\d+\]\.([^.]+)$`)
	entryPath     = regexp.MustCompile(`^operators\[\d+\]\.([^.]+)\.([^.]+)\[\d+\]$`)
	mappingPath   = regexp.MustCompile(`^operators\[\d+\]\.([^.]+)\.([^.]+)$`)
	histogramPath = regexp.MustCompile(`^quality\.histograms\[\d+\]$`)
)

func sectionHint(path string) string {
	if h, ok := sectionHints[path]; ok {
		return h
	}
	if strings.HasPrefix(path, "input.schema") && path != "input.schema" {
		return ruleNeeds
	}
	if histogramPath.MatchString(path) {
		return histogramNeeds
	}
	if m := kindPath.FindStringSubmatch(path); m != nil {
		if k := kindNamed(m[1]); k != nil {
			return fmt.Sprintf("it needs %s, e.g. %s", k.needs, k.example)
		}
	}
	if m := entryPath.FindStringSubmatch(path); m != nil {
		if k := kindNamed(m[1]); k != nil {
			for _, l := range k.lists {
				if l.name == m[2] {
					return "it needs " + l.needs
				}
			}
		}
	}
	if m := mappingPath.FindStringSubmatch(path); m != nil {
		if k := kindNamed(m[1]); k != nil {
			for _, ms := range k.mappings {
				if ms.name == m[2] {
					return "it needs " + ms.needs
				}
			}
		}
	}
	return "fill it in" // unreachable while every mapping has a hint
}

// join appends a field name to a path, quoting names that are not plain words.
func join(path, name string) string {
	plain := name != ""
	for _, c := range name {
		if c == '.' || !nameChar(c) {
			plain = false
			break
		}
	}
	switch {
	case !plain:
		return path + "[" + quoteShort(name) + "]"
	case path == "":
		return name
	}
	return path + "." + name
}

// resolve follows an alias to the node it names.
func resolve(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

// describe names what a node is, for "got ..." in messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!str":
			return "the string " + quoteShort(n.Value)
		case "!!int", "!!float":
			return "the number " + shorten(n.Value)
		case "!!bool":
			return "the boolean " + shorten(n.Value)
		case "!!null":
			return "null"
		case "!!timestamp":
			return "the timestamp " + shorten(n.Value)
		case "!!binary":
			return "binary data"
		}
		return "a value tagged " + shorten(n.Tag)
	}
	return "an unexpected value"
}

// shorten cuts s to a readable length for a message, and quotes it if it holds anything
// that would not read as itself on one line.
func shorten(s string) string {
	for _, c := range s {
		if !unicode.IsPrint(c) || c == '"' || c == '\\' {
			return quoteShort(s)
		}
	}
	if q := quoteShort(s); strings.HasSuffix(q, "...") {
		return strings.TrimSuffix(strings.TrimPrefix(q, `"`), `"...`) + "..."
	}
	return s
}
