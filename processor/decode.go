package processor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/kappa-stream/kappa/model"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/windows"
)

// Reason classes of records that cannot be processed. They name the dead-letter reason
// header and the label of the dead-letter metric.
const (
	ReasonDecode = "decode" // the value is not a JSON object
	ReasonSchema = "schema" // a field is missing or has the wrong type or an invalid value
	ReasonLate   = "late"   // every window of the record had closed (window pipelines)
	// ReasonDuplicate: the record's event id was already seen within the dedup horizon
	// (input.dedup).
	ReasonDuplicate = "duplicate"
	// ReasonScoring: the model predicted a value that is not a finite number (score
	// pipelines).
	ReasonScoring = "scoring"
)

// The rules a schema error breaks: the rule label of kappa_processor_schema_failures_total
// and the dead-letter header kappa.dlq.rule.
const (
	RuleMissing   = "missing"    // absent, null or empty where a value is required
	RuleType      = "type"       // the wrong JSON type
	RuleFormat    = "format"     // the right type, but not readable (a time, an escape)
	RuleRange     = "range"      // out of the range of the type (float64, int64, years 1970-9999)
	RuleMin       = "min"        // below the rule's min
	RuleMax       = "max"        // above the rule's max
	RuleAllowed   = "allowed"    // not one of the rule's allowed values
	RulePattern   = "pattern"    // does not match the rule's pattern
	RuleMaxLength = "max_length" // longer than the rule's max_length
)

// DecodeError says why a record could not be decoded: its class, the field and what was
// wrong.
type DecodeError struct {
	Reason string // ReasonDecode, ReasonSchema, ReasonScoring or ReasonDuplicate
	Field  string // empty for ReasonDecode; for ReasonSchema, the field whose rule broke
	// Rule is, for ReasonSchema, the kind of rule broken (RuleMissing, RuleType, ...).
	Rule string
	// Msg says what was wrong, naming the rule broken: "1e9 is above max 100000".
	Msg string
}

func (e *DecodeError) Error() string {
	if e.Field == "" {
		return fmt.Sprintf("%s: %s", e.Reason, e.Msg)
	}
	return fmt.Sprintf("%s: field %q: %s", e.Reason, e.Field, e.Msg)
}

// RecordError stops the processor at a record that it cannot process and whose reason
// class has the fail policy (pipeline.OnError). Run returns it after aborting the open
// transaction, so the group's committed offset stays before the record: a restart resumes
// at it.
type RecordError struct {
	Position model.Position // the record's topic, partition and offset
	Group    string         // the pipeline's consumer group
	Err      *DecodeError   // why it could not be processed
}

func (e *RecordError) Error() string {
	return fmt.Sprintf("processor: stopped at input record %s: %v; on_error.%s is fail, so its transaction was aborted "+
		"and group %q resumes at this record on restart: to go on, set on_error.%s to dlq or skip, or move the group past it "+
		"(kafka-consumer-groups --group %s --topic %s:%d --reset-offsets --to-offset %d --execute), then restart",
		e.Position, e.Err, e.Err.Reason, e.Group, e.Err.Reason, e.Group, e.Position.Topic, e.Position.Partition, e.Position.Offset+1)
}

// Unwrap returns the DecodeError.
func (e *RecordError) Unwrap() error { return e.Err }

// event is a decoded input record: the fields the pipeline uses.
type event struct {
	key       []byte // the aggregation key, as the output's Kafka key
	eventTime int64  // epoch milliseconds
	id        []byte // the event id (input.dedup); nil without dedup
	// values are the operator's fields, in the decoder's order. The slice is the decoder's
	// and is reused by its next decode.
	values []windows.Value
}

// field is one field an operator reads: a number, or (text) also a string. An optional
// field that is missing or not a number is NaN (a missing model feature), not an error.
type field struct {
	name     string
	text     bool
	optional bool
}

// decoder extracts a pipeline's fields from JSON values. It validates the whole value and
// then scans only the top-level object, so a record costs one pass plus the fields used.
type decoder struct {
	keyField   string
	timeField  string
	idField    string // input.dedup's field; "" without dedup
	timeFormat pipeline.TimeFormat
	fields     []field
	rules      []rule // the schema, in order

	raws     [][]byte // scratch: the raw values of fields
	ruleRaws [][]byte // scratch: the raw values of the rules' fields
	values   []windows.Value
}

