package verify

import (
	"encoding/json"
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
	timeFormat                       pipeline.TimeFormat
}

// input is a valid input record's content.
type input struct {
	key       string // the aggregation key: the string, or a number's JSON text
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
	if !utf8.Valid(value) || !json.Valid(value) {
		return in, fmt.Errorf("not UTF-8 JSON")
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(value, &obj); err != nil || obj == nil {
		return in, fmt.Errorf("not a JSON object")
	}
	raw := obj[d.keyField]
	switch {
	case len(raw) == 0:
		return in, fmt.Errorf("field %q missing", d.keyField)
	case raw[0] == '"':
		if err := json.Unmarshal(raw, &in.key); err != nil || in.key == "" {
			return in, fmt.Errorf("field %q: empty key", d.keyField)
		}
	case isNumber(raw):
		in.key = string(raw)
	default:
		return in, fmt.Errorf("field %q: %s is not a string or a number", d.keyField, raw)
	}

	raw = obj[d.amountField]
	if !isNumber(raw) {
		return in, fmt.Errorf("field %q: %s is not a number", d.amountField, raw)
	}
	v, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return in, fmt.Errorf("field %q: %s is not a finite float64", d.amountField, raw)
	}
	in.amount = v

	raw = obj[d.timeField]
	switch d.timeFormat {
	case pipeline.TimeRFC3339:
		var s string
		if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			return in, fmt.Errorf("field %q: %s is not a string", d.timeField, raw)
		}
		t, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return in, fmt.Errorf("field %q: %q is not an RFC 3339 time", d.timeField, s)
		}
		in.eventTime = t.UnixMilli()
	default:
		ms, err := strconv.ParseInt(string(raw), 10, 64)
		if !isNumber(raw) || err != nil {
			return in, fmt.Errorf("field %q: %s is not integer epoch milliseconds", d.timeField, raw)
		}
		in.eventTime = ms
	}
	if in.eventTime < minEventMillis || in.eventTime > maxEventMillis {
		return in, fmt.Errorf("field %q: %d ms is outside years 1970 to 9999", d.timeField, in.eventTime)
	}
	return in, nil
}

// isNumber reports whether raw, a valid JSON value, is a number.
func isNumber(raw []byte) bool {
	return len(raw) > 0 && (raw[0] == '-' || (raw[0] >= '0' && raw[0] <= '9'))
}
