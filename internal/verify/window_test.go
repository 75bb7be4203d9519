package verify

import (
	"bytes"
	"fmt"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/internal/gen"
	"github.com/kappa-stream/kappa/pipeline"
)

// testWindow is T9's window with every aggregate the verifier checks.
func testWindow() *pipeline.Window {
	return &pipeline.Window{
		Type: pipeline.WindowHopping, Size: 10 * time.Second, Advance: 2 * time.Second, Grace: time.Second,
		Aggregates: []pipeline.Aggregation{
			{Func: pipeline.AggCount},
			{Func: pipeline.AggSum, Field: "amount"},
			{Func: pipeline.AggMin, Field: "amount"},
			{Func: pipeline.AggMax, Field: "amount", As: "max_amount"},
			{Func: pipeline.AggAvg, Field: "amount"},
			{Func: pipeline.AggFirst, Field: "amount"},
			{Func: pipeline.AggLast, Field: "amount"},
		},
	}
}

// testCards generates 10 ms apart with up to 2 s of disorder; every 50th record (after 20 s)
// is 20 s late, beyond window size + grace + out-of-orderness + disorder with a margin of
// 500 steps: certainly late.
func testCards() *gen.Cards {
	return &gen.Cards{
		Seed: 21, Cards: 20, Partitions: 3, BadEvery: 40, Step: 10 * time.Millisecond,
		MaxDisorder: 2 * time.Second, LateEvery: 50, LateBy: 20 * time.Second,
	}
}

func windowConfig(w *pipeline.Window) *Config {
	c := Config{
		Group: "g", Input: "in", Output: "out", DeadLetter: "dlq", Late: "late",
		Window: w, MaxOutOfOrderness: 2 * time.Second,
	}.withDefaults()
	return &c
}