func newDecoder(def *pipeline.Definition, fields ...field) *decoder {
	return &decoder{
		keyField:   def.Input.KeyField,
		idField:    dedupField(def),
		timeField:  def.Input.EventTime.Field,
		timeFormat: def.Input.EventTime.Format,
		fields:     fields,
		rules:      compileRules(def.Input.Schema),
		ruleRaws:   make([][]byte, len(def.Input.Schema)),
		raws:       make([][]byte, len(fields)),
		values:     make([]windows.Value, len(fields)),
	}
}

// Bounds of event times we accept: years 1970 to 9999. Anything else is a schema error, not
// a window far in the future that would never close.
const (
	minEventMillis = 0
	maxEventMillis = 253402300799999
)

func (d *decoder) decode(value []byte) (event, error) {
	var ev event
	if len(value) == 0 {
		return ev, &DecodeError{Reason: ReasonDecode, Msg: "empty value; want a JSON object"}
	}
	if !utf8.Valid(value) {
		return ev, &DecodeError{Reason: ReasonDecode, Msg: "value is not valid UTF-8"}
	}
	if !json.Valid(value) {
		return ev, &DecodeError{Reason: ReasonDecode, Msg: "value is not valid JSON"}
	}
	var rawKey, rawTime, rawID []byte
	clear(d.raws)
	clear(d.ruleRaws)
	err := scanObject(value, func(name, raw []byte) {
		for i := range d.rules {
			if string(name) == d.rules[i].name {
				d.ruleRaws[i] = raw
			}
		}
		switch string(name) {
		case d.keyField:
			rawKey = raw
		case d.timeField:
			rawTime = raw
		}
		if d.idField != "" && string(name) == d.idField {
			rawID = raw
		}
		for i, f := range d.fields {
			if string(name) == f.name {
				d.raws[i] = raw
			}
		}
	})
	if err != nil {
		return ev, err
	}
	for i := range d.rules {
		if err := d.rules[i].check(d.ruleRaws[i]); err != nil {
			return ev, err
		}
	}

	if ev.key, err = keyBytes(d.keyField, "key", rawKey); err != nil {
		return ev, err
	}
	if d.idField != "" {
		if ev.id, err = keyBytes(d.idField, "event-id", rawID); err != nil {
			return ev, err
		}
	}
	if ev.eventTime, err = d.eventMillis(rawTime); err != nil {
		return ev, err
	}
	for i, f := range d.fields {
		raw := d.raws[i]
		if f.optional {
			d.values[i] = windows.Value{Num: math.NaN()}
			if v, err := number(f.name, raw); err == nil {
				d.values[i].Num = v
			}
			continue
		}
		if f.text && raw != nil && raw[0] == '"' {
			s, err := jsonString(raw)
			if err != nil {
				return ev, schemaErr(f.name, RuleFormat, "%v", err)
			}
			d.values[i] = windows.Value{Text: []byte(s), IsText: true}
			continue
		}
		v, err := number(f.name, raw)
		if err != nil {
			if f.text && raw != nil {
				return ev, schemaErr(f.name, RuleType, "got %s, want a string or a number", jsonKind(raw))
			}
			return ev, err
		}
		d.values[i] = windows.Value{Num: v}
	}
	ev.values = d.values
	return ev, nil
}

func schemaErr(field, rule, format string, args ...any) error {
	return &DecodeError{Reason: ReasonSchema, Field: field, Rule: rule, Msg: fmt.Sprintf(format, args...)}
}

// dedupField is the event-id field of def's input.dedup, or "".
func dedupField(def *pipeline.Definition) string {
	if def.Input.Dedup == nil {
		return ""
	}
	return def.Input.Dedup.Field
}

// keyBytes turns the key (or event-id) field into bytes: a non-empty string, or a number
// kept as its JSON text. what names the field's role in messages.
func keyBytes(field, what string, raw []byte) ([]byte, error) {
	switch {
	case raw == nil:
		return nil, schemaErr(field, RuleMissing, "missing; the %s field is required", what)
	case raw[0] == '"':
		s, err := jsonString(raw)
		if err != nil {
			return nil, schemaErr(field, RuleFormat, "%v", err)
		}
		if s == "" {
			return nil, schemaErr(field, RuleMissing, "empty %s", what)
		}
		return []byte(s), nil
	case raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'):
		return bytes.Clone(raw), nil
	case string(raw) == "null":
		return nil, schemaErr(field, RuleMissing, "null %s", what)
	default:
		return nil, schemaErr(field, RuleType, "got %s, want a string or a number", jsonKind(raw))
	}
}

