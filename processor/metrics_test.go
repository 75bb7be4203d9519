package processor

import (
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestOpsMetrics runs a window pipeline and checks the operational metrics against what it
// did: windows emitted equal the outputs, one end-to-end latency per committed input
// record, a watermark and lag gauges per partition, no restore left; and that the
// processor's metrics pass Prometheus' lint.
func TestOpsMetrics(t *testing.T) {
	def := windowDef(t, "ops", testWindows()["hopping-final"], 30*time.Millisecond, "in")
	k := fakeFor(def, 2, fakeConfig{MaxPerPoll: 9, MaxPerTxn: 40})
	w := windowWorkload(k, def, 21, 200)
	reg := prometheus.NewRegistry()
	store := openStore(t, vfs.NewMem())
	defer store.Close()
	r := startConfig(t, def, store, k.instance("pod-0", true), func(c *Config) { c.Registerer = reg })
	waitConsumed(t, k, r)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	m := r.p.metrics
	var outs int
	for p := range int32(2) {
		outs += len(k.records(def.Output.Topic, p))
	}
	if got := testutil.ToFloat64(m.windows.WithLabelValues("final")); int(got) != outs || outs == 0 {
		t.Errorf("kappa_processor_windows_emitted_total{emit=final} = %v, want the %d outputs", got, outs)
	}
	good, bad := w.count()
	if got := testutil.CollectAndCount(m.latency); got != 1 {
		t.Fatalf("latency histogram: %d series", got)
	}
	if n := histogramCount(t, reg, "kappa_processor_end_to_end_latency_seconds"); n != uint64(good+bad) {
		t.Errorf("end-to-end latency observations: %d, want one per input record (%d)", n, good+bad)
	}
	if got := testutil.ToFloat64(m.restoreLeft); got != 0 {
		t.Errorf("kappa_processor_restore_remaining_records = %v after the run, want 0", got)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "kappa_") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

// TestLagGauges checks the per-partition gauges while a task runs and their removal when it
// closes.
func TestLagGauges(t *testing.T) {
	def := windowDef(t, "lag", testWindows()["hopping-final"], 30*time.Millisecond, "in")
	k := fakeFor(def, 1, fakeConfig{})
	windowWorkload(k, def, 22, 50)
	reg := prometheus.NewRegistry()
	store := openStore(t, vfs.NewMem())
	defer store.Close()
	r := startConfig(t, def, store, k.instance("pod-0", true), func(c *Config) { c.Registerer = reg })
	waitConsumed(t, k, r)
	m := r.p.metrics
	// The records' Kafka timestamps and event times are in 2025: both lags are large and
	// positive; the watermark is a 2025 time in seconds.
	for name, g := range map[string]prometheus.Collector{
		"record age": m.recordAge.WithLabelValues("0"), "event-time lag": m.eventLag.WithLabelValues("0"),
	} {
		if v := testutil.ToFloat64(g); v < 1e5 {
			t.Errorf("%s gauge = %v, want the age of records from 2025", name, v)
		}
	}
	if v := testutil.ToFloat64(m.watermark.WithLabelValues("0")); v < 1.7e9 || v > 1.8e9 {
		t.Errorf("watermark gauge = %v, want a Unix time in seconds near 1.764e9", v)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if n := testutil.CollectAndCount(m.recordAge) + testutil.CollectAndCount(m.watermark); n != 0 {
		t.Errorf("%d per-partition series left after the tasks closed", n)
	}
}

func histogramCount(t *testing.T, reg *prometheus.Registry, name string) uint64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			return mf.GetMetric()[0].GetHistogram().GetSampleCount()
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}
