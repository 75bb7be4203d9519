package pipeline

import (
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Score is an operator that scores every record with a model and writes one result per
// record, with the model's name and version and the features it was given:
//
//	operators:
//	  - window: {type: sliding, size: 10m, aggregates: [{fn: count, as: txn_count}]}
//	  - score:
//	      model: {file: models/fraud.json}
//	      features: [amount, window.txn_count]
//	      alert: {threshold: 0.9, topic: fraud-alerts}
//
// It is the last operator of a pipeline. A window operator before it is a feature stage:
// its aggregates of the key's current window can be features, and its own results are not
// written.
type Score struct {
	// Model is the model that scores the records. Required.
	Model ModelRef
	// Features are the model's inputs, in the model's feature order: "field", a top-level
	// numeric field of the record, or "window.<aggregate name>", the aggregate of that
	// name (Aggregation.Name) of the key's current window, which needs a window operator
	// before the score. At least one, no duplicates; see WindowFeature.
	Features []string
	// Alert also writes the results whose score reaches a threshold to a topic of their
	// own. nil: no alerts.
	Alert *Alert
	// Shadow is a second model, scored on the same features and written beside the first,
	// that never alerts: a candidate to compare before it replaces Model. nil: none.
	Shadow *ModelRef
}

// ModelRef says where a model comes from: a file, or a compacted topic of models.
type ModelRef struct {
	// File is the path of a model file, which is watched: a changed file is reloaded.
	// Exactly one of File and Topic is set. Parse and Load resolve a relative path against
	// the directory of the pipeline file; a definition built in Go uses it as given.
	File string
	// Topic is a compacted topic of models: the key of a record is a model name, its value
	// the bytes of a model file, and its header kappa.model.version the model's version.
	// A valid Kafka topic name, neither an input nor the output topic.
	Topic string
	// Name is the model's name, written with each result and, with Topic, the key of its
	// records. Required with Topic; with File, ApplyDefaults and Parse set it to the base
	// name of File without its extension when it is empty. Letters, digits, ".", "_" and
	// "-".
	Name string
	// Version pins the model: only the model of this version is used. "" is any version.
	Version string
}

// Alert sends the results of a score operator that reach a threshold to a topic.
type Alert struct {
	// Threshold is the score at or above which a result is also written to Topic. A
	// finite number; required in a file (in Go, 0 is a threshold).
	Threshold float64
	// Topic takes the alerts: a valid Kafka topic name, none of the pipeline's other
	// topics. Required.
	Topic string
}

// WindowFeaturePrefix starts a feature that is an aggregate of a window operator:
// "window.<aggregate name>".
const WindowFeaturePrefix = "window."

// WindowFeature returns the aggregate name of a feature written "window.<aggregate name>"
// and true, or "" and false for a feature that is a record field.
func WindowFeature(feature string) (aggregate string, ok bool) {
	if agg, ok := strings.CutPrefix(feature, WindowFeaturePrefix); ok {
		return agg, true
	}
	return "", false
}

// defaultModelName is the model name of a model file when none is given: the base name of
// the path without its extension ("models/fraud.json" gives "fraud").
func defaultModelName(file string) string {
	base := filepath.Base(file)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// applyDefaults sets the name of a model file when it is empty.
func (m *ModelRef) applyDefaults() {
	if m.Name == "" && m.File != "" {
		m.Name = defaultModelName(m.File)
	}
}

// The settings of the file, in documentation order.
var (
	scoreFields = []string{"model", "features", "alert", "shadow"}
	modelFields = []string{"file", "topic", "name", "version"}
	alertFields = []string{"threshold", "topic"}
)

// The hints of the mappings of a score, for what they need when they are empty.
const (
	modelNeeds  = "file or topic, e.g. model: {file: models/fraud.json}"
	shadowNeeds = "file or topic, e.g. shadow: {file: models/fraud-v2.json}"
	alertNeeds  = "threshold and topic, e.g. alert: {threshold: 0.9, topic: fraud-alerts}"
)

// scoreKind is the entry of the score operator in kinds.
var scoreKind = operatorKind{
	name:    "score",
	example: "score: {model: {file: models/fraud.json}, features: [amount]}",
	fields:  scoreFields,
	needs:   "model and features",
	mappings: []nestedSetting{
		{name: "model", fields: modelFields, needs: modelNeeds},
		{name: "alert", fields: alertFields, needs: alertNeeds},
		{name: "shadow", fields: modelFields, needs: shadowNeeds},
	},
	isSet:  func(o Operator) bool { return o.Score != nil },
	decode: func(p *parser, f map[string]*yaml.Node, path string, op *Operator) { op.Score = p.score(f, path) },
	check:  func(d *Definition, op Operator, path string, r reporter) { checkScore(d, op.Score, path, r) },
}

// checkScore applies the rules of a score operator at path.
func checkScore(d *Definition, s *Score, path string, r reporter) {
	checkModelRef(d, s.Model, path+".model", "models/fraud.json", r)
	checkFeatures(d, s.Features, path+".features", r)
	if s.Alert != nil {
		checkAlert(d, s, path+".alert", r)
	}
	if sh := s.Shadow; sh != nil {
		sp := path + ".shadow"
		checkModelRef(d, *sh, sp, "models/fraud-v2.json", r)
		switch {
		case sh.File != "" && s.Model.File != "" && filepath.Clean(sh.File) == filepath.Clean(s.Model.File):
			r.invalid(sp+".file", fmt.Sprintf("%s is the file of model too; a shadow is a second model, so use another file", quoteShort(sh.File)))
		case sh.Topic != "" && sh.Topic == s.Model.Topic && sh.Name != "" && sh.Name == s.Model.Name:
			r.invalid(sp+".name", fmt.Sprintf("%q of topic %q is model itself; a shadow is a second model, so name another", sh.Name, sh.Topic))
		}
	}
}

// checkModelRef applies the rules of a model (or shadow) at path; example is a file to
// show in messages.
func checkModelRef(d *Definition, m ModelRef, path, example string, r reporter) {
	switch {
	case m.File == "" && m.Topic == "":
		r.missing(path+".file", fmt.Sprintf("add the model file, e.g. file: %s, or the topic of its models, e.g. topic: fraud-models", example))
	case m.File != "" && m.Topic != "":
		r.invalid(path+".topic", "a model comes from a file or from a topic, not both; remove file or topic")
	}

	fileOK := !strings.ContainsRune(m.File, 0)
	if !fileOK {
		r.invalid(path+".file", fmt.Sprintf("%s contains a NUL byte, which no file system allows; remove it", quoteShort(m.File)))
	}
	if m.Topic != "" && checkTopic(d, r, path+".topic", m.Topic, "") {
		switch {
		case slices.Contains(d.Input.Topics, m.Topic):
			r.invalid(path+".topic", fmt.Sprintf("%q is an input topic; models come from a topic of their own, e.g. fraud-models", m.Topic))
		case m.Topic == d.Output.Topic:
			r.invalid(path+".topic", fmt.Sprintf("%q is the output topic; models come from a topic of their own, e.g. fraud-models", m.Topic))
		}
	}

	switch {
	case m.Name == "" && m.Topic != "":
		r.missing(path+".name", fmt.Sprintf("add the model name, the key of its records in %s, e.g. name: fraud", m.Topic))
	case m.Name == "" && m.File != "":
		r.missing(path+".name", fmt.Sprintf("set the model name, by default %s (the base name of the file without its extension)",
			quoteShort(defaultModelName(m.File))))
	case m.Name != "" && (fileOK || m.Name != defaultModelName(m.File)):
		if msg := nameProblem(m.Name, maxTopicLen, "model name"); msg != "" {
			if m.File != "" && m.Name == defaultModelName(m.File) {
				msg += fmt.Sprintf("; it is the base name of the file, so set one with name:, e.g. name: %s", sanitizeName(m.Name))
			}
			r.invalid(path+".name", msg)
		}
	}

	if v := m.Version; strings.TrimSpace(v) != v {
		r.invalid(path+".version", fmt.Sprintf("%s has spaces at its start or end, which no version has; remove them", quoteShort(v)))
	}
}

// checkFeatures applies the rules of the features of a score at path.
func checkFeatures(d *Definition, features []string, path string, r reporter) {
	if len(features) == 0 {
		r.missing(path, "add the model's inputs in its feature order, e.g. features: [amount, window.count]")
	}
	first := make(map[string]int, len(features))
	for i, f := range features {
		fp := fmt.Sprintf("%s[%d]", path, i)
		if f == "" {
			r.invalid(fp, "is empty; write a field name or window.<aggregate name>, or remove the entry")
			continue
		}
		ok := false
		if agg, isWindow := WindowFeature(f); isWindow {
			ok = checkWindowFeature(d, f, agg, fp, r)
		} else {
			ok = checkFieldFeature(f, fp, r)
		}
		if !ok {
			continue
		}
		if j, dup := first[f]; dup {
			r.invalid(fp, fmt.Sprintf("%q is listed twice (also features[%d]); remove one", f, j))
			continue
		}
		first[f] = i
	}
}

// checkFieldFeature checks a feature that is a record field, and reports whether it is
// well-formed.
func checkFieldFeature(f, path string, r reporter) bool {
	if prefix, rest, dotted := strings.Cut(f, "."); dotted && suggest(prefix, []string{"window"}) != "" {
		r.invalid(path, fmt.Sprintf("%q is a dotted path; did you mean %q? (a window feature is window.<aggregate name>)",
			f, WindowFeaturePrefix+rest))
		return false
	}
	return checkFieldName(r, path, f, "")
}

// checkWindowFeature checks a feature that names the aggregate agg of the window operator,
// and reports whether it is well-formed.
func checkWindowFeature(d *Definition, f, agg, path string, r reporter) bool {
	if agg == "" {
		r.invalid(path, fmt.Sprintf("%q names no aggregate; write window.<aggregate name>, e.g. window.count", f))
		return false
	}
	i := slices.IndexFunc(d.Operators, func(op Operator) bool { return op.Window != nil })
	if i < 0 {
		if slices.ContainsFunc(d.Operators, func(op Operator) bool { return op.Kind() == "" }) {
			return true // an entry that names no kind (reported) may be the window meant
		}
		r.invalid(path, fmt.Sprintf("a window.<name> feature needs a window operator before the score, and this pipeline has none; "+
			"add a window whose aggregates include one named %q, or use a record field", agg))
		return false
	}
	w, wpath := d.Operators[i].Window, fmt.Sprintf("operators[%d].window", i)
	if r.unreadable(wpath + ".aggregates") {
		return true // the names of the aggregates are not all known
	}
	names := make([]string, 0, len(w.Aggregates))
	for _, a := range w.Aggregates {
		if a.Name() == agg {
			return true
		}
		if !checkAggregation(a, "", discard{}) {
			// Its problem is reported, and the feature may name it once that is fixed.
			return true
		}
		names = append(names, a.Name())
	}
	if len(names) == 0 {
		return true // the window has no aggregates, which is reported
	}
	msg := fmt.Sprintf("window has no aggregate named %q; its aggregates are %s", agg, andList(names))
	if s := suggest(agg, names); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", WindowFeaturePrefix+s)
	}
	r.invalid(path, msg)
	return false
}

// discard is a reporter that drops what the rules find, to ask only whether they pass.
type discard struct{}

func (discard) missing(string, string) {}
func (discard) invalid(string, string) {}
func (discard) unreadable(string) bool { return false }

// checkAlert applies the rules of the alert of score s at path.
func checkAlert(d *Definition, s *Score, path string, r reporter) {
	a := s.Alert
	if math.IsNaN(a.Threshold) || math.IsInf(a.Threshold, 0) {
		r.invalid(path+".threshold", fmt.Sprintf("%s is not a finite number; use a score, e.g. threshold: 0.9",
			strconv.FormatFloat(a.Threshold, 'g', -1, 64)))
	}
	t := a.Topic
	if !checkTopic(d, r, path+".topic", t, "add the topic that takes the alerts, e.g. topic: fraud-alerts") {
		return
	}
	switch {
	case slices.Contains(d.Input.Topics, t):
		r.invalid(path+".topic", fmt.Sprintf("%q is an input topic; write the alerts to a topic of their own, e.g. fraud-alerts", t))
	case t == d.Output.Topic:
		r.invalid(path+".topic", fmt.Sprintf("%q is the output topic; alerts go to a topic of their own, beside the output", t))
	case t == s.Model.Topic:
		r.invalid(path+".topic", fmt.Sprintf("%q is the topic of the model; write the alerts to a topic of their own", t))
	case s.Shadow != nil && t == s.Shadow.Topic:
		r.invalid(path+".topic", fmt.Sprintf("%q is the topic of the shadow model; write the alerts to a topic of their own", t))
	}
}

// score decodes the settings of a score operator at path. Beyond the types, it resolves
// relative model file paths, sets the default model names, and requires the threshold of
// an alert, which only a file can leave out.
func (p *parser) score(f map[string]*yaml.Node, path string) *Score {
	s := &Score{}
	if n, ok := f["model"]; ok {
		s.Model = *p.modelRef(n, path+".model")
	}
	if n, ok := f["features"]; ok {
		s.Features = p.stringList(n, path+".features")
	}
	if n, ok := f["alert"]; ok && p.given(n, path+".alert", "no alerts") {
		s.Alert = p.alert(n, path+".alert")
	}
	if n, ok := f["shadow"]; ok && p.given(n, path+".shadow", "no shadow model") {
		s.Shadow = p.modelRef(n, path+".shadow")
	}
	return s
}

// modelRef decodes a model or shadow at path.
func (p *parser) modelRef(n *yaml.Node, path string) *ModelRef {
	m := &ModelRef{}
	name := path[strings.LastIndexByte(path, '.')+1:]
	if v := resolve(n); v.Kind == yaml.ScalarNode && v.ShortTag() == "!!str" && looksLikeFile(v.Value) {
		p.fail(posOf(n), path, fmt.Sprintf("must be a mapping, got the string %s; write %s: {file: %s}",
			quoteShort(v.Value), name, shorten(v.Value)))
		return m
	}
	f := p.mapping(n, path, modelFields)
	if n, ok := f["file"]; ok {
		m.File = p.str(n, path+".file")
		if m.File != "" && !filepath.IsAbs(m.File) {
			m.File = filepath.Join(p.dir, m.File)
		}
	}
	if n, ok := f["topic"]; ok {
		m.Topic = p.str(n, path+".topic")
	}
	if n, ok := f["name"]; ok {
		np := path + ".name"
		switch {
		case m.File == "":
			m.Name = p.str(n, np) // required with a topic: the rules report it empty
		case p.given(n, np, defaultModelName(m.File)):
			m.Name = p.str(n, np)
			if m.Name == "" && !p.silenced(np) {
				p.fail(posOf(n), np, fmt.Sprintf("is empty; write a name, or remove the line to use the default (%s)", defaultModelName(m.File)))
			}
		}
	}
	if m.Name == "" && !p.bad[path+".name"] {
		m.applyDefaults()
	}
	if n, ok := f["version"]; ok && p.given(n, path+".version", "any version") {
		m.Version = p.str(n, path+".version")
	}
	return m
}

// looksLikeFile reports whether s reads as the path of a model file, as a user who wrote
// model: models/fraud.json means it.
func looksLikeFile(s string) bool {
	return strings.ContainsAny(s, `/\`) || filepath.Ext(s) != ""
}

// alert decodes the alert of a score at path.
func (p *parser) alert(n *yaml.Node, path string) *Alert {
	f := p.mapping(n, path, alertFields)
	a := &Alert{}
	if n, ok := f["threshold"]; ok && !isNull(resolve(n)) {
		a.Threshold, _ = p.number(n, path+".threshold")
	} else {
		// Required in the file, where an alert without a threshold is surely an
		// oversight; in Go, where absent and 0 are one, 0 is a threshold.
		p.missing(path+".threshold", "add the score at or above which a record alerts, e.g. threshold: 0.9")
	}
	if n, ok := f["topic"]; ok {
		a.Topic = p.str(n, path+".topic")
	}
	return a
}