// TestCheckWindows runs the window comparison on in-memory runs: correct ones and each kind
// of bug.
func TestCheckWindows(t *testing.T) {
	const n = 3000
	g := testCards()
	for _, tc := range []struct {
		name    string
		window  *pipeline.Window
		mutate  func(*pipelineRun)
		want    counters
		problem string // a substring of the first problem
	}{
		{name: "correct", mutate: func(*pipelineRun) {}},
		{name: "correct tumbling", window: &pipeline.Window{
			Type: pipeline.WindowTumbling, Size: 5 * time.Second,
			Aggregates: []pipeline.Aggregation{{Func: pipeline.AggCount}, {Func: pipeline.AggLast, Field: "amount", As: "latest"}},
		}, mutate: func(*pipelineRun) {}},
		{
			"window dropped", nil, func(r *pipelineRun) { r.out[1] = append(r.out[1][:5:5], r.out[1][6:]...) },
			counters{Lost: 1},
			"lost: the reference closed it",
		},
		{
			"window duplicated", nil, func(r *pipelineRun) { r.out[0] = append(r.out[0], r.out[0][3]) },
			counters{Duplicates: 1},
			"duplicate: record 2 for this window",
		},
		{
			"sum changed", nil, func(r *pipelineRun) {
				editValue(r.out[2], 7, `"sum_amount":`, func(v string) string { return addTo(v, 0.01) })
			},
			counters{WindowMismatches: 1},
			"sum_amount ",
		},
		{
			"watermark changed", nil, func(r *pipelineRun) {
				editValue(r.out[0], 9, `"watermark":`, func(v string) string {
					n, _ := strconv.ParseInt(v, 10, 64)
					return strconv.FormatInt(n-1, 10)
				})
			},
			counters{WindowMismatches: 1},
			"watermark ",
		},
		{
			"float not in shortest form", nil, func(r *pipelineRun) {
				editValue(r.out[0], 2, `"max_amount":`, func(v string) string { return v + "e0" })
			},
			counters{WindowMismatches: 1},
			"is not in the shortest form",
		},
		{"record key with a space", nil, func(r *pipelineRun) {
			cp := *r.out[1][0]
			cp.Key = bytes.Replace(cp.Key, []byte(`,"start"`), []byte(`, "start"`), 1)
			r.out[1][0] = &cp
		}, counters{WindowMismatches: 1}, "record key"},
		{
			"windows swapped", nil, func(r *pipelineRun) { r.out[2][10], r.out[2][11] = r.out[2][11], r.out[2][10] },
			counters{Reordered: 1},
			"want the reference's order",
		},
		{"window the reference keeps open", nil, func(r *pipelineRun) {
			last := *r.out[0][len(r.out[0])-1]
			last.Value = bytes.ReplaceAll(last.Value, []byte(`"end":`), []byte(`"end":1`)) // a bogus end
			r.out[0] = append(r.out[0], &last)
		}, counters{WindowMismatches: 1}, "not closed by the reference: not a window of the definition"},
		{"tombstone", nil, func(r *pipelineRun) {
			r.out[0] = append(r.out[0], &kgo.Record{Topic: "out", Partition: 0, Key: r.out[0][0].Key})
		}, counters{WindowMismatches: 1}, "tombstone"},
		{"window in the wrong partition", nil, func(r *pipelineRun) {
			w := *r.out[0][0]
			w.Partition = 1
			r.out[0] = r.out[0][1:]
			r.out[1] = append([]*kgo.Record{&w}, r.out[1]...)
		}, counters{WindowMismatches: 1, Lost: 1}, "the reference closes it in partition 0"},
		{"bogus late record", nil, func(r *pipelineRun) {
			in := r.input[100] // on time: the late-injected records start after 20 s
			l := *r.late[in.Partition][0]
			l.Key, l.Value = in.Key, in.Value
			l.Headers = setHeader(setHeader(l.Headers, HeaderOffset, fmt.Sprint(in.Offset)), HeaderPartition, fmt.Sprint(in.Partition))
			l.Headers = setHeader(l.Headers, HeaderTimestamp, fmt.Sprint(in.Timestamp.UnixMilli()))
			r.late[in.Partition] = append([]*kgo.Record{&l}, r.late[in.Partition]...)
		}, counters{WindowMismatches: 1}, "the reference does not classify it as late"},
		{
			"late record duplicated", nil, func(r *pipelineRun) { r.late[2] = append(r.late[2], r.late[2][0]) },
			counters{WindowMismatches: 1},
			"duplicate: late record 2",
		},
		{
			"late record dropped", nil, func(r *pipelineRun) { r.late[1] = r.late[1][1:] },
			counters{Lost: 1},
			"no record in the late topic",
		},
		{"late record with a wrong watermark", nil, func(r *pipelineRun) {
			l := *r.late[0][0]
			l.Headers = setHeader(l.Headers, HeaderLateWatermark, "5")
			r.late[0][0] = &l
		}, counters{WindowMismatches: 1}, "header kappa.late.watermark 5, want"},
		{"late record of an uncommitted input record", nil, func(r *pipelineRun) {
			l := *r.late[0][len(r.late[0])-1]
			l.Headers = setHeader(l.Headers, HeaderOffset, fmt.Sprint(r.committed[0]))
			r.late[0] = append(r.late[0], &l)
		}, counters{AbortedReads: 1}, "not committed"},
		{
			"dead letter dropped", nil, func(r *pipelineRun) { r.dlq[0] = r.dlq[0][1:] },
			counters{Lost: 1},
			"no dead-letter record",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := tc.window
			if w == nil {
				w = testWindow()
			}
			cfg := windowConfig(w)
			run := windowTestRun(g, w, cfg.MaxOutOfOrderness, testInput(g, "in", n), "out", "dlq", "late")
			tc.mutate(run)
			v := Verdict{Generated: n}
			check(cfg, run.data(), &v)
			v.Complete = true
			if got := countersOf(&v); got != tc.want {
				t.Fatalf("got %+v, want %+v\n%s\n%s", got, tc.want, &v, strings.Join(v.Problems, "\n"))
			}
			if tc.problem == "" {
				if !v.OK() || len(v.Problems) != 0 {
					t.Fatalf("got %s with problems %q, want a pass", &v, v.Problems)
				}
				var windows int64
				for _, rs := range run.out {
					windows += int64(len(rs))
				}
				if v.Emitted != windows || windows < 100 || v.DLQ != g.BadCount(0, n) || v.Late != g.LateCount(0, n) || v.Late == 0 {
					t.Fatalf("got %s, want emitted=%d (at least 100) dlq=%d late=%d (more than 0)", &v, windows, g.BadCount(0, n), g.LateCount(0, n))
				}
				t.Log(v.String())
				return
			}
			if v.OK() || len(v.Problems) == 0 || !strings.Contains(v.Problems[0], tc.problem) {
				t.Fatalf("got %s with problems %q, want a FAIL whose first problem mentions %q", &v, v.Problems, tc.problem)
			}
			t.Log(v.Problems[0])
		})
	}
}

