package verify

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/kappa-stream/kappa/pipeline"
)

// intPattern is a JSON number without fraction or exponent.
var intPattern = regexp.MustCompile(`^-?[0-9]+$`)

// checkSchema applies the pipeline's schema rules (pipeline.FieldRule) to a JSON object,
// reimplemented on encoding/json rather than taken from the processor: the first rule
// broken, in order, is the error. A null field counts as missing.
func checkSchema(rules []pipeline.FieldRule, obj map[string]json.RawMessage) error {
	for _, r := range rules {
		raw := obj[r.Field]
		if len(raw) == 0 || string(raw) == "null" {
			if r.Required {
				return fmt.Errorf("field %q: required, missing or null", r.Field)
			}
			continue
		}
		if err := checkRule(r, raw); err != nil {
			return fmt.Errorf("field %q: %w", r.Field, err)
		}
	}
	return nil
}

func checkRule(r pipeline.FieldRule, raw json.RawMessage) error {
	var num float64
	switch r.Type {
	case pipeline.TypeString:
		var s string
		if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
			return fmt.Errorf("%.40s is not a string", raw)
		}
		if r.MaxLength > 0 && utf8.RuneCountInString(s) > r.MaxLength {
			return fmt.Errorf("longer than %d characters", r.MaxLength)
		}
		if r.Pattern != "" && !compiled(r.Pattern).MatchString(s) {
			return fmt.Errorf("%.40q does not match %s", s, r.Pattern)
		}
		if len(r.Allowed) > 0 {
			for _, a := range r.Allowed {
				if a == s {
					return nil
				}
			}
			return fmt.Errorf("%.40q is not allowed", s)
		}
		return nil
	case pipeline.TypeBool:
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			return fmt.Errorf("%.40s is not a boolean", raw)
		}
		if len(r.Allowed) > 0 {
			for _, a := range r.Allowed {
				if a == b {
					return nil
				}
			}
			return fmt.Errorf("%v is not allowed", b)
		}
		return nil
	case pipeline.TypeTimestamp:
		var ms int64
		var s string
		switch {
		case json.Unmarshal(raw, &s) == nil:
			t, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return fmt.Errorf("%.40q is not an RFC 3339 time", s)
			}
			ms = t.UnixMilli()
		case intPattern.Match(raw):
			v, err := strconv.ParseInt(string(raw), 10, 64)
			if err != nil {
				return fmt.Errorf("%.40s is beyond int64", raw)
			}
			ms = v
		default:
			return fmt.Errorf("%.40s is not a time", raw)
		}
		if ms < minEventMillis || ms > maxEventMillis {
			return fmt.Errorf("%d ms is outside years 1970 to 9999", ms)
		}
		return nil
	case pipeline.TypeInt:
		if !intPattern.Match(raw) {
			return fmt.Errorf("%.40s is not an integer", raw)
		}
		v, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return fmt.Errorf("%.40s is beyond int64", raw)
		}
		num = float64(v)
	case pipeline.TypeFloat:
		if !isNumber(raw) {
			return fmt.Errorf("%.40s is not a number", raw)
		}
		v, err := strconv.ParseFloat(string(raw), 64)
		if err != nil || math.IsInf(v, 0) {
			return fmt.Errorf("%.40s is not a finite number", raw)
		}
		num = v
	}
	if r.Min != nil && num < *r.Min || r.Max != nil && num > *r.Max {
		return fmt.Errorf("%v is out of [%s, %s]", num, bound(r.Min, "-inf"), bound(r.Max, "+inf"))
	}
	if len(r.Allowed) > 0 {
		for _, a := range r.Allowed {
			var f float64
			switch x := a.(type) {
			case int:
				f = float64(x)
			case int64:
				f = float64(x)
			case float64:
				f = x
			default:
				continue
			}
			if f == num {
				return nil
			}
		}
		return fmt.Errorf("%v is not allowed", num)
	}
	return nil
}

// patterns caches the compiled patterns of the rules: Config.Validate has checked that
// they compile, and a record is checked against each many times.
var patterns sync.Map // string -> *regexp.Regexp

func compiled(pattern string) *regexp.Regexp {
	if re, ok := patterns.Load(pattern); ok {
		return re.(*regexp.Regexp)
	}
	re := regexp.MustCompile(pattern)
	patterns.Store(pattern, re)
	return re
}

// bound prints a rule's min or max, or none when it has none.
func bound(b *float64, none string) string {
	if b == nil {
		return none
	}
	return strconv.FormatFloat(*b, 'g', -1, 64)
}
