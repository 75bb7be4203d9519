package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kappa-stream/kappa/pipeline"
)

// dashboardFlags are the settings of the dashboard check.
type dashboardFlags struct {
	kappa          string
	pipeline       string
	dashboard      string
	config         string
	scrapeInterval time.Duration
	scrapes        int
	rateInterval   time.Duration
	interval       time.Duration
	rangeDur       time.Duration
	settle         time.Duration
	timeout        time.Duration
	keep           bool
	verbose        bool
}

func runDashboard(ctx context.Context, root string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("dashboard", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f dashboardFlags
	fs.StringVar(&f.kappa, "kappa", "", "kappa binary to run (default: build ./cmd/kappa into a temporary directory)")
	fs.StringVar(&f.pipeline, "f", "examples/fraud/fraud.yaml", "pipeline for `kappa demo` (one with windows, scoring and alerts, so every panel has data)")
	fs.StringVar(&f.dashboard, "dashboard", dashboardFile, "Grafana dashboard JSON whose queries to check")
	fs.StringVar(&f.config, "config", prometheusConfig, "Prometheus config whose kappa job and rule files the generated config takes")
	fs.DurationVar(&f.scrapeInterval, "scrape-interval", time.Second, "how often Prometheus scrapes the demo")
	fs.IntVar(&f.scrapes, "scrapes", 20, "successful scrapes of the demo to wait for before querying")
	fs.DurationVar(&f.rateInterval, "rate-interval", 15*time.Second, "value of $__rate_interval")
	fs.DurationVar(&f.interval, "interval", 5*time.Second, "value of $__interval")
	fs.DurationVar(&f.rangeDur, "range", time.Minute, "value of $__range (the dashboard's time range)")
	fs.DurationVar(&f.settle, "settle", 30*time.Second, "how long to keep asking queries that return nothing before failing them (some series appear only once windows close)")
	fs.DurationVar(&f.timeout, "timeout", 5*time.Minute, "give up on the whole check after this long")
	fs.BoolVar(&f.keep, "keep", false, "keep the temporary directory (logs, Prometheus config and data)")
	fs.BoolVar(&f.verbose, "v", false, "print every query with its series count")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("dashboard: unexpected arguments %q", fs.Args())
	}
	for _, p := range []*string{&f.pipeline, &f.dashboard, &f.config, &f.kappa} {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(root, *p)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	return checkDashboard(ctx, root, f, stdout, stderr)
}

func checkDashboard(ctx context.Context, root string, f dashboardFlags, stdout, stderr io.Writer) (err error) {
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, "checkops: "+format+"\n", args...) }

	d, err := loadDashboard(f.dashboard)
	if err != nil {
		return err
	}
	if err := d.validate(); err != nil {
		return err
	}
	queries, err := d.queries()
	if err != nil {
		return err
	}
	def, err := pipeline.Load(f.pipeline)
	if err != nil {
		return err
	}
	prometheusBin, _, err := ensurePrometheus(ctx, root, stderr)
	if err != nil {
		return err
	}

	tmp, err := os.MkdirTemp("", "checkops-")
	if err != nil {
		return err
	}
	defer func() {
		if f.keep || err != nil {
			logf("logs, config and data kept in %s", tmp)
			return
		}
		os.RemoveAll(tmp)
	}()

	kappaBin := f.kappa
	if kappaBin == "" {
		kappaBin = filepath.Join(tmp, "kappa")
		logf("building ./cmd/kappa")
		goCmd := os.Getenv("GO")
		if goCmd == "" {
			goCmd = "go"
		}
		if err := command(ctx, root, stderr, stderr, goCmd, "build", "-o", kappaBin, "./cmd/kappa").Run(); err != nil {
			return fmt.Errorf("build ./cmd/kappa: %w", err)
		}
	}

	adminAddr, err := freeAddr()
	if err != nil {
		return err
	}
	demo, err := startProcess("kappa demo", filepath.Join(tmp, "kappa.log"), root, kappaBin,
		"demo", "-f", f.pipeline, "-dir", filepath.Join(tmp, "demo"), "-admin-addr", adminAddr)
	if err != nil {
		return err
	}
	// Stopped last, after Prometheus, and given the time to commit and leave its group.
	defer demo.stop(30 * time.Second)
	logf("kappa demo of pipeline %q (%s) serving metrics at %s", def.Name, rel(root, f.pipeline), adminAddr)
	if err := waitHTTP(ctx, demo, "http://"+adminAddr+"/readyz", 2*time.Minute); err != nil {
		return err
	}

	promAddr, err := freeAddr()
	if err != nil {
		return err
	}
	cfg, err := scrapeConfig(f.config, adminAddr, def.Name, f.scrapeInterval)
	if err != nil {
		return err
	}
	cfgPath := filepath.Join(tmp, "prometheus.yml")
	if err := os.WriteFile(cfgPath, cfg, 0o644); err != nil {
		return err
	}
	prom, err := startProcess("prometheus", filepath.Join(tmp, "prometheus.log"), tmp, prometheusBin,
		"--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(tmp, "data"),
		"--web.listen-address="+promAddr, "--storage.tsdb.retention.time=1h")
	if err != nil {
		return err
	}
	defer prom.stop(15 * time.Second)
	logf("prometheus at http://%s scraping every %s with config generated from %s", promAddr, f.scrapeInterval, rel(root, f.config))
	if err := waitHTTP(ctx, prom, "http://"+promAddr+"/-/ready", time.Minute); err != nil {
		return err
	}
	api := newPromAPI(promAddr)

	if err := waitScrapes(ctx, api, demo, f.scrapes, logf); err != nil {
		return err
	}

	vars, varProblems := resolveVariables(ctx, api, d, f, time.Now())
	for _, p := range varProblems {
		fmt.Fprintf(stdout, "dashboard: variable: %s\n", p)
	}
	fmt.Fprintf(stdout, "dashboard_variables=%d/%d\n", countVariables(d)-len(varProblems), countVariables(d))

	answered, notes := evaluate(ctx, api, queries, vars, f, logf)

	total, broken, err := api.ruleHealth(ctx)
	if err != nil {
		return fmt.Errorf("prometheus rules: %w", err)
	}
	for _, b := range broken {
		fmt.Fprintf(stdout, "dashboard: rule not healthy: %s\n", b)
	}
	fmt.Fprintf(stdout, "rule_health=%d/%d\n", total-len(broken), total)
	if firing, err := api.firingAlerts(ctx); err == nil {
		for _, a := range firing {
			fmt.Fprintf(stdout, "dashboard: alert firing on the demo: %s\n", a)
		}
	}

	for _, n := range notes {
		fmt.Fprintln(stdout, n)
	}
	fmt.Fprintf(stdout, "dashboard_queries=%d/%d\n", answered, len(queries))
	if answered < len(queries) || len(varProblems) > 0 || len(broken) > 0 || total == 0 {
		return errCheckFailed
	}
	return nil
}

