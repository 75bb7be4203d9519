package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
)

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var (
	summaryLine = regexp.MustCompile(`(?m)^kappa: in=(\d+) \(\d+/s\) out=(\d+) \(\d+/s\) lag=\d+ dlq=(\d+) late=\d+ alerts=(\d+) dups=(\d+) drifted=\d+/\d+ commits=(\d+) aborts=\d+ restored=\d+ last_commit=\S+( ago)?$`)
	metricsLine = regexp.MustCompile(`metrics at (http://\S+/metrics)`)
)

// TestDemo runs `kappa demo` (what `make run` runs) with each example pipeline until its
// summary line shows records flowing through committed transactions, checks its metrics,
// and stops it as Ctrl-C would.
func TestDemo(t *testing.T) {
	for _, tt := range []struct {
		file   string
		alerts bool // the fraud pipeline: wait for alerts and duplicates too
	}{
		{"fraud/fraud.yaml", true},
		{"card-features.yaml", false},
		{"card-totals.yaml", false},
	} {
		t.Run(tt.file, func(t *testing.T) { testDemo(t, "../../examples/"+tt.file, tt.alerts) })
	}
}

func testDemo(t *testing.T, file string, alerts bool) {
	var stdout, stderr syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{
			"demo",
			"-f", file,
			"-dir", t.TempDir(),
			"-admin-addr", "127.0.0.1:0",
			"-rate", "2000",
			"-summary-every", "300ms",
		}, &stdout, &stderr)
	}()

	deadline := time.Now().Add(60 * time.Second)
	var m []string
	for {
		for _, l := range summaryLine.FindAllStringSubmatch(stdout.String(), -1) {
			out, _ := strconv.Atoi(l[2])
			n, _ := strconv.Atoi(l[4])
			dups, _ := strconv.Atoi(l[5])
			commits, _ := strconv.Atoi(l[6])
			// Records are counted out when produced, before their transaction commits: wait
			// for a line that shows both.
			if out > 0 && commits > 0 && (!alerts || n > 0 && dups > 0) {
				m = l
			}
		}
		if m != nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("demo ended early: %v\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no summary line with output records and commits (and alerts: %v) within 60s\nstdout:\n%s\nstderr:\n%s", alerts, stdout.String(), stderr.String())
		}
	}
	t.Logf("demo: %s", strings.TrimPrefix(m[0], "kappa: "))

	mm := metricsLine.FindStringSubmatch(stdout.String())
	if mm == nil {
		t.Fatalf("demo did not print its metrics address:\n%s", stdout.String())
	}
	var more []string
	if alerts {
		more = []string{
			"kappa_score_model_info{", "kappa_score_model_loads_total{", "kappa_score_predictions_total", "kappa_score_alerts_total", "kappa_processor_late_records_total{",
			"kappa_processor_duplicates_total{", `kappa_quality_field_value_bucket{field="amount"`, "kappa_drift_threshold 0.2", "kappa_quality_freshness_threshold_seconds",
		}
	}
	checkMetrics(t, mm[1], more...)

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("demo stopped with %v\nstderr:\n%s", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("demo did not stop within 30s of the interrupt")
	}
	if !strings.Contains(stdout.String(), "kappa demo: stopped cleanly") {
		t.Errorf("no clean-stop line in:\n%s", stdout.String())
	}
}

// checkMetrics scrapes url and requires the processor's metrics and franz-go's, with no
// lint problems in Kappa's own.
func checkMetrics(t *testing.T, url string, more ...string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: status %d, %v", url, resp.StatusCode, err)
	}
	text := string(body)
	for _, name := range append([]string{
		"kappa_processor_records_in_total{",
		"kappa_processor_records_out_total{",
		"kappa_processor_transactions_total{",
		"kappa_processor_commit_duration_seconds_bucket{",
		"kappa_processor_rebalances_total",
		"kappa_processor_restored_records_total",
		"kappa_state_disk_usage_bytes",
		"kappa_source_consumer_lag_records{",
		"kappa_kafka_", // franz-go's client metrics through kprom
		"go_goroutines",
		"process_resident_memory_bytes",
	}, more...) {
		if !strings.Contains(text, name) {
			t.Errorf("metrics lack %s", name)
		}
	}
	problems, err := promlint.New(bytes.NewReader(body)).Lint()
	if err != nil {
		t.Fatalf("lint metrics: %v", err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "kappa_processor_") || strings.HasPrefix(p.Metric, "kappa_state_") ||
			strings.HasPrefix(p.Metric, "kappa_source_") || strings.HasPrefix(p.Metric, "kappa_score_") {
			t.Errorf("metric %s: %s", p.Metric, p.Text)
		}
	}
}