func (d *decoder) eventMillis(raw []byte) (int64, error) {
	field := d.timeField
	if raw == nil {
		return 0, schemaErr(field, RuleMissing, "missing; the event-time field is required")
	}
	var ms int64
	switch d.timeFormat {
	case pipeline.TimeEpochMillis:
		if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
			return 0, schemaErr(field, RuleType, "got %s, want epoch milliseconds (an integer)", jsonKind(raw))
		}
		v, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return 0, schemaErr(field, RuleFormat, "%s is not an integer number of epoch milliseconds", shortRaw(raw))
		}
		ms = v
	case pipeline.TimeRFC3339:
		if raw[0] != '"' {
			return 0, schemaErr(field, RuleType, "got %s, want an RFC 3339 time string", jsonKind(raw))
		}
		s, err := jsonString(raw)
		if err != nil {
			return 0, schemaErr(field, RuleFormat, "%v", err)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, schemaErr(field, RuleFormat, "%s is not an RFC 3339 time", shortQuote([]byte(s)))
		}
		ms = t.UnixMilli()
	default:
		return 0, schemaErr(field, RuleFormat, "unsupported time format %q", d.timeFormat)
	}
	if ms < minEventMillis || ms > maxEventMillis {
		return 0, schemaErr(field, RuleRange, "event time %d ms is outside years 1970 to 9999", ms)
	}
	return ms, nil
}

func number(field string, raw []byte) (float64, error) {
	if raw == nil {
		return 0, schemaErr(field, RuleMissing, "missing")
	}
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return 0, schemaErr(field, RuleType, "got %s, want a number", jsonKind(raw))
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, schemaErr(field, RuleRange, "%s is out of range for a float64", shortRaw(raw))
	}
	return v, nil
}

func jsonString(raw []byte) (string, error) {
	if bytes.IndexByte(raw, '\\') < 0 {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", err
	}
	return s, nil
}

func jsonKind(raw []byte) string {
	switch raw[0] {
	case '"':
		return "a string"
	case '{':
		return "an object"
	case '[':
		return "an array"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}

var errNotObject = &DecodeError{Reason: ReasonDecode, Msg: "value is not a JSON object"}

// scanObject calls fn with the raw name (without quotes, unescaped only when it holds no
// escapes) and raw value of each top-level member of a JSON object. value must be valid JSON.
func scanObject(value []byte, fn func(name, raw []byte)) error {
	i := skipSpace(value, 0)
	if i >= len(value) || value[i] != '{' {
		return errNotObject
	}
	i = skipSpace(value, i+1)
	if i < len(value) && value[i] == '}' {
		return nil
	}
	for i < len(value) {
		// name
		end := skipValue(value, i)
		name := value[i+1 : end-1]
		if bytes.IndexByte(name, '\\') >= 0 {
			s, err := jsonString(value[i:end])
			if err != nil {
				return errNotObject
			}
			name = []byte(s)
		}
		i = skipSpace(value, end)
		i = skipSpace(value, i+1) // ':'
		end = skipValue(value, i)
		fn(name, value[i:end])
		i = skipSpace(value, end)
		if i >= len(value) || value[i] == '}' {
			return nil
		}
		i = skipSpace(value, i+1) // ','
	}
	return errNotObject
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\n' || b[i] == '\r') {
		i++
	}
	return i
}

// skipValue returns the index just past the JSON value starting at b[i]; b is valid JSON.
func skipValue(b []byte, i int) int {
	switch b[i] {
	case '"':
		for j := i + 1; j < len(b); j++ {
			switch b[j] {
			case '\\':
				j++
			case '"':
				return j + 1
			}
		}
		return len(b)
	case '{', '[':
		depth := 0
		for j := i; j < len(b); j++ {
			switch b[j] {
			case '"':
				j = skipValue(b, j) - 1
			case '{', '[':
				depth++
			case '}', ']':
				depth--
				if depth == 0 {
					return j + 1
				}
			}
		}
		return len(b)
	default:
		j := i
		for j < len(b) && b[j] != ',' && b[j] != '}' && b[j] != ']' && b[j] != ' ' && b[j] != '\t' && b[j] != '\n' && b[j] != '\r' {
			j++
		}
		return j
	}
}

// errorsAsDecode reports whether err is a *DecodeError and returns it.
func errorsAsDecode(err error) (*DecodeError, bool) {
	var de *DecodeError
	ok := errors.As(err, &de)
	return de, ok
}
