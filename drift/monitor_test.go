package drift_test

import (
	"cmp"
	"errors"
	"maps"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kappa-stream/kappa/drift"
)

const (
	second = 1000
	minute = 60 * second
	hour   = 60 * minute
	day    = 24 * hour
)

// lognormal draws amounts of a lognormal distribution (median e^3 ≈ 20, σ 1).
func lognormal(r *rand.Rand) float64 { return math.Exp(3 + r.NormFloat64()) }

// lognormalBins profiles 200 000 lognormal values into 10 bins.
func lognormalBins(t testing.TB) *drift.Bins {
	t.Helper()
	p, err := drift.NewProfiler([]string{"amount"}, false, 10, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 200_000 {
		p.AddFeature(0, lognormal(r))
	}
	ref, err := p.Reference("test", "lognormal")
	if err != nil {
		t.Fatal(err)
	}
	return ref.Features["amount"]
}

func newMonitor(t testing.TB, c drift.Config) *drift.Monitor {
	t.Helper()
	m, err := drift.NewMonitor(c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestMonitorShift is the property drift monitoring exists for: a stream drawn from the
// reference distribution stays well below the 0.2 threshold, and a shift (amounts doubled)
// crosses it within one window and stays above while the windows hold only shifted records.
func TestMonitorShift(t *testing.T) {
	ref := lognormalBins(t)
	const shiftAt = 90 * minute
	run := func(shift bool) []drift.Result {
		m := newMonitor(t, drift.Config{Series: []*drift.Bins{ref}, Window: 10 * minute, Every: minute, MinRecords: 500})
		r := rand.New(rand.NewPCG(3, 4))
		var out []drift.Result
		for ts := int64(0); ts < 3*hour; ts += 100 { // 10 records per second
			v := lognormal(r)
			if shift && ts >= shiftAt {
				v *= 2
			}
			var late bool
			if out, late = m.Add(out, ts, []float64{v}); late {
				t.Fatalf("record at %d is late", ts)
			}
		}
		// Windows end at 1, 2, ... 179 minutes; the first ones are partial, but even the
		// first holds 600 records.
		if len(out) != 179 || out[0].End != minute || out[178].End != 179*minute {
			t.Fatalf("%d results, want 179 ending at 1 to 179 minutes", len(out))
		}
		return out
	}

	maxPSI := 0.0
	for _, r := range run(false) {
		maxPSI = max(maxPSI, r.PSI)
	}
	t.Logf("unshifted: max PSI %.4f over 179 windows", maxPSI)
	if maxPSI >= 0.1 {
		t.Errorf("unshifted: max PSI %.4f, want below 0.1", maxPSI)
	}

	var first *drift.Result
	shifted := run(true)
	for i, r := range shifted {
		if first == nil && r.PSI > 0.2 {
			first = &shifted[i]
		}
		if r.Start >= shiftAt && r.PSI <= 0.2 {
			t.Errorf("window [%d, %d) lies after the shift, but its PSI is %.4f", r.Start, r.End, r.PSI)
		}
	}
	if first == nil {
		t.Fatal("shifted: no PSI above 0.2")
	}
	t.Logf("shifted at %d min: first PSI above 0.2 at the window ending %d min (%.0f min after the shift): PSI %.4f",
		shiftAt/minute, first.End/minute, float64(first.End-shiftAt)/minute, first.PSI)
	if first.End <= shiftAt || first.End > shiftAt+10*minute {
		t.Errorf("first PSI above 0.2 at the window ending %d; want within one window after the shift at %d", first.End, shiftAt)
	}
}

// record is one call of Add.
type record struct {
	t      int64
	values []float64
}

// jittery makes a stream of two series (a feature with 5% missing values and a score), 5
// records per second of event time with up to 40 s of disorder, some records far behind,
// and a jump of a day in the middle.
func jittery() []record {
	r := rand.New(rand.NewPCG(5, 6))
	var out []record
	add := func(base int64) {
		ts := base + r.Int64N(40*second) - 20*second
		if r.IntN(200) == 0 {
			ts -= 10 * minute // late unless the window still covers it
		}
		v := lognormal(r)
		if r.IntN(20) == 0 {
			v = math.NaN()
		}
		out = append(out, record{t: ts, values: []float64{v, r.Float64()}})
	}
	for base := int64(0); base < hour; base += 200 {
		add(base)
	}
	for base := int64(day); base < day+20*minute; base += 200 {
		add(base)
	}
	return out
}

func jitteryConfig(t testing.TB) drift.Config {
	score := &drift.Bins{Edges: []float64{0.25, 0.5, 0.75}, Proportions: []float64{0.25, 0.25, 0.25, 0.25, 0}}
	return drift.Config{
		Series: []*drift.Bins{lognormalBins(t), score},
		Window: 5 * minute, Every: minute, MinRecords: 50, OutOfOrderness: 30 * second,
	}
}

// store is what a processor keeps of a monitor: its panes by key and its clock.
type store struct {
	clock []byte
	panes map[string][]byte
}

// commit writes the monitor's changes to s, as a processor's transaction does.
func (s *store) commit(t *testing.T, m *drift.Monitor) {
	t.Helper()
	changed, deleted, clockChanged := m.Changes()
	if !slices.IsSortedFunc(changed, func(a, b drift.Pane) int { return cmp.Compare(a.Start, b.Start) }) || !slices.IsSorted(deleted) {
		t.Fatalf("changes out of order: %v, %v", changed, deleted)
	}
	for _, start := range deleted {
		k := string(drift.AppendPaneKey(nil, start))
		if _, ok := s.panes[k]; !ok {
			t.Fatalf("pane %d deleted, but it was never reported", start)
		}
		delete(s.panes, k)
	}
	for _, p := range changed {
		s.panes[string(drift.AppendPaneKey(nil, p.Start))] = drift.AppendPane(nil, p)
	}
	if clockChanged {
		s.clock = drift.AppendClock(nil, m.Clock())
	}
	m.ResetChanges()
	if c, d, cc := m.Changes(); len(c) > 0 || len(d) > 0 || cc {
		t.Fatalf("changes after ResetChanges: %v %v %v", c, d, cc)
	}
}

// restore builds a new monitor from s, reading the panes in key order.
func (s *store) restore(t *testing.T, c drift.Config) *drift.Monitor {
	t.Helper()
	m := newMonitor(t, c)
	if s.clock == nil {
		return m
	}
	clock, err := drift.DecodeClock(s.clock)
	if err != nil {
		t.Fatal(err)
	}
	var panes []drift.Pane
	for _, k := range slices.Sorted(maps.Keys(s.panes)) {
		start, err := drift.ParsePaneKey([]byte(k))
		if err != nil {
			t.Fatal(err)
		}
		p, err := drift.DecodePane(start, s.panes[k])
		if err != nil {
			t.Fatal(err)
		}
		panes = append(panes, p)
	}
	if err := m.Restore(clock, panes); err != nil {
		t.Fatal(err)
	}
	if got := m.Clock(); got != clock {
		t.Fatalf("restored clock %+v, want %+v", got, clock)
	}
	return m
}

// outcome is what a stream gave: the results and which records were late.
type outcome struct {
	results []drift.Result
	late    []int
}

// TestMonitorRestart is the determinism test: a monitor stopped anywhere and rebuilt with
// Restore from what Changes reported gives exactly the results of one that never stopped,
// however often the changes were written.
func TestMonitorRestart(t *testing.T) {
	c := jitteryConfig(t)
	recs := jittery()
	run := func(cut, every int) outcome {
		s := &store{panes: map[string][]byte{}}
		m := newMonitor(t, c)
		var o outcome
		for i, r := range recs {
			if i == cut {
				s.commit(t, m)
				m = s.restore(t, c)
			}
			var late bool
			if o.results, late = m.Add(o.results, r.t, r.values); late {
				o.late = append(o.late, i)
			}
			if (i+1)%every == 0 {
				s.commit(t, m)
			}
		}
		return o
	}
	want := run(-1, len(recs))
	if len(want.results) < 100 || len(want.late) == 0 {
		t.Fatalf("the stream gave %d results and %d late records; want a stream that tests more", len(want.results), len(want.late))
	}
	t.Logf("%d records, %d results, %d late", len(recs), len(want.results), len(want.late))
	for _, cut := range []int{-1, 0, 1, 777, len(recs) / 3, len(recs) / 2, 18_001, len(recs) - 1} {
		for _, every := range []int{1, 97, 5000} {
			got := run(cut, every)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("cut at %d, changes written every %d records: %d results, %d late; want %d, %d (first difference at result %d)",
					cut, every, len(got.results), len(got.late), len(want.results), len(want.late), firstDiff(got.results, want.results))
			}
		}
	}
}

func firstDiff(a, b []drift.Result) int {
	for i := range min(len(a), len(b)) {
		if !reflect.DeepEqual(a[i], b[i]) {
			return i
		}
	}
	return min(len(a), len(b))
}

// TestMonitorLate: a record whose pane no window still to come covers is late and not
// counted; one before the watermark but in such a pane is counted.
func TestMonitorLate(t *testing.T) {
	bins := &drift.Bins{Edges: []float64{10}, Proportions: []float64{0.5, 0.5, 0}}
	m := newMonitor(t, drift.Config{Series: []*drift.Bins{bins}, Window: 3 * minute, Every: minute, MinRecords: 1})
	nan := math.NaN()
	type want struct {
		late    bool
		results []drift.Result
	}
	res := func(end int64, counts ...int64) drift.Result {
		var n int64
		for _, c := range counts {
			n += c
		}
		return drift.Result{Start: end - 3*minute, End: end, Records: n, Counts: counts, PSI: drift.PSI(bins.Proportions, counts)}
	}
	for _, step := range []struct {
		t    int64
		v    float64
		want want
	}{
		{0, 5, want{}},
		// The watermark reaches 4 min: the windows ending at 1, 2 and 3 min hold the first
		// record; the window ending at 4 min holds none and is skipped.
		{4 * minute, 20, want{results: []drift.Result{res(minute, 1, 0, 0), res(2*minute, 1, 0, 0), res(3*minute, 1, 0, 0)}}},
		// The next window is [2 min, 5 min): a record at 1 min 5 s is late.
		{minute + 5*second, nan, want{late: true}},
		// One at 2 min is behind the watermark but counted.
		{2 * minute, nan, want{}},
		{5 * minute, 5, want{results: []drift.Result{res(5*minute, 0, 1, 1)}}},
	} {
		got, late := m.Add(nil, step.t, []float64{step.v})
		if late != step.want.late || !reflect.DeepEqual(got, step.want.results) {
			t.Errorf("Add(%d) = %+v, late %v; want %+v, late %v", step.t, got, late, step.want.results, step.want.late)
		}
	}
	if got, want := m.Clock(), (drift.Clock{MaxEventTime: 5 * minute, Emitted: 5 * minute, Started: true}); got != want {
		t.Errorf("clock %+v, want %+v", got, want)
	}
	for _, ts := range []int64{drift.MinTime - 1, drift.MaxTime + 1, math.MinInt64} {
		if _, late := m.Add(nil, ts, []float64{1}); !late {
			t.Errorf("Add(%d) counted; want it refused as out of range", ts)
		}
	}
}

// TestMonitorOutOfOrderness: the watermark trails the largest event time, so a window is
// evaluated only when the watermark reaches its end, and records up to then still count.
func TestMonitorOutOfOrderness(t *testing.T) {
	bins := &drift.Bins{Proportions: []float64{1, 0}}
	m := newMonitor(t, drift.Config{Series: []*drift.Bins{bins}, Window: minute, Every: minute, MinRecords: 1, OutOfOrderness: 30 * second})
	for _, step := range []struct {
		t       int64
		late    bool
		records []int64 // of the results
	}{
		{10 * second, false, nil},
		{70 * second, false, nil}, // watermark 40 s
		{50 * second, false, nil}, // in the open window [0, 60 s)
		{89 * second, false, nil}, // watermark 59 s
		{90 * second, false, []int64{2}},
		{59 * second, true, nil},
		{150 * second, false, []int64{3}}, // [60 s, 120 s): 70, 89, 90 s
	} {
		got, late := m.Add(nil, step.t, []float64{1})
		var records []int64
		for _, r := range got {
			records = append(records, r.Records)
		}
		if late != step.late || !slices.Equal(records, step.records) {
			t.Errorf("Add(%d): results of %v records, late %v; want %v, %v", step.t, records, late, step.records, step.late)
		}
	}
}

// TestMonitorJump: a jump of a year in event time evaluates the windows that hold records
// and skips the half million empty ones without visiting them.
func TestMonitorJump(t *testing.T) {
	bins := &drift.Bins{Proportions: []float64{1, 0}}
	m := newMonitor(t, drift.Config{Series: []*drift.Bins{bins}, Window: 10 * minute, Every: minute, MinRecords: 1})
	var out []drift.Result
	for ts := int64(0); ts < 30*minute; ts += second {
		out, _ = m.Add(out, ts, []float64{1})
	}
	if len(out) != 29 {
		t.Fatalf("%d results before the jump, want 29", len(out))
	}
	const year = 365 * day
	out, late := m.Add(out[:0], year+30*second, []float64{1})
	if late {
		t.Fatal("the record after the jump is late")
	}
	// Windows ending at 30 to 39 min hold the records of minutes 20 to 29.
	if len(out) != 10 || out[0].End != 30*minute || out[9].End != 39*minute || out[9].Records != 60 {
		t.Fatalf("%d results after the jump (%+v ...), want 10 ending at 30 to 39 min", len(out), out[0])
	}
	if got := m.Clock().Emitted; got != year {
		t.Errorf("emitted %d after the jump, want %d", got, int64(year))
	}
	out, _ = m.Add(out[:0], year+minute, []float64{1})
	if len(out) != 1 || out[0].End != year+minute || out[0].Records != 1 {
		t.Errorf("after the jump: %+v, want the window ending at %d with 1 record", out, int64(year+minute))
	}
	// The same from the first record: nothing to evaluate, nothing to visit.
	m = newMonitor(t, drift.Config{Series: []*drift.Bins{bins}, Window: 10 * minute, Every: minute, MinRecords: 1})
	m.Add(nil, -year, []float64{1})
	if out, _ := m.Add(nil, year, []float64{1}); len(out) != 10 || out[0].End != -year+minute {
		t.Errorf("jump from the first record: %d results, want the 10 windows of the first", len(out))
	}
}

func TestMonitorNegativeTimes(t *testing.T) {
	bins := &drift.Bins{Proportions: []float64{1, 0}}
	m := newMonitor(t, drift.Config{Series: []*drift.Bins{bins}, Window: 2 * minute, Every: minute, MinRecords: 1})
	m.Add(nil, -1, []float64{1})
	if got := m.Clock(); got.Emitted != -minute {
		t.Errorf("the pane of -1 ms starts at %d, want %d", got.Emitted, -minute)
	}
	out, _ := m.Add(nil, 0, []float64{1})
	if len(out) != 1 || out[0].Start != -2*minute || out[0].End != 0 || out[0].Records != 1 {
		t.Errorf("got %+v, want [-2 min, 0) with 1 record", out)
	}
}

// TestMonitorMinRecords: a window with fewer records than MinRecords gives no result.
func TestMonitorMinRecords(t *testing.T) {
	bins := &drift.Bins{Proportions: []float64{1, 0}}
	m := newMonitor(t, drift.Config{Series: []*drift.Bins{bins, bins}, Window: minute, Every: minute, MinRecords: 3})
	var out []drift.Result
	for _, ts := range []int64{0, 1, minute, minute + 1, minute + 2, 2 * minute, 3 * minute} {
		out, _ = m.Add(out, ts, []float64{1, math.NaN()})
	}
	// [0, 1 min) has 2 records: nothing. [1 min, 2 min) has 3: one result per series.
	if len(out) != 2 || out[0].End != 2*minute || out[0].Series != 0 || out[1].Series != 1 {
		t.Fatalf("got %+v, want the two series of the window ending at 2 min", out)
	}
	if !slices.Equal(out[1].Counts, []int64{0, 3}) || out[1].PSI < 1 {
		t.Errorf("series 1 (all missing): counts %v PSI %g, want [0 3] and a large PSI", out[1].Counts, out[1].PSI)
	}
}

func TestMonitorAddPanicsOnLength(t *testing.T) {
	bins := &drift.Bins{Proportions: []float64{1, 0}}
	m := newMonitor(t, drift.Config{Series: []*drift.Bins{bins}, Window: minute, Every: minute, MinRecords: 1})
	defer func() {
		if r, _ := recover().(string); !strings.Contains(r, "Add of 2 values to a monitor of 1 series") {
			t.Errorf("panic %q, want one about the lengths", r)
		}
	}()
	m.Add(nil, 0, []float64{1, 2})
}

// TestMonitorAddDoesNotAllocate: counting a record in an existing pane, with no window
// ending, allocates nothing.
func TestMonitorAddDoesNotAllocate(t *testing.T) {
	ref := lognormalBins(t)
	m := newMonitor(t, drift.Config{Series: []*drift.Bins{ref, ref, ref}, Window: 10 * minute, Every: minute, MinRecords: 1})
	dst := make([]drift.Result, 0, 8)
	values := []float64{1, 20, math.NaN()}
	ts := int64(0)
	m.Add(dst, ts, values)
	if n := testing.AllocsPerRun(1000, func() {
		ts++
		dst, _ = m.Add(dst[:0], ts, values)
	}); n != 0 {
		t.Errorf("Add allocates %v times per record, want 0", n)
	}
}

func TestNewMonitorErrors(t *testing.T) {
	ok := &drift.Bins{Proportions: []float64{1, 0}}
	base := drift.Config{Series: []*drift.Bins{ok}, Window: 10, Every: 5, MinRecords: 1}
	for _, tc := range []struct {
		name   string
		change func(*drift.Config)
		want   string
	}{
		{"no series", func(c *drift.Config) { c.Series = nil }, "no series"},
		{"nil bins", func(c *drift.Config) { c.Series = []*drift.Bins{ok, nil} }, "series 1 has no bins"},
		{"invalid bins", func(c *drift.Config) { c.Series = []*drift.Bins{{Proportions: []float64{1}}} }, "series 0: 1 proportions for 0 edges"},
		{"every 0", func(c *drift.Config) { c.Every = 0 }, "every must be in [1, "},
		{"window not a multiple", func(c *drift.Config) { c.Window = 12 }, "window 12 ms must be a positive whole multiple of every (5 ms)"},
		{"window 0", func(c *drift.Config) { c.Window = 0 }, "window 0 ms"},
		{"min records 0", func(c *drift.Config) { c.MinRecords = 0 }, "min records must be at least 1"},
		{"negative out-of-orderness", func(c *drift.Config) { c.OutOfOrderness = -1 }, "out-of-orderness must be in [0, "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			tc.change(&c)
			_, err := drift.NewMonitor(c)
			if !errors.Is(err, drift.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrInvalid with %q", err, tc.want)
			}
		})
	}
}

// TestMonitorCopiesSeries: changing the Bins after NewMonitor changes nothing.
func TestMonitorCopiesSeries(t *testing.T) {
	b := &drift.Bins{Edges: []float64{1}, Proportions: []float64{0.5, 0.5, 0}}
	m := newMonitor(t, drift.Config{Series: []*drift.Bins{b}, Window: minute, Every: minute, MinRecords: 1})
	b.Edges[0], b.Proportions[0], b.Proportions[1] = 100, 0, 1
	m.Add(nil, 0, []float64{2})
	out, _ := m.Add(nil, minute, []float64{2})
	if len(out) != 1 || !slices.Equal(out[0].Counts, []int64{0, 1, 0}) {
		t.Errorf("got %+v, want the record in bin 1 of the original edges", out)
	}
}

func TestRestoreErrors(t *testing.T) {
	bins := &drift.Bins{Edges: []float64{1}, Proportions: []float64{0.5, 0.5, 0}}
	c := drift.Config{Series: []*drift.Bins{bins, bins}, Window: 3 * minute, Every: minute, MinRecords: 1}
	clock := drift.Clock{MaxEventTime: 10*minute + 5, Emitted: 10 * minute, Started: true}
	pane := func(start int64, counts ...[]int64) drift.Pane { return drift.Pane{Start: start, Counts: counts} }
	good := pane(10*minute, []int64{1, 2, 0}, []int64{0, 0, 3})
	for _, tc := range []struct {
		name  string
		clock drift.Clock
		panes []drift.Pane
		want  string
	}{
		{"times without a record", drift.Clock{MaxEventTime: 5}, nil, "clock with times"},
		{"panes without a record", drift.Clock{}, []drift.Pane{good}, "1 panes but a clock without a record"},
		{"emitted not a multiple", drift.Clock{MaxEventTime: 10 * minute, Emitted: 10*minute - 1, Started: true}, nil, "not a multiple of every"},
		{"emitted after the max", drift.Clock{MaxEventTime: 10*minute - 1, Emitted: 10 * minute, Started: true}, nil, "is not in the pane of max event time"},
		{"max out of range", drift.Clock{MaxEventTime: drift.MaxTime + 1, Started: true}, nil, "outside"},
		{"pane not a multiple", clock, []drift.Pane{pane(10*minute+1, []int64{1, 0, 0}, []int64{1, 0, 0})}, "not a multiple of every"},
		{"pane after the max", clock, []drift.Pane{pane(11*minute, []int64{1, 0, 0}, []int64{1, 0, 0})}, "starts after the max event time"},
		{"duplicate panes", clock, []drift.Pane{good, good}, "two panes start at 600000"},
		{"series count", clock, []drift.Pane{pane(10*minute, []int64{1, 0, 0})}, "1 series, the monitor 2"},
		{"bin count", clock, []drift.Pane{pane(10*minute, []int64{1, 0, 0}, []int64{1, 0})}, "series 1 has 2 bins, the reference 3"},
		{"negative count", clock, []drift.Pane{pane(10*minute, []int64{2, -1, 0}, []int64{1, 0, 0})}, "count -1 out of range"},
		{"empty pane", clock, []drift.Pane{pane(10*minute, []int64{0, 0, 0}, []int64{0, 0, 0})}, "0 records"},
		{"totals differ", clock, []drift.Pane{pane(10*minute, []int64{1, 0, 0}, []int64{1, 1, 0})}, "series 1 has 2 records, series 0 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := newMonitor(t, c)
			err := m.Restore(tc.clock, tc.panes)
			if !errors.Is(err, drift.ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrCorrupt with %q", err, tc.want)
			}
			if m.Clock() != (drift.Clock{}) {
				t.Errorf("a failed Restore set the clock to %+v", m.Clock())
			}
			if err := m.Restore(clock, []drift.Pane{good}); err != nil {
				t.Errorf("a failed Restore left the monitor unusable: %v", err)
			}
		})
	}
}

