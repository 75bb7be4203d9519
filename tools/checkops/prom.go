package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"
)

// scrapeConfig generates the Prometheus config of the check from the repository's
// prometheus.yml: its kappa job, pointed at the demo's admin address with the demo
// pipeline's label and scraped every interval, and its rule files, made absolute. The
// other jobs are dropped: their targets do not exist here.
func scrapeConfig(repoConfig, target, pipelineName string, interval time.Duration) ([]byte, error) {
	data, err := os.ReadFile(repoConfig)
	if err != nil {
		return nil, err
	}
	var cfg map[string]any
	if err := yaml.Unmarshal(data, &cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", repoConfig, err)
	}
	jobs, _ := cfg["scrape_configs"].([]any)
	var kappa map[string]any
	for _, j := range jobs {
		if job, ok := j.(map[string]any); ok && job["job_name"] == "kappa" {
			kappa = job
		}
	}
	if kappa == nil {
		return nil, fmt.Errorf("%s: no scrape config with job_name: kappa (the alerts and the dashboard select job=\"kappa\")", repoConfig)
	}
	kappa["static_configs"] = []any{map[string]any{
		"targets": []any{target},
		"labels":  map[string]any{"pipeline": pipelineName},
	}}
	kappa["scrape_interval"] = interval.String()
	kappa["scrape_timeout"] = interval.String()
	cfg["scrape_configs"] = []any{kappa}
	cfg["global"] = map[string]any{
		"scrape_interval":     interval.String(),
		"scrape_timeout":      interval.String(),
		"evaluation_interval": interval.String(),
	}
	files, _ := cfg["rule_files"].([]any)
	for i, f := range files {
		if s, ok := f.(string); ok && !filepath.IsAbs(s) {
			files[i] = filepath.Join(filepath.Dir(repoConfig), s)
		}
	}
	return yaml.Marshal(cfg)
}

// promAPI is a client of the Prometheus HTTP API (/api/v1).
type promAPI struct {
	base string // http://host:port
	http *http.Client
}

func newPromAPI(addr string) *promAPI {
	return &promAPI{base: "http://" + addr, http: &http.Client{Timeout: 10 * time.Second}}
}

// apiResponse is the envelope of every /api/v1 answer.
type apiResponse struct {
	Status    string          `json:"status"`
	Data      json.RawMessage `json:"data"`
	ErrorType string          `json:"errorType"`
	Error     string          `json:"error"`
}

func (p *promAPI) get(ctx context.Context, path string, params url.Values, into any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.base+path+"?"+params.Encode(), nil)
	if err != nil {
		return err
	}
	resp, err := p.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	var r apiResponse
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("%s: %s: %.200s", path, resp.Status, body)
	}
	if r.Status != "success" {
		return fmt.Errorf("%s: %s: %s", r.ErrorType, resp.Status, r.Error)
	}
	if into == nil {
		return nil
	}
	return json.Unmarshal(r.Data, into)
}

// result is an instant query's answer: how many series, and how many of them have a
// number (not NaN) as their value.
type result struct {
	Series  int
	Numbers int
	First   string // the first series' value, for -v
}

// instant runs an instant query at time t and counts the series it returns.
func (p *promAPI) instant(ctx context.Context, expr string, t time.Time) (result, error) {
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	params := url.Values{"query": {expr}, "time": {strconv.FormatFloat(float64(t.UnixMilli())/1000, 'f', 3, 64)}}
	if err := p.get(ctx, "/api/v1/query", params, &data); err != nil {
		return result{}, err
	}
	switch data.ResultType {
	case "vector":
		var v []struct {
			Value [2]any `json:"value"`
		}
		if err := json.Unmarshal(data.Result, &v); err != nil {
			return result{}, err
		}
		r := result{Series: len(v)}
		if len(v) > 0 {
			r.First, _ = v[0].Value[1].(string)
		}
		for _, s := range v {
			if isNumber(s.Value[1]) {
				r.Numbers++
			}
		}
		return r, nil
	case "scalar":
		var s [2]any
		if err := json.Unmarshal(data.Result, &s); err != nil {
			return result{}, err
		}
		r := result{Series: 1}
		r.First, _ = s[1].(string)
		if isNumber(s[1]) {
			r.Numbers = 1
		}
		return r, nil
	default:
		return result{}, fmt.Errorf("unexpected result type %q of an instant query", data.ResultType)
	}
}

// isNumber reports whether a sample value (a string in the API) is a number, not NaN.
func isNumber(v any) bool {
	s, ok := v.(string)
	if !ok {
		return false
	}
	f, err := strconv.ParseFloat(s, 64)
	return err == nil && !math.IsNaN(f)
}

// labelValues is Grafana's label_values(selector, label): the values of label among the
// series selector matches over the last window (every series when selector is empty).
func (p *promAPI) labelValues(ctx context.Context, selector, label string, window time.Duration, now time.Time) ([]string, error) {
	params := url.Values{
		"start": {strconv.FormatInt(now.Add(-window).Unix(), 10)},
		"end":   {strconv.FormatInt(now.Unix(), 10)},
	}
	if selector != "" {
		params.Set("match[]", selector)
	}
	var values []string
	if err := p.get(ctx, "/api/v1/label/"+url.PathEscape(label)+"/values", params, &values); err != nil {
		return nil, err
	}
	return values, nil
}

// ruleHealth counts the loaded rules and lists those whose last evaluation failed.
func (p *promAPI) ruleHealth(ctx context.Context) (total int, broken []string, err error) {
	var data struct {
		Groups []struct {
			Name  string `json:"name"`
			File  string `json:"file"`
			Rules []struct {
				Name      string `json:"name"`
				Health    string `json:"health"`
				LastError string `json:"lastError"`
			} `json:"rules"`
		} `json:"groups"`
	}
	if err := p.get(ctx, "/api/v1/rules", url.Values{}, &data); err != nil {
		return 0, nil, err
	}
	for _, g := range data.Groups {
		for _, r := range g.Rules {
			total++
			if r.Health != "ok" {
				broken = append(broken, fmt.Sprintf("%s/%s: health %s %s", g.Name, r.Name, r.Health, r.LastError))
			}
		}
	}
	return total, broken, nil
}

// firingAlerts lists the alerts firing now, by name and labels.
func (p *promAPI) firingAlerts(ctx context.Context) ([]string, error) {
	var data struct {
		Alerts []struct {
			Labels map[string]string `json:"labels"`
			State  string            `json:"state"`
		} `json:"alerts"`
	}
	if err := p.get(ctx, "/api/v1/alerts", url.Values{}, &data); err != nil {
		return nil, err
	}
	var out []string
	for _, a := range data.Alerts {
		if a.State == "firing" {
			out = append(out, fmt.Sprintf("%s%v", a.Labels["alertname"], a.Labels))
		}
	}
	return out, nil
}
