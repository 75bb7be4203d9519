package pipeline

import (
	"errors"
	"fmt"
	"math"
	"regexp"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// FieldRule is the schema rule of one top-level field of the input records, checked on
// every record after it is read as a JSON object. A record that breaks a rule is a schema
// error (see OnError). In the file, input.schema maps field names to rules, in order:
//
//	input:
//	  schema:
//	    card_id:  {type: string, required: true, pattern: '^card-[0-9]+$', max_length: 32}
//	    amount:   {type: float, required: true, min: 0, max: 100000}
//	    currency: {type: string, allowed: [EUR, USD]}
//
// A field that is null counts as missing: only Required rejects it.
type FieldRule struct {
	// Field is the top-level field the rule is about. Required, distinct among the rules;
	// in the file, the key of the rule.
	Field string
	// Type is the JSON type the field must have. Required.
	Type FieldType
	// Required rejects a record without the field (or with it null). Default false.
	Required bool
	// Min and Max bound the value of an int or float field, inclusive. nil: no bound.
	// Finite, and Min at most Max.
	Min, Max *float64
	// Allowed lists the only values the field may have; nil or empty: any. Elements are
	// string for a string field, bool for a bool field, and numbers (int, int64 or
	// float64; whole for an int field) for int and float fields. Not for timestamps.
	Allowed []any
	// Pattern is a regular expression (RE2 syntax, https://golang.org/s/re2syntax) that a
	// string field must match somewhere; anchor it with ^ and $ to match it all. "": none.
	Pattern string
	// MaxLength is the most characters (Unicode code points) a string field may have.
	// 0: no limit; never negative.
	MaxLength int
}

// FieldType is the JSON type of a field that a FieldRule requires.
type FieldType string

// The field types.
const (
	// TypeString is a JSON string.
	TypeString FieldType = "string"
	// TypeInt is a JSON number written as an integer (digits with an optional minus, no
	// fraction or exponent) that fits in 64 bits.
	TypeInt FieldType = "int"
	// TypeFloat is a finite JSON number.
	TypeFloat FieldType = "float"
	// TypeBool is true or false.
	TypeBool FieldType = "bool"
	// TypeTimestamp is an RFC 3339 string or an integer of epoch milliseconds, in years
	// 1970 to 9999.
	TypeTimestamp FieldType = "timestamp"
)

var fieldTypes = []FieldType{TypeString, TypeInt, TypeFloat, TypeBool, TypeTimestamp}

func fieldTypeNames() []string {
	names := make([]string, len(fieldTypes))
	for i, t := range fieldTypes {
		names[i] = string(t)
	}
	return names
}

// typeAliases are what users of other schema languages write for our types.
var typeAliases = map[string]FieldType{
	"str": TypeString, "text": TypeString, "integer": TypeInt, "long": TypeInt, "int64": TypeInt,
	"number": TypeFloat, "double": TypeFloat, "float64": TypeFloat, "decimal": TypeFloat,
	"boolean": TypeBool, "time": TypeTimestamp, "datetime": TypeTimestamp, "date": TypeTimestamp,
}

// Policy is what the processor does with a record it cannot process, by reason class
// (see OnError).
type Policy string

// The policies.
const (
	// PolicyDLQ writes the record, unchanged, to the pipeline's dead-letter topic (late
	// records: its late topic), with headers saying why, in the same transaction as the
	// other outputs. The default.
	PolicyDLQ Policy = "dlq"
	// PolicySkip drops the record and counts it in the metric
	// kappa_processor_skipped_records_total{reason}.
	PolicySkip Policy = "skip"
	// PolicyFail stops the processor at the record with an error naming it: the open
	// transaction is aborted, so the group's committed offset stays before the record,
	// and a restart after a fix resumes there.
	PolicyFail Policy = "fail"
)

var policies = []string{string(PolicyDLQ), string(PolicySkip), string(PolicyFail)}

// OnError says what to do with the records of each reason class that the processor
// cannot process. An empty policy is PolicyDLQ, the default (Parse leaves the policies
// that a file does not set empty too), so the zero OnError sends every record the
// processor cannot process to the dead-letter or late topic:
//
//	on_error: {decode: dlq, schema: fail, late: skip}
type OnError struct {
	// Decode is for a value that is not a UTF-8 JSON object.
	Decode Policy
	// Schema is for a record that breaks a rule: a field missing or of the wrong type or
	// value, by the schema (Input.Schema) or by what the pipeline reads (the key, the
	// event time, the operators' fields).
	Schema Policy
	// Late is for a record that arrives after every window it belongs to has closed.
	// Only a pipeline with a window operator has late records; with PolicyDLQ they go to
	// the late topic (Definition.LateTopic), not the dead-letter topic.
	Late Policy
	// Duplicate is for a record whose event id was already seen (Input.Dedup). Empty is
	// PolicySkip for this class: duplicates are dropped and counted; with PolicyDLQ they go
	// to the dead-letter topic.
	Duplicate Policy
	// Scoring is for a record the model cannot score: it predicted a value that is not a
	// finite number (NaN or infinite). Only a pipeline with a score operator has scoring
	// errors.
	Scoring Policy
}

// PolicyOf returns the policy of a reason class, "decode", "schema", "late", "scoring" or
// "duplicate": the one set, or the class's default when it is empty (PolicySkip for
// duplicates, PolicyDLQ for the others and for an unknown class).
func (o OnError) PolicyOf(reason string) Policy {
	var p Policy
	switch reason {
	case "decode":
		p = o.Decode
	case "schema":
		p = o.Schema
	case "late":
		p = o.Late
	case "scoring":
		p = o.Scoring
	case "duplicate":
		p = o.Duplicate
		if p == "" {
			return PolicySkip
		}
	}
	if p == "" {
		return PolicyDLQ
	}
	return p
}

// The settings of the file, in documentation order.
var (
	ruleFields    = []string{"type", "required", "min", "max", "allowed", "pattern", "max_length"}
	onErrorFields = []string{"decode", "schema", "late", "scoring", "duplicate"}
)

const ruleNeeds = "it needs type, e.g. amount: {type: float, required: true}"

// checkSchema applies the rules of input.schema.
func checkSchema(d *Definition, r reporter) {
	seen := map[string]int{}
	for i, fr := range d.Input.Schema {
		path := join("input.schema", fr.Field)
		if !checkFieldName(r, path, fr.Field, "name the field of the rule, e.g. amount: {type: float}") {
			continue
		}
		if j, dup := seen[fr.Field]; dup {
			r.invalid(path, fmt.Sprintf("%q has a rule already (input.schema[%d]); merge the two", fr.Field, j))
			continue
		}
		seen[fr.Field] = i
		checkRule(fr, path, r)
	}
}

func checkRule(fr FieldRule, path string, r reporter) {
	known := false
	switch t := fr.Type; {
	case t == "":
		r.missing(path+".type", "add the field's type: type: "+orList(fieldTypeNames()))
	case typeAliases[strings.ToLower(string(t))] != "":
		r.invalid(path+".type", fmt.Sprintf("%q is not a field type; did you mean %q?", t, typeAliases[strings.ToLower(string(t))]))
	default:
		for _, ft := range fieldTypes {
			known = known || ft == t
		}
		if !known {
			r.invalid(path+".type", unknownValue(string(t), "a field type", fieldTypeNames()))
		}
	}
	numeric := fr.Type == TypeInt || fr.Type == TypeFloat
	only := func(setting, types, instead string) {
		msg := fmt.Sprintf("%s is a rule of %s fields, and %s is %s field; remove it", setting, types, fr.Field, withArticle(string(fr.Type)))
		if instead != "" {
			msg += " or " + instead
		}
		r.invalid(path+"."+setting, msg)
	}

	bounds := []struct {
		name string
		v    *float64
	}{{"min", fr.Min}, {"max", fr.Max}}
	boundsOK := true
	for _, b := range bounds {
		switch {
		case b.v == nil:
		case known && !numeric:
			instead := ""
			if fr.Type == TypeString {
				instead = "use max_length to bound a string"
			}
			only(b.name, "int and float", instead)
			boundsOK = false
		case math.IsNaN(*b.v) || math.IsInf(*b.v, 0):
			r.invalid(path+"."+b.name, fmt.Sprintf("%s is not a finite number; write a number, or remove %s for no bound", fmtNum(*b.v), b.name))
			boundsOK = false
		}
	}
	if boundsOK && fr.Min != nil && fr.Max != nil && *fr.Min > *fr.Max {
		r.invalid(path+".max", fmt.Sprintf("%s is below min %s, so no value could pass; swap them or fix one", fmtNum(*fr.Max), fmtNum(*fr.Min)))
		boundsOK = false
	}

	var re *regexp.Regexp
	if fr.Pattern != "" {
		switch {
		case known && fr.Type != TypeString:
			only("pattern", "string", "")
		default:
			var err error
			if re, err = regexp.Compile(fr.Pattern); err != nil {
				msg := err.Error()
				if se := (*syntax.Error)(nil); errors.As(err, &se) {
					msg = fmt.Sprintf("%s in %s", se.Code, quoteShort(se.Expr)) // Expr may hold newlines
				}
				r.invalid(path+".pattern", fmt.Sprintf("%s is not a valid regular expression (RE2 syntax): %s; fix it, e.g. pattern: '^card-[0-9]+$'",
					quoteShort(fr.Pattern), msg))
			}
		}
	}

	lengthOK := false
	switch {
	case fr.MaxLength == 0:
	case known && fr.Type != TypeString:
		only("max_length", "string", "")
	case fr.MaxLength < 0:
		r.invalid(path+".max_length", fmt.Sprintf("%d is negative; use a number of characters, at least 1", fr.MaxLength))
	default:
		lengthOK = true
	}

	if len(fr.Allowed) > 0 {
		if known && fr.Type == TypeTimestamp {
			only("allowed", "string, int, float and bool", "")
			return
		}
		if !known {
			return
		}
		for i, v := range fr.Allowed {
			ap := fmt.Sprintf("%s.allowed[%d]", path, i)
			num, ok := allowedValue(fr.Type, v)
			if !ok {
				r.invalid(ap, fmt.Sprintf("%s is not %s, the type of %s; write a value of that type%s",
					describeValue(v), withArticle(string(fr.Type)), fr.Field, quoteHint(fr.Type, v)))
				continue
			}
			switch {
			case numeric && boundsOK && fr.Min != nil && num < *fr.Min:
				r.invalid(ap, fmt.Sprintf("%s is below min %s, so it could never pass; remove it or lower min", fmtNum(num), fmtNum(*fr.Min)))
			case numeric && boundsOK && fr.Max != nil && num > *fr.Max:
				r.invalid(ap, fmt.Sprintf("%s is above max %s, so it could never pass; remove it or raise max", fmtNum(num), fmtNum(*fr.Max)))
			case fr.Type == TypeString && lengthOK && utf8.RuneCountInString(v.(string)) > fr.MaxLength:
				r.invalid(ap, fmt.Sprintf("%s is longer than max_length %d, so it could never pass; remove it or raise max_length", quoteShort(v.(string)), fr.MaxLength))
			case fr.Type == TypeString && re != nil && !re.MatchString(v.(string)):
				r.invalid(ap, fmt.Sprintf("%s does not match the pattern, so it could never pass; remove it or change the pattern", quoteShort(v.(string))))
			}
		}
	}
}

// allowedValue reports whether v is a value of type t, and for numbers its value.
func allowedValue(t FieldType, v any) (float64, bool) {
	var f float64
	switch x := v.(type) {
	case string:
		return 0, t == TypeString
	case bool:
		return 0, t == TypeBool
	case int:
		f = float64(x)
	case int64:
		f = float64(x)
	case float64:
		if t == TypeInt && (x != math.Trunc(x) || math.Abs(x) >= 1<<63) {
			return 0, false
		}
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return 0, false
		}
		f = x
	default:
		return 0, false
	}
	return f, t == TypeInt || t == TypeFloat
}

