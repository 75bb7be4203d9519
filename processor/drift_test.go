package processor

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/kappa-stream/kappa/drift"
	"github.com/kappa-stream/kappa/pipeline"
)

// The drift tests' stream: one record every 200 ms of event time, amounts log-normal, a
// 10-minute drift window evaluated every minute.
const (
	driftStep   = 200 // ms between records
	driftWindow = 10 * time.Minute
	driftEvery  = time.Minute
)

func driftDef(t testing.TB, name string) *pipeline.Definition {
	t.Helper()
	def := testDef(t, name, true, "in")
	def.Quality.Drift = &pipeline.Drift{
		Features: []string{"amount", "fee"}, Window: driftWindow, Every: driftEvery,
		Threshold: 0.2, MinRecords: 500, Bins: 10,
	}
	if err := def.Validate(); err != nil {
		t.Fatal(err)
	}
	return def
}

// driftAmount is the amount of the i-th record: log-normal, times factor.
func driftAmount(rng *rand.Rand, factor float64) float64 {
	return math.Round(math.Exp(3+rng.NormFloat64())*factor*100) / 100
}

// driftReference profiles n amounts of the unshifted stream (another seed) and fees that
// are missing in a tenth of the records.
func driftReference(t testing.TB, n int) *drift.Reference {
	t.Helper()
	prof, err := drift.NewProfiler([]string{"amount", "fee"}, false, 10, 50_000)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(99, 100))
	for range n {
		prof.AddFeature(0, driftAmount(rng, 1))
		fee := math.NaN()
		if rng.IntN(10) > 0 {
			fee = float64(rng.IntN(5))
		}
		prof.AddFeature(1, fee)
	}
	ref, err := prof.Reference("drift", "test")
	if err != nil {
		t.Fatal(err)
	}
	return ref
}

// driftRecord is a record of the drift topic.
type driftRecord struct {
	Kind        string  `json:"kind"`
	Name        string  `json:"name"`
	Partition   int32   `json:"partition"`
	WindowStart string  `json:"window_start"`
	WindowEnd   string  `json:"window_end"`
	Records     int64   `json:"records"`
	PSI         float64 `json:"psi"`
	Threshold   float64 `json:"threshold"`
	Drifted     bool    `json:"drifted"`
	Counts      []int64 `json:"counts"`
}

// runDrift writes n records, amounts multiplied by factor from record shiftAt on, and runs
// them through processor incarnations that stop after each of the offsets in stops (each
// on a new, empty store: state comes back from the changelog). It returns the drift
// records and the last incarnation's kappa_drift_psi of amount, read before it stopped.
func runDrift(t *testing.T, n, shiftAt int, factor float64, stops ...int) ([]driftRecord, float64) {
	t.Helper()
	def := driftDef(t, fmt.Sprintf("drift-%d-%v", shiftAt, factor))
	k := fakeFor(def, 1, fakeConfig{MaxPerPoll: 100, MaxPerTxn: 1000})
	k.addTopic(def.DriftTopic())
	w := newWorkload(def)
	rng := rand.New(rand.NewPCG(5, 6))
	ref := driftReference(t, 50_000)
	write := func(from, to int) {
		for i := from; i < to; i++ {
			f := 1.0
			if i >= shiftAt {
				f = factor
			}
			at := int64(ts0 + i*driftStep)
			amount := driftAmount(rng, f)
			fee := ""
			if rng.IntN(10) > 0 {
				fee = fmt.Sprintf(`,"fee":%d`, rng.IntN(5))
			}
			w.write(k, "in", 0, inputRec{
				key: []byte("card-1"), aggKey: "card-1", amount: amount, eventTime: at, ts: time.UnixMilli(at),
				value: fmt.Appendf(nil, `{"card":"card-1","amount":%g,"ts":%d%s}`, amount, at, fee),
			})
		}
	}
	var psi float64
	from := 0
	for i, to := range append(slices.Clone(stops), n) {
		write(from, to)
		from = to
		store := openStore(t, vfs.NewMem())
		reg := prometheus.NewRegistry()
		r := startConfig(t, def, store, k.instance(fmt.Sprintf("pod-%d", i), true), func(c *Config) {
			c.Registerer, c.DriftReference = reg, ref
		})
		waitConsumed(t, k, r)
		psi = psiOf(t, reg, "amount")
		if err := r.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
		store.Close()
	}
	checkOutputs(t, k, w)
	var out []driftRecord
	for _, rec := range k.records(def.DriftTopic(), 0) {
		var d driftRecord
		if err := json.Unmarshal(rec.Value, &d); err != nil {
			t.Fatalf("drift record %s: %v", rec.Value, err)
		}
		if want := d.Kind + ":" + d.Name; string(rec.Key) != want {
			t.Fatalf("drift record key %q, want %q", rec.Key, want)
		}
		out = append(out, d)
	}
	return out, psi
}