// waitScrapes waits until Prometheus has scraped the demo successfully n times and has
// its records counter, so that rates over $__rate_interval have samples.
func waitScrapes(ctx context.Context, api *promAPI, demo *process, n int, logf func(string, ...any)) error {
	expr := fmt.Sprintf(`sum_over_time(up{job="kappa"}[10m]) >= %d and on() count(kappa_processor_records_in_total{job="kappa"}) > 0`, n)
	start := time.Now()
	for {
		if done, err := demo.exited(); done {
			return fmt.Errorf("kappa demo exited (%s) while Prometheus scraped it; its log %s ends:\n%s", exitStatus(err), demo.log, demo.logTail(20))
		}
		r, err := api.instant(ctx, expr, time.Now())
		if err == nil && r.Series == 0 {
			err = fmt.Errorf("%s returned nothing", expr)
		}
		if err == nil {
			logf("%d scrapes of the demo in %s", n, time.Since(start).Round(time.Second))
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("prometheus did not scrape the demo %d times (last error: %w): %w", n, err, ctx.Err())
		case <-time.After(time.Second):
		}
	}
}

func countVariables(d *dashboard) int {
	n := 0
	for _, v := range d.Templating.List {
		if v.Type == "query" {
			n++
		}
	}
	return n
}

// resolveVariables gives every dashboard variable the value Grafana would, in the order
// the dashboard lists them (a variable's query may use the ones before it), plus
// Grafana's built-in variables; a query variable whose query returns no value is a
// problem, since the panels that use it would show nothing.
func resolveVariables(ctx context.Context, api *promAPI, d *dashboard, f dashboardFlags, now time.Time) (map[string]string, []string) {
	vars := map[string]string{
		"__rate_interval":    promDuration(f.rateInterval),
		"__rate_interval_ms": strconv.FormatInt(f.rateInterval.Milliseconds(), 10),
		"__interval":         promDuration(f.interval),
		"__interval_ms":      strconv.FormatInt(f.interval.Milliseconds(), 10),
		"__range":            promDuration(f.rangeDur),
		"__range_s":          strconv.FormatInt(int64(f.rangeDur.Seconds()), 10),
		"__range_ms":         strconv.FormatInt(f.rangeDur.Milliseconds(), 10),
	}
	var problems []string
	for _, v := range d.Templating.List {
		q := v.queryString()
		switch v.Type {
		case "datasource":
			// Panels name the datasource by ${datasource}; the check has exactly one.
			vars[v.Name] = "prometheus"
		case "query":
			iq, err := interpolate(q, vars)
			if err != nil {
				problems = append(problems, fmt.Sprintf("$%s: %v", v.Name, err))
				continue
			}
			sel, label, ok := parseLabelValues(iq)
			if !ok {
				problems = append(problems, fmt.Sprintf("$%s: query %q is not label_values(selector, label), the only kind the check resolves", v.Name, q))
				continue
			}
			values, err := api.labelValues(ctx, sel, label, f.rangeDur, now)
			if err != nil {
				problems = append(problems, fmt.Sprintf("$%s: %s: %v", v.Name, iq, err))
				continue
			}
			if len(values) == 0 {
				problems = append(problems, fmt.Sprintf("$%s: %s returned no value", v.Name, iq))
			}
			vars[v.Name] = variableValue(v, values)
		case "custom", "interval":
			vars[v.Name] = variableValue(v, strings.Split(q, ","))
		default: // constant, textbox
			vars[v.Name] = q
		}
	}
	return vars, problems
}

