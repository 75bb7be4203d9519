package processor

import (
	"bytes"
	"math"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/kappa-stream/kappa/pipeline"
)

// rule is a compiled pipeline.FieldRule. Checking a record that keeps it allocates
// nothing (a string with escapes aside): raw JSON is compared in place.
type rule struct {
	name     string
	typ      pipeline.FieldType
	required bool
	min, max float64 // -Inf and +Inf when unbounded
	hasMin   bool
	hasMax   bool
	strs     []string  // allowed strings
	nums     []float64 // allowed numbers
	bools    [2]bool   // allowed false, true
	allowed  bool      // the rule lists allowed values
	re       *regexp.Regexp
	maxLen   int
}

// compileRules compiles the schema of a validated definition.
func compileRules(rs []pipeline.FieldRule) []rule {
	out := make([]rule, len(rs))
	for i, fr := range rs {
		ru := rule{name: fr.Field, typ: fr.Type, required: fr.Required, maxLen: fr.MaxLength, allowed: len(fr.Allowed) > 0}
		if fr.Min != nil {
			ru.min, ru.hasMin = *fr.Min, true
		}
		if fr.Max != nil {
			ru.max, ru.hasMax = *fr.Max, true
		}
		if fr.Pattern != "" {
			ru.re = regexp.MustCompile(fr.Pattern) // Validate compiled it
		}
		for _, v := range fr.Allowed {
			switch x := v.(type) {
			case string:
				ru.strs = append(ru.strs, x)
			case bool:
				if x {
					ru.bools[1] = true
				} else {
					ru.bools[0] = true
				}
			case int:
				ru.nums = append(ru.nums, float64(x))
			case int64:
				ru.nums = append(ru.nums, float64(x))
			case float64:
				ru.nums = append(ru.nums, x)
			}
		}
		out[i] = ru
	}
	return out
}

// check returns the schema error of a field whose raw JSON value is raw (nil: absent), or
// nil. raw is valid JSON.
func (ru *rule) check(raw []byte) error {
	if raw == nil || string(raw) == "null" {
		if !ru.required {
			return nil
		}
		if raw == nil {
			return schemaErr(ru.name, RuleMissing, "missing; the field is required")
		}
		return schemaErr(ru.name, RuleMissing, "null; the field is required")
	}
	switch ru.typ {
	case pipeline.TypeString:
		if raw[0] != '"' {
			return ru.wrongType(raw)
		}
		s := raw[1 : len(raw)-1]
		if bytes.IndexByte(s, '\\') >= 0 {
			u, err := jsonString(raw)
			if err != nil {
				return schemaErr(ru.name, RuleFormat, "%v", err)
			}
			s = []byte(u)
		}
		return ru.checkString(s)
	case pipeline.TypeInt:
		if !isJSONInt(raw) {
			return ru.wrongType(raw)
		}
		v, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return schemaErr(ru.name, RuleRange, "%s is out of range for a 64-bit integer", shortRaw(raw))
		}
		return ru.checkNumber(float64(v), raw)
	case pipeline.TypeFloat:
		if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
			return ru.wrongType(raw)
		}
		v, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || math.IsInf(v, 0) {
			return schemaErr(ru.name, RuleRange, "%s is not a finite number", shortRaw(raw))
		}
		return ru.checkNumber(v, raw)
	case pipeline.TypeBool:
		if raw[0] != 't' && raw[0] != 'f' {
			return ru.wrongType(raw)
		}
		if ru.allowed && !ru.bools[b2i(raw[0] == 't')] {
			return schemaErr(ru.name, RuleAllowed, "%s is not an allowed value", raw)
		}
		return nil
	case pipeline.TypeTimestamp:
		return ru.checkTimestamp(raw)
	}
	return nil
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (ru *rule) wrongType(raw []byte) error {
	return schemaErr(ru.name, RuleType, "got %s, want %s", jsonKind(raw), typeWords(ru.typ))
}

