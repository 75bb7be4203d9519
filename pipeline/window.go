package pipeline

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Window is an operator that aggregates the records of each record key over event-time
// windows, and emits the results per key and window:
//
//	operators:
//	  - window:
//	      type: hopping
//	      size: 10m
//	      advance: 1m
//	      aggregates:
//	        - {fn: count}
//	        - {fn: quantile, field: amount, q: 0.99}
//
// A window closes when the watermark of its partition (the largest event time seen minus
// Input.MaxOutOfOrderness) reaches its end plus Grace (for sessions, its end plus Gap plus
// Grace); a record whose windows have all closed is late and goes to the late topic
// (Definition.LateTopic), never dropped.
//
// Durations are whole milliseconds, the unit of event times. The windows count them in
// int64 milliseconds up to 2^59, more than a time.Duration holds, so no Duration is too
// long for them.
type Window struct {
	// Type is the shape of the windows. Required.
	Type WindowType
	// Size is the length of the windows of type tumbling, hopping and sliding (for
	// sliding, the largest difference between the event times of two records of one
	// window). Required for those types, more than 0; must be 0 for session windows.
	Size time.Duration
	// Advance is how far apart hopping windows start: more than 0, at most Size.
	// Required for hopping windows; must be 0 for every other type.
	Advance time.Duration
	// Gap is the inactivity that ends a session: records of a key at most Gap apart are
	// in one session. Required for session windows, more than 0; must be 0 for every
	// other type.
	Gap time.Duration
	// Grace is how long after its end (as the watermark goes) a window still takes
	// records: at least 0, default 0.
	Grace time.Duration
	// Emit says when a window emits its result. ApplyDefaults and Parse set EmitFinal
	// when it is empty.
	Emit EmitMode
	// Aggregates are what each window computes, in the order of the output. At least
	// one; their output names (Aggregation.Name) are distinct.
	Aggregates []Aggregation
}

// WindowType is the shape of the windows of a window operator.
type WindowType string

// The window types. Windows are aligned to the Unix epoch and half-open, [start, end).
const (
	// WindowTumbling windows have a fixed size and do not overlap: a record at t is in
	// the one window [floor(t/size)*size, +size).
	WindowTumbling WindowType = "tumbling"
	// WindowHopping windows have a fixed size and start every advance: a record is in
	// every window that contains it, about size/advance of them.
	WindowHopping WindowType = "hopping"
	// WindowSliding windows hold the records whose event times are at most size apart:
	// each record at t defines the window [t-size, t+1).
	WindowSliding WindowType = "sliding"
	// WindowSession windows hold a key's records separated by at most gap; a record that
	// bridges two sessions merges them.
	WindowSession WindowType = "session"
)

// EmitMode says when a window emits its result.
type EmitMode string

// The emit modes.
const (
	// EmitFinal emits one result per window, when it closes. The default.
	EmitFinal EmitMode = "final"
	// EmitUpdate emits the window's result after every record that changes it, as an
	// upsert by key and window.
	EmitUpdate EmitMode = "update"
)

// AggFunc is an aggregate function of a window operator.
type AggFunc string

// The aggregate functions. Every one but AggCount reads a numeric field of the records.
const (
	// AggCount counts the records of the window; it takes no field.
	AggCount AggFunc = "count"
	// AggSum adds the values of the field.
	AggSum AggFunc = "sum"
	// AggMin is the smallest value of the field.
	AggMin AggFunc = "min"
	// AggMax is the largest value of the field.
	AggMax AggFunc = "max"
	// AggAvg is the mean of the values of the field.
	AggAvg AggFunc = "avg"
	// AggFirst is the value of the field in the record with the earliest event time (of
	// records with equal event times, the first in offset order).
	AggFirst AggFunc = "first"
	// AggLast is the value of the field in the record with the latest event time (of
	// records with equal event times, the last in offset order).
	AggLast AggFunc = "last"
	// AggCountDistinct estimates the number of distinct values of the field
	// (HyperLogLog, about 0.8% relative standard error).
	AggCountDistinct AggFunc = "count_distinct"
	// AggQuantile estimates the Q-quantile of the values of the field (DDSketch, within
	// 1% relative error).
	AggQuantile AggFunc = "quantile"
)

// Aggregation is one aggregate that a window operator computes.
type Aggregation struct {
	// Func is the aggregate function. Required.
	Func AggFunc
	// Field is the top-level field that the function reads. Required for every function
	// but count, which takes none.
	Field string
	// Q is the quantile of AggQuantile: 0 <= Q <= 1, e.g. 0.99 for the 99th percentile.
	// It must be 0 for every other function. A file must write q for a quantile; in Go,
	// the zero value is the 0-quantile, the minimum.
	Q float64
	// As is the name of the result in the output. Optional: see Name. Letters, digits,
	// "_", "-" and ".".
	As string
}