// editValue rewrites the number after member in the value of rs[i].
func editValue(rs []*kgo.Record, i int, member string, edit func(string) string) {
	cp := *rs[i]
	s := string(cp.Value)
	at := strings.Index(s, member) + len(member)
	if at < len(member) {
		panic(fmt.Sprintf("%s has no %s", s, member))
	}
	end := at + strings.IndexAny(s[at:], ",}")
	cp.Value = []byte(s[:at] + edit(s[at:end]) + s[end:])
	rs[i] = &cp
}

// addTo adds d to the number v and writes it in the shortest form.
func addTo(v string, d float64) string {
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		panic(err)
	}
	return strconv.FormatFloat(f+d, 'g', -1, 64)
}

// setHeader returns hs with the value of key replaced (hs is not modified).
func setHeader(hs []kgo.RecordHeader, key, value string) []kgo.RecordHeader {
	out := make([]kgo.RecordHeader, len(hs))
	copy(out, hs)
	for i := range out {
		if out[i].Key == key {
			out[i].Value = []byte(value)
		}
	}
	return out
}

func TestWindowStarts(t *testing.T) {
	for _, tc := range []struct {
		size, advance, t int64
		want             []int64
	}{
		{10, 10, 0, []int64{0}},
		{10, 10, 9, []int64{0}},
		{10, 10, 10, []int64{10}},
		{10, 10, -1, []int64{-10}},
		{10, 10, -10, []int64{-10}},
		{10, 2, 0, []int64{-8, -6, -4, -2, 0}},
		{10, 2, 11, []int64{2, 4, 6, 8, 10}},
		{10, 2, -3, []int64{-12, -10, -8, -6, -4}},
		{10, 3, 10, []int64{3, 6, 9}},                 // advance does not divide size: 3 or 4 windows
		{10, 3, 9, []int64{0, 3, 6, 9}},               // [0,10) holds 9
		{7, 7, 1767225600006, []int64{1767225600000}}, // 1767225600000 = 7 * 252460800000
		{7, 7, 1767225600007, []int64{1767225600007}},
	} {
		s := &windowSpec{size: tc.size, advance: tc.advance}
		got := s.windowStarts(tc.t)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("size %d advance %d t %d: got %v, want %v", tc.size, tc.advance, tc.t, got, tc.want)
		}
	}
}