// TestRestoreDropsStalePanes: panes that no window still to come covers (the window was
// made shorter) are not kept, and reported as deleted.
func TestRestoreDropsStalePanes(t *testing.T) {
	bins := &drift.Bins{Proportions: []float64{1, 0}}
	c := drift.Config{Series: []*drift.Bins{bins}, Window: 2 * minute, Every: minute, MinRecords: 1}
	m := newMonitor(t, c)
	clock := drift.Clock{MaxEventTime: 10 * minute, Emitted: 10 * minute, Started: true}
	var panes []drift.Pane
	for _, start := range []int64{10, 9, 8, 7} {
		panes = append(panes, drift.Pane{Start: start * minute, Counts: [][]int64{{1, 0}}})
	}
	if err := m.Restore(clock, panes); err != nil {
		t.Fatal(err)
	}
	changed, deleted, clockChanged := m.Changes()
	// The next window is [9 min, 11 min).
	if len(changed) != 0 || !slices.Equal(deleted, []int64{7 * minute, 8 * minute}) || clockChanged {
		t.Errorf("changes %v %v %v; want panes 7 and 8 min deleted", changed, deleted, clockChanged)
	}
	out, _ := m.Add(nil, 11*minute, []float64{1})
	if len(out) != 1 || out[0].Start != 9*minute || out[0].Records != 2 {
		t.Errorf("got %+v, want [9 min, 11 min) with the records of panes 9 and 10 min", out)
	}
}
