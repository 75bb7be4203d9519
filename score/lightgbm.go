package score

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// lgbZeroThreshold is LightGBM's kZeroThreshold, the float literal 1e-35f widened to
// double: values within it of zero are zero (and "missing" for missing_type Zero).
const lgbZeroThreshold = 1.0000000180025095e-35

// LightGBM's missing_type, bits 2-3 of decision_type.
const (
	lgbMissingNone = 0
	lgbMissingZero = 1
	lgbMissingNaN  = 2
)

// lgbNode is one node of a flattened LightGBM tree; the children of a split are adjacent:
// left, then left+1. LightGBM works in float64 throughout.
type lgbNode struct {
	value   float64 // the threshold; the leaf value for a leaf
	feature int32   // the feature a split tests; -1 for a leaf
	left    int32   // the left child; the right one is left+1
	missing int32   // the default child, for a missing value (per missingType)
	mtype   uint8   // lgbMissingNone, lgbMissingZero or lgbMissingNaN
}

// lgbTransform maps the summed raw score to the output.
type lgbTransform uint8

const (
	lgbIdentity lgbTransform = iota // regression
	lgbSqrt                         // regression with reg_sqrt: sign(x) * x * x
	lgbSigmoid                      // binary: 1 / (1 + exp(-sigmoid * x))
)

type lightgbmModel struct {
	nodes     []lgbNode
	roots     []int32
	transform lgbTransform
	sigmoid   float64
	nfeatures int
	names     []string
	objective string
}

func (m *lightgbmModel) NumFeatures() int       { return m.nfeatures }
func (m *lightgbmModel) FeatureNames() []string { return m.names }
func (m *lightgbmModel) Kind() string           { return "lightgbm" }
func (m *lightgbmModel) Objective() string      { return m.objective }

// leaf walks one tree as LightGBM's Tree::GetLeaf and NumericalDecision do, after the
// conversion its predictor applies to every input (|x| <= kZeroThreshold becomes 0):
// NaN is missing when missing_type is NaN and 0 otherwise; 0 is missing when missing_type
// is Zero; a missing value takes the default child; otherwise x <= threshold goes left.
func (m *lightgbmModel) leaf(i int32, features []float64) float64 {
	nodes := m.nodes
	for {
		n := &nodes[i]
		if n.feature < 0 {
			return n.value
		}
		f := features[n.feature]
		if f >= -lgbZeroThreshold && f <= lgbZeroThreshold {
			f = 0
		} else if f != f { // NaN
			if n.mtype == lgbMissingNaN {
				i = n.missing
				continue
			}
			f = 0
		}
		switch {
		case f == 0 && n.mtype == lgbMissingZero:
			i = n.missing
		case f <= n.value:
			i = n.left
		default:
			i = n.left + 1
		}
	}
}

func (m *lightgbmModel) Predict(features []float64, out []float64) []float64 {
	checkLen("lightgbm", len(features), m.nfeatures)
	var sum float64
	for _, r := range m.roots {
		sum += m.leaf(r, features)
	}
	switch m.transform {
	case lgbSigmoid:
		sum = 1 / (1 + math.Exp(-m.sigmoid*sum))
	case lgbSqrt:
		sum = math.Copysign(sum*sum, sum)
	}
	return append(out, sum)
}

// lgbRegression are the objectives whose output is the raw score (RegressionL2loss and the
// objectives derived from it, which share its ConvertOutput).
var lgbRegression = map[string]bool{
	"regression": true, "regression_l1": true, "huber": true, "fair": true, "quantile": true, "mape": true,
}

// lgbLine is a key=value line of a LightGBM text model.
type lgbLine struct {
	value string
	line  int
}

// lgbReader reads a LightGBM text model line by line, remembering line numbers.
type lgbReader struct {
	name  string
	lines [][]byte
	pos   int // index of the next line
}

func (r *lgbReader) errorf(line int, format string, args ...any) error {
	return invalid(fmt.Sprintf("%s:%d", r.name, line), "", fmt.Sprintf(format, args...))
}

// block reads key=value lines up to a blank line, a "Tree=" line or "end of trees"; a line
// without "=" is a flag with an empty value.
func (r *lgbReader) block() map[string]lgbLine {
	kv := map[string]lgbLine{}
	for r.pos < len(r.lines) {
		line := string(r.lines[r.pos])
		if line == "" || strings.HasPrefix(line, "Tree=") || line == "end of trees" {
			return kv
		}
		r.pos++
		k, v, _ := strings.Cut(line, "=")
		kv[k] = lgbLine{v, r.pos}
	}
	return kv
}

// skipBlank skips empty lines.
func (r *lgbReader) skipBlank() {
	for r.pos < len(r.lines) && len(r.lines[r.pos]) == 0 {
		r.pos++
	}
}