func typeWords(t pipeline.FieldType) string {
	switch t {
	case pipeline.TypeString:
		return "a string"
	case pipeline.TypeInt:
		return "an integer"
	case pipeline.TypeFloat:
		return "a number"
	case pipeline.TypeBool:
		return "true or false"
	}
	return "an RFC 3339 time string or integer epoch milliseconds"
}

func (ru *rule) checkString(s []byte) error {
	if ru.maxLen > 0 && len(s) > ru.maxLen && utf8.RuneCount(s) > ru.maxLen {
		return schemaErr(ru.name, RuleMaxLength, "%d characters is longer than max_length %d", utf8.RuneCount(s), ru.maxLen)
	}
	if ru.re != nil && !ru.re.Match(s) {
		return schemaErr(ru.name, RulePattern, "%s does not match the pattern %s", shortQuote(s), ru.re)
	}
	if ru.allowed {
		for _, a := range ru.strs {
			if string(s) == a {
				return nil
			}
		}
		return schemaErr(ru.name, RuleAllowed, "%s is not an allowed value", shortQuote(s))
	}
	return nil
}

func (ru *rule) checkNumber(v float64, raw []byte) error {
	switch {
	case ru.hasMin && v < ru.min:
		return schemaErr(ru.name, RuleMin, "%s is below min %s", shortRaw(raw), strconv.FormatFloat(ru.min, 'g', -1, 64))
	case ru.hasMax && v > ru.max:
		return schemaErr(ru.name, RuleMax, "%s is above max %s", shortRaw(raw), strconv.FormatFloat(ru.max, 'g', -1, 64))
	}
	if ru.allowed {
		for _, a := range ru.nums {
			if v == a {
				return nil
			}
		}
		return schemaErr(ru.name, RuleAllowed, "%s is not an allowed value", shortRaw(raw))
	}
	return nil
}

func (ru *rule) checkTimestamp(raw []byte) error {
	var ms int64
	switch {
	case raw[0] == '"':
		s := raw[1 : len(raw)-1]
		if bytes.IndexByte(s, '\\') >= 0 {
			u, err := jsonString(raw)
			if err != nil {
				return schemaErr(ru.name, RuleFormat, "%v", err)
			}
			s = []byte(u)
		}
		t, err := time.Parse(time.RFC3339Nano, string(s)) // does not escape: a time string converts on the stack
		if err != nil {
			return schemaErr(ru.name, RuleFormat, "%s is not an RFC 3339 time", shortQuote(s))
		}
		ms = t.UnixMilli()
	case isJSONInt(raw):
		v, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return schemaErr(ru.name, RuleRange, "%s is out of range for epoch milliseconds", shortRaw(raw))
		}
		ms = v
	default:
		return ru.wrongType(raw)
	}
	if ms < minEventMillis || ms > maxEventMillis {
		return schemaErr(ru.name, RuleRange, "%d ms is outside years 1970 to 9999", ms)
	}
	return nil
}

// isJSONInt reports whether raw, a valid JSON value, is a number without fraction or
// exponent.
func isJSONInt(raw []byte) bool {
	i := 0
	if raw[0] == '-' {
		i++
	}
	if i == len(raw) {
		return false
	}
	for ; i < len(raw); i++ {
		if raw[i] < '0' || raw[i] > '9' {
			return false
		}
	}
	return true
}

// shortRaw cuts a raw JSON number or literal for a message.
func shortRaw(raw []byte) string {
	const maxLen = 40
	if len(raw) <= maxLen {
		return string(raw)
	}
	return string(raw[:maxLen]) + "..."
}

// shortQuote quotes a string value for a message, cut to a readable length.
func shortQuote(s []byte) string {
	const maxRunes = 40
	if utf8.RuneCount(s) <= maxRunes {
		return strconv.Quote(string(s))
	}
	r := []rune(string(s))
	return strconv.Quote(string(r[:maxRunes])) + "..."
}
