package verify

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/kappa-stream/kappa/pipeline"
)

// decoder applies the processor's input rules (processor/decode.go), reimplemented on
// encoding/json: a value is valid when it is a UTF-8 JSON object whose key field is a
// non-empty string or a number, whose amount field is a finite number, and whose time field
// is integer epoch milliseconds (or an RFC 3339 string) in years 1970 to 9999. A repeated
// member counts as its last occurrence, as in the processor.
type decoder struct {
	keyField, amountField, timeField string
	idField                          string // the dedup event id; "" without dedup
	timeFormat                       pipeline.TimeFormat
	schema                           []pipeline.FieldRule // checked first, in order
}

// errNotObject is the class of the errors of values that are not UTF-8 JSON objects: the
// processor's decode reason; every other error is its schema reason.
type errNotObject struct{ msg string }

func (e *errNotObject) Error() string { return e.msg }

// reasonOf is the dead-letter reason the processor gives a record invalid for err.
func reasonOf(err error) string {
	if _, ok := errors.AsType[*errNotObject](err); ok {
		return "decode"
	}
	return "schema"
}

// input is a valid input record's content.
type input struct {
	key       string // the aggregation key: the string, or a number's JSON text
	id        string // the event id (dedup), in the same form
	amount    float64
	eventTime int64 // epoch milliseconds
}

const (
	minEventMillis = 0
	maxEventMillis = 253402300799999 // 9999-12-31T23:59:59.999Z
)

// decode returns the record's content, or why it is invalid.
func (d *decoder) decode(value []byte) (input, error) {
	var in input
	obj, err := object(value)
	if err != nil {
		return in, err
	}
	if err := checkSchema(d.schema, obj); err != nil {
		return in, err
	}
	if in.key, err = textOf(obj, d.keyField); err != nil {
		return in, err
	}
	if d.idField != "" {
		if in.id, err = textOf(obj, d.idField); err != nil {
			return in, err
		}
	}
	if in.amount, err = number(obj, d.amountField); err != nil {
		return in, err
	}
	in.eventTime, err = d.eventTime(obj)
	return in, err
}

// object parses value as a UTF-8 JSON object.
func object(value []byte) (map[string]json.RawMessage, error) {
	if !utf8.Valid(value) || !json.Valid(value) {
		return nil, &errNotObject{"not UTF-8 JSON"}
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(value, &obj); err != nil || obj == nil {
		return nil, &errNotObject{"not a JSON object"}
	}
	return obj, nil
}

// textOf returns a key or event-id field: a non-empty string, or a number's JSON text.
func textOf(obj map[string]json.RawMessage, field string) (string, error) {
	raw := obj[field]
	switch {
	case len(raw) == 0:
		return "", fmt.Errorf("field %q missing", field)
	case raw[0] == '"':
		var key string
		if err := json.Unmarshal(raw, &key); err != nil || key == "" {
			return "", fmt.Errorf("field %q: empty", field)
		}
		return key, nil
	case isNumber(raw):
		return string(raw), nil
	default:
		return "", fmt.Errorf("field %q: %s is not a string or a number", field, raw)
	}
}

// number returns field as a finite float64.
func number(obj map[string]json.RawMessage, field string) (float64, error) {
	raw := obj[field]
	if !isNumber(raw) {
		return 0, fmt.Errorf("field %q: %s is not a number", field, raw)
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("field %q: %s is not a finite float64", field, raw)
	}
	return v, nil
}

// eventTime returns the time field in epoch milliseconds, in years 1970 to 9999.
func (d *decoder) eventTime(obj map[string]json.RawMessage) (int64, error) {
	raw := obj[d.timeField]
	var ms int64
	switch d.timeFormat {
	case pipeline.TimeRFC3339:
		var s string
		if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			return 0, fmt.Errorf("field %q: %s is not a string", d.timeField, raw)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return 0, fmt.Errorf("field %q: %q is not an RFC 3339 time", d.timeField, s)
		}
		ms = t.UnixMilli()
	default:
		var err error
		ms, err = strconv.ParseInt(string(raw), 10, 64)
		if !isNumber(raw) || err != nil {
			return 0, fmt.Errorf("field %q: %s is not integer epoch milliseconds", d.timeField, raw)
		}
	}
	if ms < minEventMillis || ms > maxEventMillis {
		return 0, fmt.Errorf("field %q: %d ms is outside years 1970 to 9999", d.timeField, ms)
	}
	return ms, nil
}

// windowInput is a valid input record's content for a window pipeline.
type windowInput struct {
	key       string
	eventTime int64
	values    []float64 // by aggregation; 0 for count, which takes no field
}

// decodeWindow returns the record's content for the window aggregations aggs, or why it is
// invalid: the key and time fields as for decode, and the field of every aggregation but
// count a finite number.
func (d *decoder) decodeWindow(value []byte, aggs []pipeline.Aggregation) (windowInput, error) {
	var in windowInput
	obj, err := object(value)
	if err != nil {
		return in, err
	}
	if err := checkSchema(d.schema, obj); err != nil {
		return in, err
	}
	if in.key, err = textOf(obj, d.keyField); err != nil {
		return in, err
	}
	if in.eventTime, err = d.eventTime(obj); err != nil {
		return in, err
	}
	in.values = make([]float64, len(aggs))
	for i, a := range aggs {
		if a.Func == pipeline.AggCount {
			continue
		}
		if in.values[i], err = number(obj, a.Field); err != nil {
			return in, err
		}
	}
	return in, nil
}

// isNumber reports whether raw, a valid JSON value, is a number.
func isNumber(raw []byte) bool {
	return len(raw) > 0 && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'))
}