// Name is the name of the aggregate's result in the output: As when set, otherwise
// "count" for count, "p<100q>_<field>" for quantile with 100q in its shortest decimal form
// (q 0.99 gives p99_amount, 0.999 gives p99.9_amount, 0.5 gives p50_amount), and
// "<fn>_<field>" for the others (sum_amount, count_distinct_merchant).
func (a Aggregation) Name() string {
	switch {
	case a.As != "":
		return a.As
	case a.Func == AggCount:
		return "count"
	case a.Func == AggQuantile:
		return "p" + percent(a.Q) + "_" + a.Field
	}
	return string(a.Func) + "_" + a.Field
}

// percent writes 100q in its shortest decimal form. It shifts the decimal point of q's
// shortest form rather than multiplying, which would give 28.999999999999996 for 0.29.
func percent(q float64) string {
	if math.IsNaN(q) || math.IsInf(q, 0) {
		return strconv.FormatFloat(q, 'g', -1, 64)
	}
	s := strconv.FormatFloat(q, 'f', -1, 64)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	frac += "00"
	whole = strings.TrimLeft(whole+frac[:2], "0")
	if whole == "" {
		whole = "0"
	}
	if rest := strings.TrimRight(frac[2:], "0"); rest != "" {
		return sign + whole + "." + rest
	}
	return sign + whole
}

// The settings of the file, in documentation order.
var (
	windowFields      = []string{"type", "size", "advance", "gap", "grace", "emit", "aggregates"}
	aggregationFields = []string{"fn", "field", "q", "as"}
)

// windowTypes lists the window types in documentation order, each with the settings that
// only some types take.
var windowTypes = []struct {
	typ      WindowType
	settings []string
}{
	{WindowTumbling, []string{"size"}},
	{WindowHopping, []string{"size", "advance"}},
	{WindowSliding, []string{"size"}},
	{WindowSession, []string{"gap"}},
}

// typeSettings returns the settings that only some types take and that type t takes, and
// whether t is a window type.
func typeSettings(t WindowType) ([]string, bool) {
	for _, wt := range windowTypes {
		if wt.typ == t {
			return wt.settings, true
		}
	}
	return nil, false
}

func windowTypeNames() []string {
	names := make([]string, len(windowTypes))
	for i, wt := range windowTypes {
		names[i] = string(wt.typ)
	}
	return names
}

// notOfType says that a setting does not belong to the window type in use.
func notOfType(setting string) string {
	var owners []string
	for _, wt := range windowTypes {
		if slices.Contains(wt.settings, setting) {
			owners = append(owners, string(wt.typ))
		}
	}
	return fmt.Sprintf("%s is a setting of %s windows; remove it or use type: %s", setting, andList(owners), orList(owners))
}

// spans are the settings that are lengths of time the type requires, with the hint of
// each.
var spans = []struct {
	name, example, hint string
	get                 func(*Window) time.Duration
}{
	{"size", "size: 10m", "add the window size, e.g. size: 10m", func(w *Window) time.Duration { return w.Size }},
	{"advance", "advance: 1m", "add how far apart the windows start, e.g. advance: 1m", func(w *Window) time.Duration { return w.Advance }},
	{"gap", "gap: 30m", "add the inactivity that ends a session, e.g. gap: 30m", func(w *Window) time.Duration { return w.Gap }},
}

var aggFuncs = []AggFunc{AggCount, AggSum, AggMin, AggMax, AggAvg, AggFirst, AggLast, AggCountDistinct, AggQuantile}

func aggFuncNames() []string {
	names := make([]string, len(aggFuncs))
	for i, f := range aggFuncs {
		names[i] = string(f)
	}
	return names
}

// aggExample writes an aggregate of function fn as a file would.
func aggExample(fn AggFunc) string {
	switch fn {
	case AggCount:
		return "{fn: count}"
	case AggQuantile:
		return "{fn: quantile, field: amount, q: 0.99}"
	}
	return "{fn: " + string(fn) + ", field: amount}"
}

// The messages of settings that do not belong to the function, shared by the rules and
// the parser (which also reports them written with a zero value).
const (
	countTakesNoField = "count takes no field, it counts records; remove it, or use fn: count_distinct to count the distinct values of a field"
	qNotOfFunc        = "q is a setting of quantile; remove it or use fn: quantile"
)