func parseRFC3339(t testing.TB, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestDriftShift is the must-show of drift: a feature's distribution shifts mid-stream,
// and the PSI of the shifted feature crosses the threshold within one window of the
// shift (metric and drift topic), while an unshifted run, and the unshifted feature of the
// shifted run, stay below it.
func TestDriftShift(t *testing.T) {
	const (
		n       = 2 * 3600 * 1000 / driftStep // two hours of event time
		shiftAt = n / 2
	)
	shift := time.UnixMilli(ts0 + shiftAt*driftStep)

	t.Run("unshifted", func(t *testing.T) {
		recs, psi := runDrift(t, n, n, 1)
		if len(recs) < 200 {
			t.Fatalf("got %d drift records, want about two per minute of event time", len(recs))
		}
		maxPSI := 0.0
		for _, d := range recs {
			maxPSI = max(maxPSI, d.PSI)
			if d.Drifted || d.PSI > 0.2 {
				t.Errorf("%s %s window ending %s: psi %.4f, want below 0.2 (no shift)", d.Kind, d.Name, d.WindowEnd, d.PSI)
			}
		}
		t.Logf("unshifted: %d evaluations, max PSI %.4f", len(recs), maxPSI)
		if got := psi; got > 0.2 || got <= 0 {
			t.Errorf("kappa_drift_psi{name=amount}: got %v, want in (0, 0.2]", got)
		}
	})

	t.Run("shifted", func(t *testing.T) {
		recs, psi := runDrift(t, n, shiftAt, 2.5)
		var first *driftRecord
		for i, d := range recs {
			end := parseRFC3339(t, d.WindowEnd)
			start := parseRFC3339(t, d.WindowStart)
			switch {
			case d.Name == "fee" && d.PSI > 0.2:
				t.Errorf("fee (not shifted), window ending %s: psi %.4f, want below 0.2", d.WindowEnd, d.PSI)
			case d.Name != "amount":
			case !end.After(shift) && d.PSI > 0.2:
				t.Errorf("amount, window ending %s before the shift at %s: psi %.4f, want below 0.2", d.WindowEnd, shift.UTC().Format(time.RFC3339), d.PSI)
			case !start.Before(shift) && (d.PSI <= 0.2 || !d.Drifted):
				t.Errorf("amount, window %s to %s, all after the shift: psi %.4f drifted %v, want above 0.2", d.WindowStart, d.WindowEnd, d.PSI, d.Drifted)
			case first == nil && d.PSI > 0.2:
				first = &recs[i]
			}
		}
		if first == nil {
			t.Fatal("no amount window has a PSI above 0.2")
		}
		end := parseRFC3339(t, first.WindowEnd)
		t.Logf("shifted at %s: first window above the threshold ends %s (%s after the shift), psi %.4f, drifted=%v",
			shift.UTC().Format(time.RFC3339), first.WindowEnd, end.Sub(shift), first.PSI, first.Drifted)
		if end.Sub(shift) > driftWindow {
			t.Errorf("the first window above the threshold ends %s after the shift, want within one window (%s)", end.Sub(shift), driftWindow)
		}
		if got := psi; got <= 0.2 {
			t.Errorf("kappa_drift_psi{name=amount}: got %v, want above 0.2", got)
		}
	})
}

// TestDriftRestart: the drift records are the same, record for record, whether one
// processor ran the stream or three did, each on an empty store restored from the
// changelog.
func TestDriftRestart(t *testing.T) {
	const n = 3600 * 1000 / driftStep
	whole, _ := runDrift(t, n, n/2, 2)
	split, _ := runDrift(t, n, n/2, 2, n/3, n/2+7)
	if len(whole) == 0 || !slices.EqualFunc(whole, split, func(a, b driftRecord) bool {
		return a.Name == b.Name && a.WindowEnd == b.WindowEnd && a.PSI == b.PSI && slices.Equal(a.Counts, b.Counts)
	}) {
		t.Fatalf("drift records: %d in one run, %d over three incarnations, or they differ:\n%v\n%v", len(whole), len(split), whole, split)
	}
}

// psiOf returns the kappa_drift_psi of a feature on partition 0.
func psiOf(t testing.TB, reg *prometheus.Registry, feature string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "kappa_drift_psi" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["kind"] == DriftKindFeature && labels["name"] == feature && labels["partition"] == "0" {
				return m.GetGauge().GetValue()
			}
		}
	}
	t.Fatalf("no kappa_drift_psi series of feature %s on partition 0", feature)
	return 0
}
