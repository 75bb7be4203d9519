package score

import (
	"encoding/json"
	"fmt"
	"strconv"
)

// jval is a decoded JSON value with the file name and JSON path it came from, so every
// problem found while reading a model names where it is ("learner.objective.name",
// "trees[3].split_indices[7]"). A member that is not there is absent{}, not nil (JSON null).
type jval struct {
	name string // the file
	path string
	v    any
}

type absent struct{}

// at returns the member key of an object (absent when j is not an object or lacks it).
func (j jval) at(key string) jval {
	path := key
	if j.path != "" {
		path = j.path + "." + key
	}
	m, ok := j.v.(map[string]any)
	if !ok {
		return jval{name: j.name, path: path, v: absent{}}
	}
	v, ok := m[key]
	if !ok {
		return jval{name: j.name, path: path, v: absent{}}
	}
	return jval{name: j.name, path: path, v: v}
}

// present reports whether the member exists.
func (j jval) present() bool { _, ok := j.v.(absent); return !ok }

// errorf reports a problem at j's path.
func (j jval) errorf(format string, args ...any) error {
	return invalid(j.name, j.path, fmt.Sprintf(format, args...))
}

// wrongType reports that j is not of the wanted type.
func (j jval) wrongType(want string) error {
	if !j.present() {
		return j.errorf("missing: want %s", want)
	}
	return j.errorf("want %s, got %s", want, describe(j.v))
}

func describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "the number " + v.String()
	case string:
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return "the string " + strconv.Quote(v)
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func (j jval) object() error {
	if _, ok := j.v.(map[string]any); !ok {
		return j.wrongType("an object")
	}
	return nil
}

func (j jval) array() ([]jval, error) {
	a, ok := j.v.([]any)
	if !ok {
		return nil, j.wrongType("an array")
	}
	out := make([]jval, len(a))
	for i, v := range a {
		out[i] = jval{name: j.name, path: fmt.Sprintf("%s[%d]", j.path, i), v: v}
	}
	return out, nil
}

func (j jval) str() (string, error) {
	s, ok := j.v.(string)
	if !ok {
		return "", j.wrongType("a string")
	}
	return s, nil
}

// float parses a JSON number with the given precision (32 rounds the decimal text to the
// nearest float32 once, as C++'s strtof does, never through float64).
func (j jval) float(bits int) (float64, error) {
	n, ok := j.v.(json.Number)
	if !ok {
		return 0, j.wrongType("a number")
	}
	f, err := strconv.ParseFloat(n.String(), bits)
	if err != nil {
		return 0, j.errorf("number %s out of range", n)
	}
	return f, nil
}

// int parses a JSON integer in [lo, hi].
func (j jval) int(lo, hi int64) (int64, error) {
	n, ok := j.v.(json.Number)
	if !ok {
		return 0, j.wrongType("an integer")
	}
	i, err := strconv.ParseInt(n.String(), 10, 64)
	if err != nil || i < lo || i > hi {
		return 0, j.errorf("want an integer in [%d, %d], got %s", lo, hi, n)
	}
	return i, nil
}

// strInt parses an integer written as a JSON string, as XGBoost writes its parameters
// ("num_feature": "5"), in [lo, hi].
func (j jval) strInt(lo, hi int64) (int64, error) {
	s, ok := j.v.(string)
	if !ok {
		return 0, j.wrongType("an integer in a string")
	}
	i, err := strconv.ParseInt(s, 10, 64)
	if err != nil || i < lo || i > hi {
		return 0, j.errorf("want an integer in [%d, %d], got %q", lo, hi, s)
	}
	return i, nil
}

// floats reads an array of n numbers (n < 0: any length).
func (j jval) floats(n, bits int) ([]float64, error) {
	a, err := j.array()
	if err != nil {
		return nil, err
	}
	if n >= 0 && len(a) != n {
		return nil, j.errorf("want %d values, got %d", n, len(a))
	}
	out := make([]float64, len(a))
	for i, e := range a {
		if out[i], err = e.float(bits); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// ints reads an array of n integers in [lo, hi].
func (j jval) ints(n int, lo, hi int64) ([]int64, error) {
	a, err := j.array()
	if err != nil {
		return nil, err
	}
	if len(a) != n {
		return nil, j.errorf("want %d values, got %d", n, len(a))
	}
	out := make([]int64, len(a))
	for i, e := range a {
		if out[i], err = e.int(lo, hi); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// strings reads an array of strings.
func (j jval) strings() ([]string, error) {
	a, err := j.array()
	if err != nil {
		return nil, err
	}
	out := make([]string, len(a))
	for i, e := range a {
		if out[i], err = e.str(); err != nil {
			return nil, err
		}
	}
	return out, nil
}