// notPositive says that a required length of time is not more than 0.
func notPositive(d time.Duration, example string) string {
	return fmt.Sprintf("%s is not more than 0; use a positive duration, e.g. %s", formatDuration(d), example)
}

// wholeMillis says what is wrong with a duration that windows cannot use because it is
// not a whole number of milliseconds, or returns "".
func wholeMillis(d time.Duration) string { return notWholeMillis(d, "the unit windows count in") }

// notWholeMillis says that d is not a whole number of milliseconds, which unit says why it
// should be, or returns "".
func notWholeMillis(d time.Duration, unit string) string {
	if d%time.Millisecond == 0 {
		return ""
	}
	up := (d/time.Millisecond + 1) * time.Millisecond
	if d < 0 {
		up = (d / time.Millisecond) * time.Millisecond
	}
	return fmt.Sprintf("%s is not a whole number of milliseconds, %s; use e.g. %s",
		formatDuration(d), unit, formatDuration(up))
}

// unknownValue says that v is none of the names of what it should be, suggesting the
// likeliest.
func unknownValue(v, what string, names []string) string {
	if s := suggest(v, names); s != "" {
		return fmt.Sprintf("%q is not %s; did you mean %q?", v, what, s)
	}
	return fmt.Sprintf("%q is not %s; use %s", v, what, orList(names))
}

// windowKind is the entry of the window operator in kinds.
var windowKind = operatorKind{
	name:    "window",
	example: "window: {type: tumbling, size: 1m, aggregates: [{fn: count}]}",
	fields:  windowFields,
	needs:   "type, aggregates and, by type, size, advance or gap",
	lists: []nestedSetting{{
		name:   "aggregates",
		fields: aggregationFields,
		needs:  "fn, and field for every fn but count, e.g. {fn: sum, field: amount}",
	}},
	isSet:  func(o Operator) bool { return o.Window != nil },
	decode: func(p *parser, f map[string]*yaml.Node, path string, op *Operator) { op.Window = p.window(f, path) },
	check:  func(_ *Definition, op Operator, path string, r reporter) { checkWindow(op.Window, path, r) },
}

// checkWindow applies the rules of a window operator at path.
func checkWindow(w *Window, path string, r reporter) {
	settings, typeOK := typeSettings(w.Type)
	switch {
	case w.Type == "":
		r.missing(path+".type", "add the window type: type: "+orList(windowTypeNames()))
	case !typeOK:
		r.invalid(path+".type", unknownValue(string(w.Type), "a window type", windowTypeNames()))
	}

	for _, s := range spans {
		sp, d := path+"."+s.name, s.get(w)
		takes := slices.Contains(settings, s.name)
		switch {
		case typeOK && !takes && d != 0:
			r.invalid(sp, notOfType(s.name))
		case d == 0:
			if takes {
				r.missing(sp, s.hint)
			}
		case d < 0:
			r.invalid(sp, notPositive(d, s.example))
		case wholeMillis(d) != "":
			r.invalid(sp, wholeMillis(d))
		case s.name == "advance" && w.Type == WindowHopping && w.Size > 0 && wholeMillis(w.Size) == "" && d > w.Size:
			r.invalid(sp, fmt.Sprintf("%s is more than the size, %s; hopping windows start at most one size apart, "+
				"or records between them would be in no window, so use an advance up to %s",
				formatDuration(d), formatDuration(w.Size), formatDuration(w.Size)))
		}
	}

	switch {
	case w.Grace < 0:
		r.invalid(path+".grace", fmt.Sprintf("%s is negative; use 0 (the default) or a positive duration, e.g. 30s", formatDuration(w.Grace)))
	case wholeMillis(w.Grace) != "":
		r.invalid(path+".grace", wholeMillis(w.Grace))
	}

	switch w.Emit {
	case "":
		r.missing(path+".emit", "set emit: final (the default) or update")
	case EmitFinal, EmitUpdate:
	default:
		msg := fmt.Sprintf("%q is not an emit mode; use final (the default: one result per window, when it closes) "+
			"or update (a result after every change)", w.Emit)
		if s := suggest(string(w.Emit), []string{string(EmitFinal), string(EmitUpdate)}); s != "" {
			msg = fmt.Sprintf("%q is not an emit mode; did you mean %q?", w.Emit, s)
		}
		r.invalid(path+".emit", msg)
	}

	if len(w.Aggregates) == 0 {
		r.missing(path+".aggregates", "add at least one aggregate, e.g. aggregates: [{fn: count}]")
	}
	names := map[string]int{}
	for i, a := range w.Aggregates {
		ap := fmt.Sprintf("%s.aggregates[%d]", path, i)
		if !checkAggregation(a, ap, r) {
			continue
		}
		name, np := a.Name(), ap
		if a.As != "" {
			np = ap + ".as"
		}
		if j, dup := names[name]; dup {
			if a.As != "" {
				r.invalid(np, fmt.Sprintf("%q is the output name of aggregates[%d] too; each output name must be unique, so choose another", name, j))
			} else {
				r.invalid(np, fmt.Sprintf("its output name %q is that of aggregates[%d] too; each output name must be unique, so name one of them with as:", name, j))
			}
			continue
		}
		names[name] = i
	}
}

