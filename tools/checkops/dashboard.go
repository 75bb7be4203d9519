package main

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"strings"
)

// dashboard is the part of a Grafana dashboard JSON model the check reads.
type dashboard struct {
	Title      string  `json:"title"`
	Panels     []panel `json:"panels"`
	Templating struct {
		List []variable `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int         `json:"id"`
	Type       string      `json:"type"`
	Title      string      `json:"title"`
	Datasource *datasource `json:"datasource"`
	Targets    []target    `json:"targets"`
	// Panels are those of a collapsed row.
	Panels []panel `json:"panels"`
}

type target struct {
	RefID      string      `json:"refId"`
	Expr       string      `json:"expr"`
	Hide       bool        `json:"hide"`
	Datasource *datasource `json:"datasource"`
}

type datasource struct {
	Type string `json:"type"`
	UID  string `json:"uid"`
}

// datasourceRef is how every panel and target names its datasource: through the
// dashboard's datasource variable, so that the dashboard works in any Grafana.
const datasourceRef = "${datasource}"

// variable is a dashboard template variable. Query is a string for most types and an
// object ({"query": "..."}) for query variables of recent Grafana versions.
type variable struct {
	Name       string          `json:"name"`
	Type       string          `json:"type"`
	Query      json.RawMessage `json:"query"`
	Definition string          `json:"definition"`
	IncludeAll bool            `json:"includeAll"`
	Multi      bool            `json:"multi"`
	AllValue   string          `json:"allValue"`
	Current    struct {
		Value any `json:"value"`
	} `json:"current"`
}

// query is one panel target to evaluate.
type query struct {
	Panel string // panel title
	RefID string
	Expr  string
}

func (q query) String() string {
	return fmt.Sprintf("%q %s: %s", q.Panel, q.RefID, q.Expr)
}

func loadDashboard(path string) (*dashboard, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &d, nil
}

// validate checks what Grafana would not: that the dashboard has a Prometheus datasource
// variable, that every panel and target uses it rather than a datasource of one Grafana,
// and that panel ids and each panel's target refIds are unique.
func (d *dashboard) validate() error {
	var problems []string
	hasVar := false
	for _, v := range d.Templating.List {
		if v.Name == "datasource" && v.Type == "datasource" && v.queryString() == "prometheus" {
			hasVar = true
		}
	}
	if !hasVar {
		problems = append(problems, `no template variable "datasource" of type datasource and query prometheus`)
	}
	ids := map[int]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if prev, ok := ids[p.ID]; ok {
				problems = append(problems, fmt.Sprintf("panels %q and %q share id %d", prev, p.Title, p.ID))
			}
			ids[p.ID] = p.Title
			if p.Type == "row" {
				continue
			}
			if p.Title == "" {
				problems = append(problems, fmt.Sprintf("panel %d has no title", p.ID))
			}
			if p.Datasource == nil || p.Datasource.UID != datasourceRef {
				problems = append(problems, fmt.Sprintf("panel %q: datasource is not %s", p.Title, datasourceRef))
			}
			refs := map[string]bool{}
			for _, t := range p.Targets {
				if t.Datasource == nil || t.Datasource.UID != datasourceRef {
					problems = append(problems, fmt.Sprintf("panel %q target %s: datasource is not %s", p.Title, t.RefID, datasourceRef))
				}
				if t.RefID == "" || refs[t.RefID] {
					problems = append(problems, fmt.Sprintf("panel %q: target refId %q is empty or repeated", p.Title, t.RefID))
				}
				refs[t.RefID] = true
			}
		}
	}
	walk(d.Panels)
	if len(problems) > 0 {
		return fmt.Errorf("dashboard %q: %s", d.Title, strings.Join(problems, "; "))
	}
	return nil
}

// queries lists the expression of every visible target of every panel, rows' panels
// included, in the dashboard's order. A target without an expression is an error: it is
// a panel that can never show data.
func (d *dashboard) queries() ([]query, error) {
	var qs []query
	var problems []string
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if len(p.Targets) == 0 {
				problems = append(problems, fmt.Sprintf("panel %d %q has no targets", p.ID, p.Title))
			}
			for _, t := range p.Targets {
				if t.Hide {
					continue
				}
				if strings.TrimSpace(t.Expr) == "" {
					problems = append(problems, fmt.Sprintf("panel %d %q target %s has no expr", p.ID, p.Title, t.RefID))
					continue
				}
				qs = append(qs, query{Panel: p.Title, RefID: t.RefID, Expr: t.Expr})
			}
		}
	}
	walk(d.Panels)
	if len(problems) > 0 {
		return nil, fmt.Errorf("dashboard %q: %s", d.Title, strings.Join(problems, "; "))
	}
	return qs, nil
}

// queryString is the text of a variable's query, whichever form the JSON holds it in.
func (v variable) queryString() string {
	var s string
	if err := json.Unmarshal(v.Query, &s); err == nil {
		return s
	}
	var obj struct {
		Query string `json:"query"`
	}
	if err := json.Unmarshal(v.Query, &obj); err == nil && obj.Query != "" {
		return obj.Query
	}
	return v.Definition
}

// labelValuesCall matches Grafana's Prometheus variable query label_values(selector, label)
// and label_values(label).
var labelValuesCall = regexp.MustCompile(`^\s*label_values\(\s*(?:(.*\S)\s*,\s*)?([a-zA-Z_][a-zA-Z0-9_]*)\s*\)\s*$`)

// parseLabelValues splits a label_values query into its series selector (empty for
// none) and label name.
func parseLabelValues(q string) (selector, label string, ok bool) {
	m := labelValuesCall.FindStringSubmatch(q)
	if m == nil {
		return "", "", false
	}
	return m[1], m[2], true
}

// variableValue is what Grafana puts in place of a query variable given the values its
// query returned, with "All" selected where the variable offers it: the custom all value,
// or else a regex alternation of every value (which the dashboard's =~ matchers expect);
// a single-value variable gets its first value, as Grafana selects by default.
func variableValue(v variable, values []string) string {
	if v.IncludeAll {
		if v.AllValue != "" {
			return v.AllValue
		}
		quoted := make([]string, len(values))
		for i, s := range values {
			quoted[i] = regexp.QuoteMeta(s)
		}
		return "(" + strings.Join(quoted, "|") + ")"
	}
	if len(values) == 0 {
		return ""
	}
	return values[0]
}

// varRef matches the three syntaxes of a variable reference: $name, ${name} or
// ${name:format}, and [[name]].
var varRef = regexp.MustCompile(`\$\{([a-zA-Z_][a-zA-Z0-9_]*)(?::[^}]*)?\}|\[\[([a-zA-Z_][a-zA-Z0-9_]*)\]\]|\$([a-zA-Z_][a-zA-Z0-9_]*)`)

// interpolate replaces every variable reference in expr by its value in vars and fails
// on a reference to a variable vars does not define, which Grafana would leave in the
// query as text.
func interpolate(expr string, vars map[string]string) (string, error) {
	var unknown []string
	out := varRef.ReplaceAllStringFunc(expr, func(ref string) string {
		m := varRef.FindStringSubmatch(ref)
		name := m[1] + m[2] + m[3]
		v, ok := vars[name]
		if !ok {
			unknown = append(unknown, ref)
			return ref
		}
		return v
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("undefined variable %s", strings.Join(unknown, ", "))
	}
	return out, nil
}