// evaluate runs every query, asking again those that return nothing until f.settle has
// passed, and returns how many answered with at least one series and the lines to print
// about the others (and about answers that are all NaN, which a panel shows as empty).
func evaluate(ctx context.Context, api *promAPI, queries []query, vars map[string]string, f dashboardFlags, logf func(string, ...any)) (int, []string) {
	type state struct {
		expr string
		res  result
		err  error
	}
	states := make([]state, len(queries))
	for i, q := range queries {
		states[i].expr, states[i].err = interpolate(q.Expr, vars)
	}
	deadline := time.Now().Add(f.settle)
	asked := false
	for {
		pending := 0
		now := time.Now()
		for i := range states {
			s := &states[i]
			if s.res.Series > 0 || (s.err != nil && s.expr == "") {
				continue
			}
			s.res, s.err = api.instant(ctx, s.expr, now)
			if s.res.Series == 0 {
				pending++
			}
		}
		if pending == 0 || time.Now().After(deadline) || ctx.Err() != nil {
			break
		}
		if !asked {
			logf("%d of %d queries returned nothing yet; asking them again for up to %s", pending, len(queries), f.settle)
			asked = true
		}
		select {
		case <-ctx.Done():
		case <-time.After(2 * time.Second):
		}
	}

	answered := 0
	var notes []string
	for i, q := range queries {
		s := states[i]
		if f.verbose {
			logf("%d series (first %s): %s", s.res.Series, s.res.First, s.expr)
		}
		switch {
		case s.res.Series > 0:
			answered++
			if s.res.Numbers == 0 {
				notes = append(notes, fmt.Sprintf("dashboard: only NaN: %s", q))
			}
		case s.err != nil:
			notes = append(notes, fmt.Sprintf("dashboard: error: %s: %v", q, s.err))
		default:
			notes = append(notes, fmt.Sprintf("dashboard: no series: %s", q))
		}
	}
	return answered, notes
}

// promDuration writes d as a PromQL duration: 15s, 1m, 500ms.
func promDuration(d time.Duration) string {
	switch {
	case d%time.Hour == 0:
		return fmt.Sprintf("%dh", d/time.Hour)
	case d%time.Minute == 0:
		return fmt.Sprintf("%dm", d/time.Minute)
	case d%time.Second == 0:
		return fmt.Sprintf("%ds", d/time.Second)
	default:
		return fmt.Sprintf("%dms", d/time.Millisecond)
	}
}

func rel(root, path string) string {
	if r, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(r, "..") {
		return r
	}
	return path
}