// checkAggregation applies the rules of one aggregate at path, and reports whether it has
// a well-formed output name to compare with the others.
func checkAggregation(a Aggregation, path string, r reporter) bool {
	ok := true
	known := slices.Contains(aggFuncs, a.Func)
	switch {
	case a.Func == "":
		r.missing(path+".fn", "add the function, e.g. fn: count; the functions are "+andList(aggFuncNames()))
		ok = false
	case !known:
		r.invalid(path+".fn", unknownValue(string(a.Func), "an aggregate function", aggFuncNames()))
		ok = false
	}

	switch {
	case a.Func == AggCount:
		if a.Field != "" {
			r.invalid(path+".field", countTakesNoField)
		}
	case known:
		if !checkFieldName(r, path+".field", a.Field, "add the field that "+string(a.Func)+" reads, e.g. "+aggExample(a.Func)) {
			ok = false
		}
	}

	switch {
	case a.Func == AggQuantile && !(a.Q >= 0 && a.Q <= 1): // also NaN
		r.invalid(path+".q", fmt.Sprintf("%s is not between 0 and 1; q is a fraction, e.g. q: 0.99 for the 99th percentile",
			strconv.FormatFloat(a.Q, 'g', -1, 64)))
	case known && a.Func != AggQuantile && a.Q != 0:
		r.invalid(path+".q", qNotOfFunc)
	}

	if a.As != "" {
		if c, bad := badNameChar(a.As); bad {
			r.invalid(path+".as", fmt.Sprintf("%s contains %s; an output name uses only letters, digits, \"_\", \"-\" and \".\"",
				quoteShort(a.As), describeChar(c)))
			ok = false
		}
	} else if ok {
		if c, bad := badNameChar(a.Name()); bad {
			r.invalid(path, fmt.Sprintf("its default output name %s contains %s, which output names cannot have "+
				"(only letters, digits, \"_\", \"-\" and \".\"); name it with as:, e.g. as: %s",
				quoteShort(a.Name()), describeChar(c), sanitizeName(a.Name())))
			ok = false
		}
	}
	return ok
}

// badNameChar returns the first character that an output name cannot have. Output names
// are keys of a JSON object that downstream consumers read, so they keep to the characters
// of topic names, which need no escaping anywhere.
func badNameChar(name string) (rune, bool) {
	for _, c := range name {
		if !nameChar(c) {
			return c, true
		}
	}
	return 0, false
}

// sanitizeName replaces the characters an output name cannot have with "_".
func sanitizeName(name string) string {
	return strings.Map(func(c rune) rune {
		if nameChar(c) {
			return c
		}
		return '_'
	}, name)
}

// window decodes the settings of a window operator at path. Beyond the types, it reports
// what only the file can say: a setting of another type or function written out even with
// a zero value, a required length of time written as 0, and a quantile without q.
func (p *parser) window(f map[string]*yaml.Node, path string) *Window {
	w := &Window{Emit: EmitFinal}
	if n, ok := f["type"]; ok {
		w.Type = WindowType(p.str(n, path+".type"))
	}
	settings, typeOK := typeSettings(w.Type)
	for _, s := range spans {
		n, ok := f[s.name]
		sp := path + "." + s.name
		switch {
		case !ok:
			continue
		case typeOK && !slices.Contains(settings, s.name):
			p.fail(p.keyPos[sp], sp, notOfType(s.name))
			continue
		case isNull(resolve(n)):
			continue // the rules report it as empty where it is required
		}
		d, ok := p.duration(n, sp)
		if ok && d == 0 {
			p.fail(posOf(n), sp, notPositive(d, s.example))
		}
		switch s.name {
		case "size":
			w.Size = d
		case "advance":
			w.Advance = d
		case "gap":
			w.Gap = d
		}
	}
	if n, ok := f["grace"]; ok && p.given(n, path+".grace", "0") {
		if d, ok := p.duration(n, path+".grace"); ok {
			w.Grace = d
		}
	}
	if n, ok := f["emit"]; ok && p.given(n, path+".emit", string(EmitFinal)) {
		w.Emit = EmitMode(p.str(n, path+".emit"))
	}
	if n, ok := f["aggregates"]; ok {
		w.Aggregates = p.aggregations(n, path+".aggregates")
	}
	return w
}

