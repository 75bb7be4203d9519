package score

import (
	"math"
	"strconv"
	"strings"
)

// xgbNode is one node of a flattened XGBoost tree. The children of a split are adjacent:
// left, then left+1. XGBoost works in float32: features are cast to float32 before the
// comparison, split conditions and leaf values are float32, and margins are summed in
// float32; the model keeps those types so that its scores are XGBoost's, bit for bit up to
// the final exp.
type xgbNode struct {
	value   float32 // the split condition; the leaf value for a leaf
	feature int32   // the feature a split tests; -1 for a leaf
	left    int32   // the left child; the right one is left+1
	missing int32   // the default child, for a missing (NaN) feature
}

// xgbTransform maps summed margins to the output.
type xgbTransform uint8

const (
	xgbIdentity xgbTransform = iota // reg:squarederror
	xgbSigmoid                      // binary:logistic, reg:logistic
	xgbSoftmax                      // multi:softprob
)

// xgbObjectives are the supported objectives and their output transforms.
var xgbObjectives = map[string]xgbTransform{
	"binary:logistic":  xgbSigmoid,
	"reg:logistic":     xgbSigmoid,
	"reg:squarederror": xgbIdentity,
	"multi:softprob":   xgbSoftmax,
}

// xgbMaxClasses bounds num_class, so that a corrupt file cannot make Parse allocate
// gigabytes before it finds the trees do not match.
const xgbMaxClasses = 1 << 16

const xgbSupported = "binary:logistic, reg:logistic, reg:squarederror, multi:softprob"

type xgboostModel struct {
	nodes     []xgbNode
	roots     []int32   // the root of each tree in nodes
	groups    []int32   // the output each tree adds to (its class)
	base      []float32 // the base margin of each output
	transform xgbTransform
	nfeatures int
	names     []string
	objective string
}

func (m *xgboostModel) NumFeatures() int       { return m.nfeatures }
func (m *xgboostModel) FeatureNames() []string { return m.names }
func (m *xgboostModel) Kind() string           { return "xgboost" }
func (m *xgboostModel) Objective() string      { return m.objective }

// leaf walks one tree from its root to a leaf, as XGBoost's predictor does: a NaN feature
// is missing and takes the default child; otherwise float32(x) < condition goes left.
func (m *xgboostModel) leaf(i int32, features []float64) float32 {
	nodes := m.nodes
	for {
		n := &nodes[i]
		if n.feature < 0 {
			return n.value
		}
		f := float32(features[n.feature])
		switch {
		case f != f: // NaN
			i = n.missing
		case f < n.value:
			i = n.left
		default:
			i = n.left + 1
		}
	}
}

func (m *xgboostModel) Predict(features []float64, out []float64) []float64 {
	checkLen("xgboost", len(features), m.nfeatures)
	if len(m.base) == 1 {
		sum := m.base[0]
		for _, r := range m.roots {
			sum += m.leaf(r, features)
		}
		if m.transform == xgbSigmoid {
			sum = xgbSigmoidf(sum)
		}
		return append(out, float64(sum))
	}
	k := len(out)
	out = grow(out, len(m.base))
	margins := out[k:]
	for c, b := range m.base {
		margins[c] = float64(b)
	}
	// Summing in float64 slots but rounding each step to float32 is exactly float32 sums.
	for t, r := range m.roots {
		g := m.groups[t]
		margins[g] = float64(float32(margins[g]) + m.leaf(r, features))
	}
	xgbSoftmaxf(margins)
	return out
}

// xgbSigmoidf is XGBoost's common::Sigmoid, in float32.
func xgbSigmoidf(x float32) float32 {
	x = min(-x, 88.7)
	denom := float32(math.Exp(float64(x))) + 1 // + 1e-16f, which a float32 >= 1 absorbs
	return 1 / denom
}

// xgbSoftmaxf is XGBoost's common::Softmax: float32 values, a float64 sum.
func xgbSoftmaxf(v []float64) {
	wmax := float32(v[0])
	for _, x := range v[1:] {
		wmax = max(wmax, float32(x))
	}
	var wsum float64
	for i, x := range v {
		e := float32(math.Exp(float64(float32(x) - wmax)))
		v[i] = float64(e)
		wsum += float64(e)
	}
	for i, x := range v {
		v[i] = float64(float32(x) / float32(wsum))
	}
}

