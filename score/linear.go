package score

import (
	"math"
	"sort"
	"strings"
)

// linearFormat is the value of "format" in a kappa-linear model file.
const linearFormat = "kappa-linear"

// linearKeys are the members a kappa-linear file may have; any other is a mistake (a typo
// such as "weight" must not silently give a model without weights).
var linearKeys = map[string]bool{
	"format": true, "version": true, "objective": true, "features": true,
	"weights": true, "intercept": true, "impute": true,
}

type linearModel struct {
	weights   []float64
	impute    []float64 // the value of a missing feature
	intercept float64
	logistic  bool
	names     []string
	objective string
}

func (m *linearModel) NumFeatures() int       { return len(m.weights) }
func (m *linearModel) FeatureNames() []string { return m.names }
func (m *linearModel) Kind() string           { return "logistic" }
func (m *linearModel) Objective() string      { return m.objective }

func (m *linearModel) Predict(features []float64, out []float64) []float64 {
	checkLen("logistic", len(features), len(m.weights))
	z := m.intercept
	for i, w := range m.weights {
		x := features[i]
		if x != x { // NaN: missing
			x = m.impute[i]
		}
		z += w * x
	}
	if m.logistic {
		z = 1 / (1 + math.Exp(-z))
	}
	return append(out, z)
}

// parseLinear reads a kappa-linear model (see the package documentation).
func parseLinear(root jval) (Model, error) {
	obj, _ := root.v.(map[string]any)
	var unknown []string
	for k := range obj {
		if !linearKeys[k] {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		return nil, root.at(unknown[0]).errorf("unknown member (a kappa-linear model has format, version, objective, features, weights, intercept and impute)")
	}
	format, err := root.at("format").str()
	if err != nil {
		return nil, err
	}
	if format != linearFormat {
		return nil, root.at("format").errorf("unknown format %q: want %q", format, linearFormat)
	}
	version, err := root.at("version").int(0, math.MaxInt32)
	if err != nil {
		return nil, err
	}
	if version != 1 {
		return nil, root.at("version").errorf("unsupported version %d: this Kappa reads version 1", version)
	}
	m := &linearModel{}
	o := root.at("objective")
	if m.objective, err = o.str(); err != nil {
		return nil, err
	}
	switch m.objective {
	case "binary:logistic":
		m.logistic = true
	case "reg:linear":
	default:
		return nil, o.errorf("unsupported objective %q (supported: binary:logistic, reg:linear)", m.objective)
	}
	fj := root.at("features")
	if m.names, err = fj.strings(); err != nil {
		return nil, err
	}
	seen := make(map[string]int, len(m.names))
	for i, n := range m.names {
		if strings.TrimSpace(n) == "" {
			return nil, fj.errorf("feature %d has an empty name", i)
		}
		if j, dup := seen[n]; dup {
			return nil, fj.errorf("features %d and %d are both named %q", j, i, n)
		}
		seen[n] = i
	}
	n := len(m.names)
	if m.weights, err = root.at("weights").floats(n, 64); err != nil {
		return nil, err
	}
	if m.intercept, err = root.at("intercept").float(64); err != nil {
		return nil, err
	}
	m.impute = make([]float64, n)
	if imp := root.at("impute"); imp.present() {
		if m.impute, err = imp.floats(n, 64); err != nil {
			return nil, err
		}
	}
	if len(m.names) == 0 {
		m.names = nil
	}
	return m, nil
}