// TestWindowReferenceByHand runs the reference on a short script worked out by hand:
// tumbling windows of 10 ms, grace 5, out-of-orderness 3.
func TestWindowReferenceByHand(t *testing.T) {
	s, err := newWindowSpec(&pipeline.Window{
		Type: pipeline.WindowTumbling, Size: 10 * time.Millisecond, Grace: 5 * time.Millisecond,
		Aggregates: []pipeline.Aggregation{{Func: pipeline.AggCount}, {Func: pipeline.AggSum, Field: "v"}, {Func: pipeline.AggFirst, Field: "v"}, {Func: pipeline.AggLast, Field: "v"}},
	},
		3*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	r := newPartitionRef(s)
	for off, rec := range []struct {
		key string
		t   int64
		v   float64
	}{
		{"a", 5, 1},   // wm 2: opens a[0,10)
		{"b", 12, 2},  // wm 9: opens b[10,20)
		{"a", 3, 4},   // wm 9: joins a[0,10), first by time
		{"a", 18, 8},  // wm 15 closes a[0,10) (15 >= 10+5): count 2, sum 5, first 4, last 1
		{"a", 9, 16},  // wm 15: a[0,10) is closed: late, lateness 6
		{"b", 14, 32}, // wm 15: joins b[10,20)
		{"b", 14, 64}, // same time: last by offset
		{"a", 40, 1},  // wm 37 closes a[10,20) and b[10,20), ordered by key
	} {
		r.add(int64(off), windowInput{key: rec.key, eventTime: rec.t, values: []float64{0, rec.v, rec.v, rec.v}})
	}
	var got []string
	for _, w := range r.closed {
		got = append(got, string(s.windowValue(w)))
	}
	want := []string{
		`{"key":"a","window":{"start":0,"end":10},"emit":"final","watermark":15,"aggregates":{"count":2,"sum_v":5,"first_v":4,"last_v":1}}`,
		`{"key":"a","window":{"start":10,"end":20},"emit":"final","watermark":37,"aggregates":{"count":1,"sum_v":8,"first_v":8,"last_v":8}}`,
		`{"key":"b","window":{"start":10,"end":20},"emit":"final","watermark":37,"aggregates":{"count":3,"sum_v":98,"first_v":2,"last_v":64}}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	l := r.late[4]
	if len(r.late) != 1 || l == nil || *l != (lateRecord{window: winID{"a", 0, 10}, watermark: 15, lateness: 6}) {
		t.Errorf("late: got %v (record 4: %+v), want only record 4 late in a[0,10) at watermark 15 by 6", r.late, l)
	}
	if len(r.open) != 1 || r.open[winID{"a", 40, 50}] == nil {
		t.Errorf("open at the end: got %v, want a[40,50)", r.open)
	}
}

func TestWindowResultsEdgeCases(t *testing.T) {
	s := &windowSpec{aggs: []pipeline.Aggregation{{Func: pipeline.AggSum, Field: "v"}, {Func: pipeline.AggMin, Field: "v"}, {Func: pipeline.AggMax, Field: "v"}, {Func: pipeline.AggAvg, Field: "v"}}}
	for _, tc := range []struct {
		values []float64
		want   string
	}{
		{[]float64{math.Copysign(0, -1)}, "-0 -0 -0 -0"}, // one record's sum is its value
		{[]float64{0, math.Copysign(0, -1)}, "0 -0 0 0"},
		{[]float64{math.MaxFloat64, math.MaxFloat64}, "null 1.7976931348623157e+308 1.7976931348623157e+308 null"},
		{[]float64{0.1, 0.2, 0.3}, "0.6000000000000001 0.1 0.3 0.20000000000000004"},
	} {
		ms := make([]member, len(tc.values))
		for i, v := range tc.values {
			ms[i] = member{offset: int64(i), values: []float64{v, v, v, v}}
		}
		var got []string
		for _, r := range s.results(ms) {
			got = append(got, formatResult(r))
		}
		if strings.Join(got, " ") != tc.want {
			t.Errorf("%v: got %s, want %s", tc.values, strings.Join(got, " "), tc.want)
		}
	}
}

func TestWindowConfigValidate(t *testing.T) {
	base := Config{
		Brokers: []string{"b:9092"}, Group: "g", Input: "in", Output: "out", DeadLetter: "dlq", Late: "late",
		Window: testWindow(), MaxOutOfOrderness: 2 * time.Second,
	}
	if err := base.Validate(); err != nil {
		t.Fatalf("Validate: got %v, want nil", err)
	}
	for _, tc := range []struct {
		name, want string
		edit       func(*Config)
	}{
		{"sliding", `Type "sliding" is not checked`, func(c *Config) { c.Window.Type = pipeline.WindowSliding }},
		{"session", `Type "session" is not checked`, func(c *Config) { c.Window.Type = pipeline.WindowSession }},
		{"unknown type", `Type "rolling"; want "tumbling" or "hopping"`, func(c *Config) { c.Window.Type = "rolling" }},
		{"update", `Emit "update" is not checked`, func(c *Config) { c.Window.Emit = pipeline.EmitUpdate }},
		{"count_distinct", "count_distinct is an estimate", func(c *Config) {
			c.Window.Aggregates = append(c.Window.Aggregates, pipeline.Aggregation{Func: pipeline.AggCountDistinct, Field: "merchant"})
		}},
		{"quantile", "quantile is an estimate", func(c *Config) {
			c.Window.Aggregates = append(c.Window.Aggregates, pipeline.Aggregation{Func: pipeline.AggQuantile, Field: "amount", Q: 0.99})
		}},
		{"unknown aggregate", `Func "median"`, func(c *Config) { c.Window.Aggregates[1].Func = "median" }},
		{"sum without a field", "sum needs a Field", func(c *Config) { c.Window.Aggregates[1].Field = "" }},
		{"count with a field", "count takes no Field", func(c *Config) { c.Window.Aggregates[0].Field = "amount" }},
		{"same names", `both named "count"`, func(c *Config) {
			c.Window.Aggregates[1] = pipeline.Aggregation{Func: pipeline.AggSum, Field: "x", As: "count"}
		}},
		{"no aggregates", "no Aggregates", func(c *Config) { c.Window.Aggregates = nil }},
		{"advance beyond size", "exceeds Size", func(c *Config) { c.Window.Advance = 11 * time.Second }},
		{"tumbling with advance", "Advance is a setting of hopping windows", func(c *Config) { c.Window.Type = pipeline.WindowTumbling }},
		{"no size", "Size is 0s", func(c *Config) { c.Window.Size = 0 }},
		{"fractional ms", "whole milliseconds", func(c *Config) { c.Window.Grace = time.Microsecond }},
		{"negative grace", "Grace is -1s", func(c *Config) { c.Window.Grace = -time.Second }},
		{"negative out-of-orderness", "MaxOutOfOrderness is -1s", func(c *Config) { c.MaxOutOfOrderness = -time.Second }},
		{"no late topic", "Late is empty", func(c *Config) { c.Late = "" }},
		{"late topic is the output", `late topic "out" is also`, func(c *Config) { c.Late = "out" }},
		{"late without a window", "settings of window pipelines", func(c *Config) { c.Window = nil }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := base
			w := *base.Window
			w.Aggregates = append([]pipeline.Aggregation(nil), w.Aggregates...)
			c.Window = &w
			tc.edit(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Validate: got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// TestPipelineWindow checks that a parsed pipeline's window is the verifier's Config.Window as
// it is: the settings the verifier reads are those of the file, Validate accepts it, and the
// reference names the aggregates of its window records as pipeline.Aggregation.Name does.
func TestPipelineWindow(t *testing.T) {
	def, err := pipeline.Parse("p.yaml", []byte(`name: p
input:
  topics: [in]
  format: json
  key_field: card_id
  event_time: {field: ts, format: epoch_millis}
  max_out_of_orderness: 2s
operators:
  - window:
      type: hopping
      size: 10s
      advance: 2s
      grace: 1s
      aggregates:
        - {fn: count}
        - {fn: sum, field: amount}
        - {fn: max, field: amount, as: top}
        - {fn: first, field: amount}
output:
  topic: out
`))
	if err != nil {
		t.Fatal(err)
	}
	got := def.Operators[0].Window
	want := &pipeline.Window{
		Type: pipeline.WindowHopping, Size: 10 * time.Second, Advance: 2 * time.Second, Grace: time.Second, Emit: pipeline.EmitFinal,
		Aggregates: []pipeline.Aggregation{
			{Func: pipeline.AggCount},
			{Func: pipeline.AggSum, Field: "amount"},
			{Func: pipeline.AggMax, Field: "amount", As: "top"},
			{Func: pipeline.AggFirst, Field: "amount"},
		},
	}
	if fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", want) {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	s, err := newWindowSpec(got, def.Input.MaxOutOfOrderness)
	if err != nil {
		t.Fatal(err)
	}
	value := string(s.windowValue(&closedWindow{
		id: winID{"c", 0, 10000}, watermark: 11000,
		members: []member{{offset: 0, eventTime: 5, values: []float64{0, 2.5, 2.5, 2.5}}},
	}))
	wantValue := `{"key":"c","window":{"start":0,"end":10000},"emit":"final","watermark":11000,` +
		`"aggregates":{"count":1,"sum_amount":2.5,"top":2.5,"first_amount":2.5}}`
	if value != wantValue {
		t.Errorf("window value: got %s, want %s", value, wantValue)
	}
	cfg := Config{Brokers: []string{"b:1"}, Group: "p", Input: "in", Output: "out", Late: def.LateTopic(), Window: got, MaxOutOfOrderness: def.Input.MaxOutOfOrderness}
	if err := cfg.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}