// parseLightGBM reads a model written by LightGBM's Booster.save_model("model.txt").
func parseLightGBM(name string, data []byte) (Model, error) {
	lines := bytes.Split(data, []byte("\n"))
	for i, l := range lines {
		lines[i] = bytes.TrimRight(l, "\r")
	}
	r := &lgbReader{name: name, lines: lines}
	r.skipBlank()
	if r.pos >= len(lines) || string(lines[r.pos]) != "tree" {
		return nil, r.errorf(r.pos+1, `want the line "tree" that starts a LightGBM text model`)
	}
	r.pos++
	header := r.block()
	m := &lightgbmModel{}

	hint := func(key string) (lgbLine, error) {
		l, ok := header[key]
		if !ok {
			return l, r.errorf(r.pos, "header: missing %s", key)
		}
		return l, nil
	}
	hint1 := func(key string) error { // a count that must be 1
		l, err := hint(key)
		if err != nil {
			return err
		}
		if n, err := strconv.Atoi(l.value); err != nil || n != 1 {
			return r.errorf(l.line, "%s=%s: only models with one output (binary, regression) are supported", key, l.value)
		}
		return nil
	}
	if err := hint1("num_class"); err != nil {
		return nil, err
	}
	if err := hint1("num_tree_per_iteration"); err != nil {
		return nil, err
	}
	if l, ok := header["average_output"]; ok {
		return nil, r.errorf(l.line, "average_output (boosting=rf) is not supported")
	}
	l, err := hint("max_feature_idx")
	if err != nil {
		return nil, err
	}
	maxIdx, err := strconv.Atoi(l.value)
	if err != nil || maxIdx < -1 || maxIdx >= math.MaxInt32 {
		return nil, r.errorf(l.line, "max_feature_idx: want an integer >= -1, got %q", l.value)
	}
	m.nfeatures = maxIdx + 1
	if l, ok := header["feature_names"]; ok {
		m.names = strings.Fields(l.value)
		if len(m.names) != m.nfeatures {
			return nil, r.errorf(l.line, "feature_names: %d names for %d features (max_feature_idx=%d)", len(m.names), m.nfeatures, maxIdx)
		}
		if len(m.names) == 0 {
			m.names = nil
		}
	}
	if l, err = hint("objective"); err != nil {
		return nil, err
	}
	if err := m.setObjective(r, l); err != nil {
		return nil, err
	}

	for {
		r.skipBlank()
		if r.pos >= len(lines) {
			return nil, r.errorf(r.pos, `truncated: no "end of trees" line after %d trees`, len(m.roots))
		}
		line := string(lines[r.pos])
		if line == "end of trees" {
			break
		}
		t := len(m.roots)
		if line != "Tree="+strconv.Itoa(t) {
			return nil, r.errorf(r.pos+1, "want Tree=%d, got %q", t, truncate(line))
		}
		r.pos++
		start := r.pos
		kv := r.block()
		m.roots = append(m.roots, int32(len(m.nodes)))
		if m.nodes, err = m.appendTree(r, t, start, kv); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// setObjective reads the objective line: "binary sigmoid:1", "regression", "regression
// reg_sqrt" and so on.
func (m *lightgbmModel) setObjective(r *lgbReader, l lgbLine) error {
	fields := strings.Fields(l.value)
	if len(fields) == 0 {
		return r.errorf(l.line, "objective: empty")
	}
	m.objective = fields[0]
	switch {
	case m.objective == "binary":
		m.transform, m.sigmoid = lgbSigmoid, 1
		for _, f := range fields[1:] {
			if v, ok := strings.CutPrefix(f, "sigmoid:"); ok {
				s, err := strconv.ParseFloat(v, 64)
				if err != nil || !(s > 0) || math.IsInf(s, 0) {
					return r.errorf(l.line, "objective: want sigmoid:<a positive number>, got %q", f)
				}
				m.sigmoid = s
			}
		}
	case lgbRegression[m.objective]:
		m.transform = lgbIdentity
		for _, f := range fields[1:] {
			if f == "sqrt" || f == "reg_sqrt" {
				m.transform = lgbSqrt
			}
		}
	default:
		return r.errorf(l.line, "unsupported objective %q (supported: binary, regression, regression_l1, huber, fair, quantile, mape)", m.objective)
	}
	return nil
}

// appendTree validates tree t (its key=value lines kv, starting at line start) and appends
// it to m.nodes in breadth-first order with adjacent children, as appendXGBTree does.
func (m *lightgbmModel) appendTree(r *lgbReader, t, start int, kv map[string]lgbLine) ([]lgbNode, error) {
	nodes := m.nodes
	errorf := func(line int, format string, args ...any) error {
		return r.errorf(line, "Tree=%d: %s", t, fmt.Sprintf(format, args...))
	}
	get := func(key string) (lgbLine, error) {
		l, ok := kv[key]
		if !ok {
			return l, errorf(start-1, "missing %s", key)
		}
		return l, nil
	}
	l, err := get("num_leaves")
	if err != nil {
		return nil, err
	}
	nleaves, err := strconv.Atoi(l.value)
	if err != nil || nleaves < 1 || nleaves >= math.MaxInt32/2 {
		return nil, errorf(l.line, "num_leaves: want a positive integer, got %q", truncate(l.value))
	}
	if l, ok := kv["is_linear"]; ok && l.value != "0" {
		return nil, errorf(l.line, "linear trees (is_linear=%s) are not supported", truncate(l.value))
	}
	floats := func(key string, n int) ([]float64, int, error) {
		l, err := get(key)
		if err != nil {
			return nil, 0, err
		}
		fs := strings.Fields(l.value)
		if len(fs) != n {
			return nil, 0, errorf(l.line, "%s: want %d values, got %d", key, n, len(fs))
		}
		out := make([]float64, n)
		for i, f := range fs {
			if out[i], err = strconv.ParseFloat(f, 64); err != nil {
				return nil, 0, errorf(l.line, "%s: value %d: want a number, got %q", key, i, truncate(f))
			}
		}
		return out, l.line, nil
	}
	ints := func(key string, n, lo, hi int) ([]int, int, error) {
		l, err := get(key)
		if err != nil {
			return nil, 0, err
		}
		fs := strings.Fields(l.value)
		if len(fs) != n {
			return nil, 0, errorf(l.line, "%s: want %d values, got %d", key, n, len(fs))
		}
		out := make([]int, n)
		for i, f := range fs {
			v, err := strconv.Atoi(f)
			if err != nil || v < lo || v > hi {
				return nil, 0, errorf(l.line, "%s: value %d: want an integer in [%d, %d], got %q", key, i, lo, hi, truncate(f))
			}
			out[i] = v
		}
		return out, l.line, nil
	}

	leaves, _, err := floats("leaf_value", nleaves)
	if err != nil {
		return nil, err
	}
	if nleaves == 1 {
		return append(nodes, lgbNode{value: leaves[0], feature: -1}), nil
	}
	ninternal := nleaves - 1
	feature, _, err := ints("split_feature", ninternal, 0, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	threshold, thrLine, err := floats("threshold", ninternal)
	if err != nil {
		return nil, err
	}
	dtype, dLine, err := ints("decision_type", ninternal, 0, 255)
	if err != nil {
		return nil, err
	}
	left, lLine, err := ints("left_child", ninternal, -nleaves, ninternal-1)
	if err != nil {
		return nil, err
	}
	right, rLine, err := ints("right_child", ninternal, -nleaves, ninternal-1)
	if err != nil {
		return nil, err
	}

	// A child is an internal node (>= 0) or ~leaf (< 0). Nodes are pushed as (child, pos).
	type item struct{ child, pos int }
	seen, seenLeaf := make([]bool, ninternal), make([]bool, nleaves)
	queue := []item{{0, len(nodes)}}
	nodes = append(nodes, lgbNode{})
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		if it.child < 0 {
			if seenLeaf[^it.child] {
				return nil, errorf(lLine, "leaf %d is reached twice: left_child and right_child do not form a tree", ^it.child)
			}
			seenLeaf[^it.child] = true
			nodes[it.pos] = lgbNode{value: leaves[^it.child], feature: -1}
			continue
		}
		o := it.child
		if seen[o] {
			return nil, errorf(lLine, "node %d is reached twice: left_child and right_child do not form a tree", o)
		}
		seen[o] = true
		dt := dtype[o]
		switch {
		case dt&1 != 0:
			return nil, errorf(dLine, "node %d: categorical split (decision_type %d) is not supported", o, dt)
		case (dt>>2)&3 == 3:
			return nil, errorf(dLine, "node %d: invalid missing type in decision_type %d", o, dt)
		case feature[o] >= m.nfeatures:
			return nil, errorf(start, "node %d splits on feature %d, but the model has %d features (max_feature_idx=%d)", o, feature[o], m.nfeatures, m.nfeatures-1)
		case math.IsNaN(threshold[o]):
			return nil, errorf(thrLine, "node %d: threshold is NaN", o)
		}
		c := len(nodes)
		if c+2 > math.MaxInt32 {
			return nil, errorf(start, "too many nodes")
		}
		nodes = append(nodes, lgbNode{}, lgbNode{})
		miss := c + 1
		if dt&2 != 0 { // kDefaultLeftMask
			miss = c
		}
		nodes[it.pos] = lgbNode{
			value: threshold[o], feature: int32(feature[o]), left: int32(c), missing: int32(miss), mtype: uint8(dt>>2) & 3,
		}
		queue = append(queue, item{left[o], c}, item{right[o], c + 1})
	}
	// Each node was reached at most once, so 2*ninternal children reached nleaves leaves
	// exactly when every internal node was reached: an unreachable part is an error too.
	if n := len(nodes) - len(m.nodes); n != 2*nleaves-1 {
		return nil, errorf(rLine, "only %d of the %d nodes are reachable from the root", n, 2*nleaves-1)
	}
	return nodes, nil
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