// describeValue names an allowed value for a message.
func describeValue(v any) string {
	switch x := v.(type) {
	case string:
		return "the string " + quoteShort(x)
	case bool:
		return "the boolean " + strconv.FormatBool(x)
	case int:
		return "the number " + strconv.Itoa(x)
	case int64:
		return "the number " + strconv.FormatInt(x, 10)
	case float64:
		return "the number " + fmtNum(x)
	case nil:
		return "null"
	}
	return fmt.Sprintf("a value of Go type %T", v)
}

// quoteHint tells a user who wrote a number or boolean for a string field to quote it.
func quoteHint(t FieldType, v any) string {
	if t != TypeString {
		return ""
	}
	switch v.(type) {
	case int, int64, float64, bool:
		return ", or quote it to make it a string"
	}
	return ""
}

// withArticle puts "a" or "an" before a type name.
func withArticle(name string) string {
	if name != "" && strings.ContainsRune("aeiou", rune(name[0])) {
		return "an " + name
	}
	return "a " + name
}

func fmtNum(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// checkOnError applies the rules of on_error.
func checkOnError(d *Definition, r reporter) {
	for _, pc := range []struct {
		name string
		p    Policy
	}{{"decode", d.OnError.Decode}, {"schema", d.OnError.Schema}, {"late", d.OnError.Late}, {"scoring", d.OnError.Scoring}, {"duplicate", d.OnError.Duplicate}} {
		path := "on_error." + pc.name
		switch pc.p {
		case "":
		case PolicyDLQ, PolicySkip, PolicyFail:
			if pc.p == (OnError{}).PolicyOf(pc.name) {
				// The default changes nothing, so it may be written even for a class
				// the pipeline cannot have.
				continue
			}
			switch {
			case pc.name == "late" && !d.HasWindow() && !r.unreadable("operators"):
				r.invalid(path, fmt.Sprintf("only a pipeline with a window operator has late records, and this one has none; remove late: %s", pc.p))
			case pc.name == "scoring" && d.ScoreOp() == nil && !r.unreadable("operators"):
				r.invalid(path, fmt.Sprintf("only a pipeline with a score operator has scoring errors, and this one has none; remove scoring: %s", pc.p))
			case pc.name == "duplicate" && d.Input.Dedup == nil && !r.unreadable("input.dedup"):
				r.invalid(path, fmt.Sprintf("only a pipeline with input.dedup has duplicates, and this one has none; remove duplicate: %s, "+
					"or add input.dedup, e.g. dedup: {field: txn_id, horizon: 1h}", pc.p))
			}
		default:
			r.invalid(path, unknownValue(string(pc.p), "a policy", policies)+
				" (dlq: to the dead-letter topic, skip: drop and count, fail: stop at the record)")
		}
	}
}

// schema decodes input.schema: a mapping of field names to rules, in file order.
func (p *parser) schema(n *yaml.Node, path string) []FieldRule {
	v := resolve(n)
	switch {
	case isNull(v):
		return nil
	case v.Kind != yaml.MappingNode:
		p.fail(posOf(n), path, fmt.Sprintf("must be a mapping of field names to rules, got %s; e.g. schema: {amount: {type: float, required: true}}", describe(v)))
		return nil
	}
	entries := p.entries(v, path)
	out := make([]FieldRule, 0, len(entries))
	for _, e := range entries {
		rp := join(path, e.name)
		p.record(rp, e)
		fr := FieldRule{Field: e.name}
		rv := resolve(e.value)
		switch {
		case rv.Kind != yaml.MappingNode && !isNull(rv):
			typ := string(TypeString)
			if rv.Kind == yaml.ScalarNode && slices.Contains(fieldTypes, FieldType(rv.Value)) {
				typ = rv.Value
			}
			p.fail(posOf(e.value), rp, fmt.Sprintf("must be a mapping of rules, got %s; write e.g. %s: {type: %s}", describe(rv), shorten(e.name), typ))
		default:
			p.rule(p.mapping(e.value, rp, ruleFields), rp, &fr)
		}
		out = append(out, fr)
	}
	return out
}

// rule decodes the settings of one field rule.
func (p *parser) rule(f map[string]*yaml.Node, path string, fr *FieldRule) {
	if n, ok := f["type"]; ok {
		fr.Type = FieldType(p.str(n, path+".type"))
	}
	if n, ok := f["required"]; ok && p.given(n, path+".required", "false") {
		fr.Required, _ = p.boolean(n, path+".required")
	}
	for _, b := range []struct {
		name string
		dst  **float64
	}{{"min", &fr.Min}, {"max", &fr.Max}} {
		if n, ok := f[b.name]; ok && p.given(n, path+"."+b.name, "no bound") {
			if v, ok := p.number(n, path+"."+b.name); ok {
				*b.dst = &v
			}
		}
	}
	if n, ok := f["allowed"]; ok && p.given(n, path+".allowed", "any value") {
		fr.Allowed = p.allowed(n, path+".allowed")
	}
	if n, ok := f["pattern"]; ok && p.given(n, path+".pattern", "none") {
		fr.Pattern = p.str(n, path+".pattern")
		if fr.Pattern == "" && !p.silenced(path+".pattern") {
			p.fail(posOf(n), path+".pattern", "is empty; write a regular expression, or remove the line for none")
		}
	}
	if n, ok := f["max_length"]; ok && p.given(n, path+".max_length", "no limit") {
		v := resolve(n)
		i, err := strconv.Atoi(v.Value)
		switch {
		case v.Kind != yaml.ScalarNode || v.ShortTag() != "!!int" || err != nil:
			p.fail(posOf(n), path+".max_length", "must be a whole number of characters such as 64, got "+describe(v))
		case i < 1:
			p.fail(posOf(n), path+".max_length", fmt.Sprintf("%d is not a length; use at least 1, or remove the line for no limit", i))
		default:
			fr.MaxLength = i
		}
	}
}

// allowed decodes a list of allowed values: YAML strings, integers, floats and booleans.
// Entries of other kinds are reported and left out.
func (p *parser) allowed(n *yaml.Node, path string) []any {
	v := resolve(n)
	if v.Kind != yaml.SequenceNode {
		p.fail(posOf(n), path, fmt.Sprintf("must be a list of values, got %s; e.g. allowed: [EUR, USD]", describe(v)))
		return nil
	}
	if len(v.Content) == 0 {
		p.fail(posOf(n), path, "is empty, so no value could pass; list the allowed values, or remove the line for any")
		return nil
	}
	out := make([]any, 0, len(v.Content))
	for i, item := range v.Content {
		ip := fmt.Sprintf("%s[%d]", path, i)
		p.keyPos[ip], p.valPos[ip] = posOf(item), posOf(item)
		iv := resolve(item)
		var val any
		var err error
		if iv.Kind == yaml.ScalarNode {
			switch iv.ShortTag() {
			case "!!str":
				val = iv.Value
			case "!!int":
				var x int64
				err = iv.Decode(&x)
				val = x
			case "!!float":
				var x float64
				err = iv.Decode(&x)
				val = x
			case "!!bool":
				val = strings.EqualFold(iv.Value, "true")
			}
		}
		if val == nil || err != nil {
			p.fail(posOf(item), ip, "must be a string, number or boolean, got "+describe(iv))
			val = iv.Value // keeps indices; silenced
		}
		out = append(out, val)
	}
	return out
}

// onError decodes on_error.
func (p *parser) onError(n *yaml.Node, o *OnError) {
	f := p.mapping(n, "on_error", onErrorFields)
	for _, pc := range []struct {
		name string
		dst  *Policy
	}{{"decode", &o.Decode}, {"schema", &o.Schema}, {"late", &o.Late}, {"scoring", &o.Scoring}, {"duplicate", &o.Duplicate}} {
		if n, ok := f[pc.name]; ok && p.given(n, "on_error."+pc.name, string(OnError{}.PolicyOf(pc.name))) {
			*pc.dst = Policy(p.str(n, "on_error."+pc.name))
		}
	}
}
