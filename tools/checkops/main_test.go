package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// The repository's dashboard passes the checks that need no Prometheus: a datasource
// variable used by every panel, unique ids, an expression in every target.
func TestRepositoryDashboard(t *testing.T) {
	d, err := loadDashboard(filepath.Join("..", "..", dashboardFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.validate(); err != nil {
		t.Fatal(err)
	}
	qs, err := d.queries()
	if err != nil {
		t.Fatal(err)
	}
	if len(qs) < 20 {
		t.Errorf("got %d queries, want the dashboard's full set (20 or more)", len(qs))
	}
	vars := map[string]string{
		"datasource": "prometheus", "job": "kappa", "pipeline": ".*", "instance": ".*",
		"__rate_interval": "15s", "__interval": "5s", "__range": "1m",
	}
	for _, q := range qs {
		if _, err := interpolate(q.Expr, vars); err != nil {
			t.Errorf("%s: %v", q, err)
		}
	}
}

func TestValidateFindsProblems(t *testing.T) {
	const bad = `{"title": "bad",
	  "templating": {"list": []},
	  "panels": [
	    {"id": 1, "type": "timeseries", "title": "fixed datasource",
	     "datasource": {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"},
	     "targets": [{"refId": "A", "expr": "up", "datasource": {"type": "prometheus", "uid": "${datasource}"}}]},
	    {"id": 1, "type": "row", "title": "row", "panels": [
	      {"id": 2, "type": "stat", "title": "repeated ref", "datasource": {"uid": "${datasource}"},
	       "targets": [{"refId": "A", "expr": "up"}, {"refId": "A", "expr": "up", "datasource": {"uid": "${datasource}"}}]}]}]}`
	var d dashboard
	if err := json.Unmarshal([]byte(bad), &d); err != nil {
		t.Fatal(err)
	}
	err := d.validate()
	if err == nil {
		t.Fatal("got no error, want one per problem")
	}
	for _, want := range []string{
		`no template variable "datasource"`,
		`panels "fixed datasource" and "row" share id 1`,
		`panel "fixed datasource": datasource is not ${datasource}`,
		`panel "repeated ref" target A: datasource is not ${datasource}`,
		`panel "repeated ref": target refId "A" is empty or repeated`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q; got %v", want, err)
		}
	}
}

func TestQueries(t *testing.T) {
	const js = `{"title": "t", "panels": [
	  {"id": 1, "type": "row", "title": "collapsed", "panels": [
	    {"id": 2, "type": "timeseries", "title": "in row", "targets": [{"refId": "A", "expr": "a"}]}]},
	  {"id": 3, "type": "stat", "title": "two", "targets": [{"refId": "A", "expr": "b"}, {"refId": "B", "expr": "c", "hide": true}]},
	  {"id": 4, "type": "stat", "title": "empty", "targets": [{"refId": "A", "expr": " "}]}]}`
	var d dashboard
	if err := json.Unmarshal([]byte(js), &d); err != nil {
		t.Fatal(err)
	}
	_, err := d.queries()
	if err == nil || !strings.Contains(err.Error(), `panel 4 "empty" target A has no expr`) {
		t.Fatalf("got error %v, want the panel without an expression named", err)
	}
	d.Panels = d.Panels[:2]
	got, err := d.queries()
	if err != nil {
		t.Fatal(err)
	}
	want := []query{{Panel: "in row", RefID: "A", Expr: "a"}, {Panel: "two", RefID: "A", Expr: "b"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got queries %+v, want %+v", got, want)
	}
}

func TestInterpolate(t *testing.T) {
	vars := map[string]string{"job": "kappa", "pipeline": ".*", "__rate_interval": "15s", "__range": "1m", "__range_s": "60"}
	for _, tc := range []struct {
		name, expr, want, err string
	}{
		{name: "dollar", expr: `rate(x{job="$job"}[$__rate_interval])`, want: `rate(x{job="kappa"}[15s])`},
		{name: "braces and format", expr: `x{pipeline=~"${pipeline:regex}"} * ${__range_s}`, want: `x{pipeline=~".*"} * 60`},
		{name: "brackets", expr: `x{job="[[job]]"}[$__range]`, want: `x{job="kappa"}[1m]`},
		{name: "longest name", expr: `$__range_s / $__range`, want: `60 / 1m`},
		{name: "regex anchors are not variables", expr: `x{a=~"^b$"}`, want: `x{a=~"^b$"}`},
		{name: "undefined", expr: `x{a="$nope"}[$__interval]`, err: "undefined variable $nope, $__interval"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := interpolate(tc.expr, vars)
			if tc.err != "" {
				if err == nil || err.Error() != tc.err {
					t.Fatalf("got error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

func TestParseLabelValues(t *testing.T) {
	for _, tc := range []struct {
		q, sel, label string
		ok            bool
	}{
		{q: `label_values(kappa_processor_records_in_total, job)`, sel: "kappa_processor_records_in_total", label: "job", ok: true},
		{q: ` label_values( x{a=~"b", c="d,e"} , pipeline ) `, sel: `x{a=~"b", c="d,e"}`, label: "pipeline", ok: true},
		{q: `label_values(instance)`, label: "instance", ok: true},
		{q: `query_result(up)`},
	} {
		sel, label, ok := parseLabelValues(tc.q)
		if sel != tc.sel || label != tc.label || ok != tc.ok {
			t.Errorf("parseLabelValues(%q) = %q, %q, %v; want %q, %q, %v", tc.q, sel, label, ok, tc.sel, tc.label, tc.ok)
		}
	}
}

func TestVariableValue(t *testing.T) {
	values := []string{"a.b:9464", "c"}
	for _, tc := range []struct {
		name string
		v    variable
		want string
	}{
		{name: "all value", v: variable{IncludeAll: true, AllValue: ".*"}, want: ".*"},
		{name: "all as alternation", v: variable{IncludeAll: true}, want: `(a\.b:9464|c)`},
		{name: "first", v: variable{}, want: "a.b:9464"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := variableValue(tc.v, values); got != tc.want {
				t.Errorf("got %s, want %s", got, tc.want)
			}
		})
	}
}

// The generated config keeps the repository's kappa job, points it at the demo, and
// makes the rule files absolute so Prometheus finds them from its temporary directory.
func TestScrapeConfig(t *testing.T) {
	repo := filepath.Join("..", "..", prometheusConfig)
	data, err := scrapeConfig(repo, "127.0.0.1:1234", "fraud", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Global        map[string]string `yaml:"global"`
		RuleFiles     []string          `yaml:"rule_files"`
		ScrapeConfigs []struct {
			JobName       string `yaml:"job_name"`
			MetricsPath   string `yaml:"metrics_path"`
			StaticConfigs []struct {
				Targets []string          `yaml:"targets"`
				Labels  map[string]string `yaml:"labels"`
			} `yaml:"static_configs"`
		} `yaml:"scrape_configs"`
	}
	if err := yaml.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	if got.Global["scrape_interval"] != "1s" || got.Global["evaluation_interval"] != "1s" {
		t.Errorf("global = %v, want scrape and evaluation every 1s", got.Global)
	}
	wantRules := filepath.Join(filepath.Dir(repo), "rules/kappa.rules.yml")
	if !slices.Equal(got.RuleFiles, []string{wantRules}) {
		t.Fatalf("got rule_files %q, want %q", got.RuleFiles, wantRules)
	}
	if _, err := os.Stat(got.RuleFiles[0]); err != nil {
		t.Error(err)
	}
	if len(got.ScrapeConfigs) != 1 || got.ScrapeConfigs[0].JobName != "kappa" || got.ScrapeConfigs[0].MetricsPath != "/metrics" {
		t.Fatalf("scrape_configs = %+v, want the kappa job only", got.ScrapeConfigs)
	}
	sc := got.ScrapeConfigs[0].StaticConfigs
	if len(sc) != 1 || !slices.Equal(sc[0].Targets, []string{"127.0.0.1:1234"}) || sc[0].Labels["pipeline"] != "fraud" {
		t.Errorf("static_configs = %+v, want the demo's address with pipeline=fraud", sc)
	}

	noJob := filepath.Join(t.TempDir(), "prometheus.yml")
	if err := os.WriteFile(noJob, []byte("scrape_configs:\n  - job_name: other\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := scrapeConfig(noJob, "x:1", "p", time.Second); err == nil || !strings.Contains(err.Error(), "no scrape config with job_name: kappa") {
		t.Errorf("got error %v, want the missing kappa job named", err)
	}
}

func TestPromDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		15 * time.Second: "15s", time.Minute: "1m", 90 * time.Second: "90s", 2 * time.Hour: "2h", 1500 * time.Millisecond: "1500ms",
	} {
		if got := promDuration(d); got != want {
			t.Errorf("promDuration(%s) = %s, want %s", d, got, want)
		}
	}
}