// parseXGBoost reads a model written by XGBoost's Booster.save_model("model.json").
func parseXGBoost(root jval) (Model, error) {
	learner := root.at("learner")
	if err := learner.object(); err != nil {
		return nil, err
	}
	m := &xgboostModel{}

	obj := learner.at("objective").at("name")
	objective, err := obj.str()
	if err != nil {
		return nil, err
	}
	transform, ok := xgbObjectives[objective]
	if !ok {
		return nil, obj.errorf("unsupported objective %q (supported: %s)", objective, xgbSupported)
	}
	m.objective, m.transform = objective, transform

	param := learner.at("learner_model_param")
	nf, err := param.at("num_feature").strInt(0, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	m.nfeatures = int(nf)
	if nt := param.at("num_target"); nt.present() {
		n, err := nt.strInt(0, math.MaxInt32)
		if err != nil {
			return nil, err
		}
		if n > 1 {
			return nil, nt.errorf("%d targets: multi-target models are not supported", n)
		}
	}
	numClass, err := param.at("num_class").strInt(0, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	nout := 1
	if numClass > xgbMaxClasses {
		return nil, param.at("num_class").errorf("%d classes: at most %d are supported", numClass, xgbMaxClasses)
	}
	if transform == xgbSoftmax {
		if numClass < 2 {
			return nil, param.at("num_class").errorf("multi:softprob needs num_class >= 2, got %d", numClass)
		}
		nout = int(numClass)
	} else if numClass > 1 {
		return nil, param.at("num_class").errorf("%s has one output, but num_class is %d", objective, numClass)
	}
	if m.base, err = xgbBaseScore(param.at("base_score"), nout, transform); err != nil {
		return nil, err
	}

	if fn := learner.at("feature_names"); fn.present() {
		names, err := fn.strings()
		if err != nil {
			return nil, err
		}
		if len(names) > 0 && len(names) != m.nfeatures {
			return nil, fn.errorf("%d names for %d features (learner_model_param.num_feature)", len(names), m.nfeatures)
		}
		if len(names) > 0 {
			m.names = names
		}
	}

	booster := learner.at("gradient_booster")
	bname, err := booster.at("name").str()
	if err != nil {
		return nil, err
	}
	if bname != "gbtree" {
		return nil, booster.at("name").errorf("booster %q is not supported: want gbtree", bname)
	}
	model := booster.at("model")
	trees, err := model.at("trees").array()
	if err != nil {
		return nil, err
	}
	if nt := model.at("gbtree_model_param").at("num_trees"); nt.present() {
		n, err := nt.strInt(0, math.MaxInt32)
		if err != nil {
			return nil, err
		}
		if int(n) != len(trees) {
			return nil, nt.errorf("%d trees, but the trees array has %d", n, len(trees))
		}
	}
	groups, err := model.at("tree_info").ints(len(trees), 0, int64(nout-1))
	if err != nil {
		return nil, err
	}
	m.groups = make([]int32, len(trees))
	m.roots = make([]int32, len(trees))
	for t, tree := range trees {
		m.groups[t] = int32(groups[t])
		m.roots[t] = int32(len(m.nodes))
		if m.nodes, err = appendXGBTree(m.nodes, tree, m.nfeatures); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// xgbBaseScore reads learner_model_param.base_score: "5E-1" (XGBoost 1.x, 2.x) or
// "[5E-1]", "[a,b,c]" (3.x, one per class) in probability space, and returns the base
// margins the trees add to, as XGBoost's ObjFunction::ProbToMargin computes them in float32.
func xgbBaseScore(j jval, nout int, transform xgbTransform) ([]float32, error) {
	s, err := j.str()
	if err != nil {
		return nil, err
	}
	text := strings.TrimSpace(s)
	if strings.HasPrefix(text, "[") && strings.HasSuffix(text, "]") {
		text = text[1 : len(text)-1]
	}
	fields := strings.Split(text, ",")
	if len(fields) != 1 && len(fields) != nout {
		return nil, j.errorf("%d values for %d outputs", len(fields), nout)
	}
	base := make([]float32, nout)
	for i := range base {
		f := fields[0]
		if len(fields) > 1 {
			f = fields[i]
		}
		v, err := strconv.ParseFloat(strings.TrimSpace(f), 32)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, j.errorf("want a number or a list of numbers, got %q", s)
		}
		b := float32(v)
		if transform == xgbSigmoid {
			if !(b > 0 && b < 1) {
				return nil, j.errorf("base_score %v of a logistic objective must be in (0, 1)", v)
			}
			// LogisticRegression::ProbToMargin: -logf(1.0f / base_score - 1.0f).
			b = -float32(math.Log(float64(1/b - 1)))
		}
		base[i] = b
	}
	return base, nil
}

// appendXGBTree validates one tree of the JSON model and appends it to nodes in
// breadth-first order with adjacent children. Only nodes reachable from the root are kept
// (XGBoost leaves pruned nodes in the arrays), and a node reached twice is an error, so the
// result is a tree and prediction always ends at a leaf.
func appendXGBTree(nodes []xgbNode, tree jval, nfeatures int) ([]xgbNode, error) {
	if err := tree.object(); err != nil {
		return nil, err
	}
	tp := tree.at("tree_param")
	n64, err := tp.at("num_nodes").strInt(1, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	if slv := tp.at("size_leaf_vector"); slv.present() {
		v, err := slv.strInt(0, math.MaxInt32)
		if err != nil {
			return nil, err
		}
		if v > 1 {
			return nil, slv.errorf("vector leaves (multi_strategy=multi_output_tree) are not supported")
		}
	}
	n := int(n64)
	left, err := tree.at("left_children").ints(n, -1, int64(n-1))
	if err != nil {
		return nil, err
	}
	right, err := tree.at("right_children").ints(n, -1, int64(n-1))
	if err != nil {
		return nil, err
	}
	feature, err := tree.at("split_indices").ints(n, 0, math.MaxUint32)
	if err != nil {
		return nil, err
	}
	cond, err := tree.at("split_conditions").floats(n, 32)
	if err != nil {
		return nil, err
	}
	dleft, err := xgbBools(tree.at("default_left"), n)
	if err != nil {
		return nil, err
	}
	var stype []int64
	if st := tree.at("split_type"); st.present() { // absent before XGBoost 1.6
		if stype, err = st.ints(n, 0, 255); err != nil {
			return nil, err
		}
	}

	type item struct{ old, pos int }
	seen := make([]bool, n)
	queue := []item{{0, len(nodes)}}
	nodes = append(nodes, xgbNode{})
	for len(queue) > 0 {
		it := queue[0]
		queue = queue[1:]
		o := it.old
		if seen[o] {
			return nil, tree.errorf("node %d is reached twice: the children arrays do not form a tree", o)
		}
		seen[o] = true
		if left[o] == -1 {
			nodes[it.pos] = xgbNode{value: float32(cond[o]), feature: -1}
			continue
		}
		switch {
		case right[o] == -1:
			return nil, tree.errorf("node %d has a left child but no right child", o)
		case stype != nil && stype[o] != 0:
			return nil, tree.errorf("node %d: categorical split (split_type %d) is not supported", o, stype[o])
		case feature[o] >= int64(nfeatures):
			return nil, tree.errorf("node %d splits on feature %d, but the model has %d features", o, feature[o], nfeatures)
		case math.IsNaN(cond[o]):
			return nil, tree.errorf("node %d: split condition is NaN", o)
		}
		c := len(nodes)
		if c+2 > math.MaxInt32 {
			return nil, tree.errorf("too many nodes")
		}
		nodes = append(nodes, xgbNode{}, xgbNode{})
		miss := c + 1
		if dleft[o] {
			miss = c
		}
		nodes[it.pos] = xgbNode{value: float32(cond[o]), feature: int32(feature[o]), left: int32(c), missing: int32(miss)}
		queue = append(queue, item{int(left[o]), c}, item{int(right[o]), c + 1})
	}
	return nodes, nil
}

// xgbBools reads default_left: 0/1 integers (XGBoost 2.x, 3.x) or booleans (1.x).
func xgbBools(j jval, n int) ([]bool, error) {
	a, err := j.array()
	if err != nil {
		return nil, err
	}
	if len(a) != n {
		return nil, j.errorf("want %d values, got %d", n, len(a))
	}
	out := make([]bool, n)
	for i, e := range a {
		if b, ok := e.v.(bool); ok {
			out[i] = b
			continue
		}
		v, err := e.int(0, 1)
		if err != nil {
			return nil, err
		}
		out[i] = v == 1
	}
	return out, nil
}