// aggregations decodes the list of aggregates of a window. Entries with a problem stay as
// zero Aggregations, so that indices match the file.
func (p *parser) aggregations(n *yaml.Node, path string) []Aggregation {
	v := resolve(n)
	switch {
	case isNull(v):
		return nil // the rules report it
	case v.Kind == yaml.MappingNode:
		p.fail(posOf(n), path, `must be a list, got a mapping; start each aggregate with "- ", e.g. - {fn: count}`)
		return nil
	case v.Kind != yaml.SequenceNode:
		p.fail(posOf(n), path, fmt.Sprintf("must be a list of aggregates, got %s; e.g. aggregates: [{fn: count}]", describe(v)))
		return nil
	}
	out := make([]Aggregation, len(v.Content))
	for i, item := range v.Content {
		ip := fmt.Sprintf("%s[%d]", path, i)
		p.keyPos[ip], p.valPos[ip] = posOf(item), posOf(item)
		out[i] = p.aggregation(item, ip)
	}
	return out
}

// aggregation decodes one entry of aggregates: a mapping of fn, field, q and as.
func (p *parser) aggregation(n *yaml.Node, path string) Aggregation {
	v := resolve(n)
	switch {
	case isNull(v):
		p.fail(posOf(n), path, "is empty; write an aggregate, e.g. - {fn: count}")
		return Aggregation{}
	case v.Kind == yaml.ScalarNode && slices.Contains(aggFuncs, AggFunc(v.Value)):
		p.fail(posOf(n), path, fmt.Sprintf("%q needs to be a mapping; write - %s", v.Value, aggExample(AggFunc(v.Value))))
		return Aggregation{}
	case v.Kind != yaml.MappingNode:
		p.fail(posOf(n), path, fmt.Sprintf("must be a mapping such as {fn: sum, field: amount}, got %s", describe(v)))
		return Aggregation{}
	}

	f := p.mapping(n, path, aggregationFields)
	var a Aggregation
	if n, ok := f["fn"]; ok {
		a.Func = AggFunc(p.str(n, path+".fn"))
	}
	known := slices.Contains(aggFuncs, a.Func)
	if n, ok := f["field"]; ok {
		if a.Func == AggCount {
			p.fail(p.keyPos[path+".field"], path+".field", countTakesNoField)
		} else {
			a.Field = p.str(n, path+".field")
		}
	}
	qn, hasQ := f["q"]
	switch {
	case hasQ && known && a.Func != AggQuantile:
		p.fail(p.keyPos[path+".q"], path+".q", qNotOfFunc)
	case hasQ && !isNull(resolve(qn)):
		a.Q, _ = p.number(qn, path+".q")
	case a.Func == AggQuantile:
		// Required in the file, where a quantile without q is surely an oversight; in
		// Go, where absent and 0 are one, Q 0 is the minimum.
		p.missing(path+".q", "add the quantile as a fraction, e.g. q: 0.99 for the 99th percentile")
	}
	if n, ok := f["as"]; ok {
		def := "made of fn and field"
		if known {
			def = a.Name()
		}
		if p.given(n, path+".as", def) {
			a.As = p.str(n, path+".as")
			if a.As == "" && !p.silenced(path+".as") {
				p.fail(posOf(n), path+".as", fmt.Sprintf("is empty; write a name, or remove the line to use the default (%s)", def))
			}
		}
	}
	return a
}

// number decodes a YAML number, such as 0.99 or 1. A number in quotes is a string.
func (p *parser) number(n *yaml.Node, path string) (float64, bool) {
	v := resolve(n)
	if v.Kind == yaml.ScalarNode && (v.ShortTag() == "!!int" || v.ShortTag() == "!!float") {
		var f float64
		if err := v.Decode(&f); err == nil {
			return f, true
		}
	}
	msg := "must be a number such as 0.99, got " + describe(v)
	quoted := v.Style&(yaml.DoubleQuotedStyle|yaml.SingleQuotedStyle) != 0
	if _, err := strconv.ParseFloat(v.Value, 64); v.Kind == yaml.ScalarNode && quoted && err == nil {
		msg += "; remove the quotes"
	}
	p.fail(posOf(n), path, msg)
	return 0, false
}
