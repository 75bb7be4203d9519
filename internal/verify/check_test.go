package verify

import (
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/internal/gen"
	"github.com/kappa-stream/kappa/pipeline"
)

// counters are a verdict's problem counters, for comparing in tests.
type counters struct {
	Duplicates, Lost, Reordered, AbortedReads, AggregateMismatches, WindowMismatches int64
}

func countersOf(v *Verdict) counters {
	return counters{v.Duplicates, v.Lost, v.Reordered, v.AbortedReads, v.AggregateMismatches, v.WindowMismatches}
}

func testConfig() *Config {
	c := Config{Group: "g", Input: "in", Output: "out", DeadLetter: "dlq"}.withDefaults()
	return &c
}

// TestCheck runs the comparison on in-memory runs: a correct one and each kind of bug.
func TestCheck(t *testing.T) {
	const n = 600
	g := &gen.Cards{Seed: 21, Cards: 30, Partitions: 3, BadEvery: 40}
	for _, tc := range []struct {
		name    string
		mutate  func(*pipelineRun)
		want    counters
		problem string // a substring of the first problem
	}{
		{name: "correct", mutate: func(*pipelineRun) {}},
		{"duplicate output", duplicateOutput, counters{Duplicates: 1}, "duplicate"},
		{"lost output", loseOutput, counters{Lost: 1}, "lost: no output record"},
		{"reordered pair", swapOutputs, counters{Reordered: 1}, "want increasing source offsets"},
		{"wrong sum", wrongSum, counters{AggregateMismatches: 1}, "sum "},
		{"group behind", commitBehind, counters{Lost: 3, AbortedReads: 3}, "not committed"},
		{"lost dead letter", func(r *pipelineRun) { r.dlq[1] = r.dlq[1][1:] }, counters{Lost: 1}, "no dead-letter record"},
		{"unparseable output", func(r *pipelineRun) {
			d := r.dlq[2][0]
			r.out[2] = append(r.out[2], &kgo.Record{Topic: "out", Partition: 2, Key: d.Key, Value: []byte("x")})
		}, counters{AggregateMismatches: 1}, "has no source"},
		{"output and dead letter for one record", func(r *pipelineRun) {
			o := r.out[0][len(r.out[0])-1]
			r.dlq[0] = append(r.dlq[0], &kgo.Record{Topic: "dlq", Partition: 0, Key: o.Key, Value: o.Value, Headers: []kgo.RecordHeader{
				{Key: HeaderTopic, Value: []byte("in")},
				{Key: HeaderPartition, Value: []byte("0")},
				{Key: HeaderOffset, Value: []byte(strings.Split(strings.Split(string(o.Value), `"offset":`)[1], "}")[0])},
			}})
		}, counters{Duplicates: 1}, "duplicate"},
		{"wrong partition", func(r *pipelineRun) {
			o := *r.out[0][0]
			o.Partition = 1
			r.out[0] = r.out[0][1:]
			r.out[1] = append([]*kgo.Record{&o}, r.out[1]...)
		}, counters{AggregateMismatches: 1}, "want the source's partition number 0"},
		{"dead letter without headers", func(r *pipelineRun) {
			d := *r.dlq[0][0]
			d.Headers = nil
			r.dlq[0][0] = &d
		}, counters{Lost: 1, AggregateMismatches: 1}, "do not name a source position"},
		{"dead letter of a valid record", func(r *pipelineRun) {
			o := r.out[1][0]
			r.out[1] = r.out[1][1:]
			r.dlq[1] = append([]*kgo.Record{{Topic: "dlq", Partition: 1, Key: o.Key, Headers: []kgo.RecordHeader{
				{Key: HeaderTopic, Value: []byte("in")},
				{Key: HeaderPartition, Value: []byte("1")},
				{Key: HeaderOffset, Value: []byte(strings.Split(strings.Split(string(o.Value), `"offset":`)[1], "}")[0])},
			}}}, r.dlq[1]...)
		}, counters{AggregateMismatches: 1}, "the input record is valid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := reference(g, "in", "out", "dlq", n)
			tc.mutate(run)
			v := Verdict{Generated: n}
			check(testConfig(), run.data(), &v)
			v.Complete = true
			if got := countersOf(&v); got != tc.want {
				t.Fatalf("got %+v, want %+v\n%s\n%s", got, tc.want, &v, strings.Join(v.Problems, "\n"))
			}
			if tc.problem == "" {
				if !v.OK() || len(v.Problems) != 0 {
					t.Fatalf("got %s with problems %q, want a pass", &v, v.Problems)
				}
				if v.DLQ != g.BadCount(0, n) || v.Emitted+v.DLQ != n {
					t.Fatalf("got dlq=%d emitted=%d, want dlq=%d emitted=%d", v.DLQ, v.Emitted, g.BadCount(0, n), n-g.BadCount(0, n))
				}
				return
			}
			if v.OK() || len(v.Problems) == 0 || !strings.Contains(v.Problems[0], tc.problem) {
				t.Fatalf("got %s with problems %q, want a FAIL whose first problem mentions %q", &v, v.Problems, tc.problem)
			}
		})
	}
}

// TestCheckDedup checks a deduplicating pipeline's run: every copy of an event (gen's
// DupEvery) is a duplicate dead letter, and a copy written as an output is a problem.
func TestCheckDedup(t *testing.T) {
	const n = 700
	g := &gen.Cards{Seed: 22, Cards: 30, Partitions: 3, BadEvery: 40, IDField: "txn_id", DupEvery: 9, DupLag: 20}
	cfg := testConfig()
	cfg.Dedup = &pipeline.Dedup{Field: "txn_id", Horizon: time.Hour}
	var bad, dups int64
	for i := range int64(n) {
		orig, dup := g.Dup(i)
		switch {
		case dup && g.Bad(orig), !dup && g.Bad(i):
			bad++
		case dup:
			dups++
		}
	}
	v := Verdict{Generated: n}
	check(cfg, reference(g, "in", "out", "dlq", n).data(), &v)
	v.Complete = true
	if !v.OK() || v.DLQ != bad+dups || dups == 0 {
		t.Fatalf("got %s with problems %q; want a pass with dlq=%d (%d malformed, %d duplicates)", &v, v.Problems, bad+dups, bad, dups)
	}

	// Without dedup, the same run is wrong: the copies count in the aggregates.
	v = Verdict{Generated: n}
	check(testConfig(), reference(g, "in", "out", "dlq", n).data(), &v)
	v.Complete = true
	if v.OK() || v.AggregateMismatches == 0 {
		t.Fatalf("without Dedup: got %s, want a FAIL with aggregate mismatches", &v)
	}
}

func TestCheckNumericKeysAndRFC3339(t *testing.T) {
	cfg := Config{
		Group: "g", Input: "in", Output: "out", KeyField: "id", AmountField: "v", TimeField: "t",
		TimeFormat: pipeline.TimeRFC3339,
	}.withDefaults()
	in := []string{
		`{"id":7,"v":1.5,"t":"2026-01-01T00:00:01Z"}`,
		`{"id":7,"v":-2,"t":"2026-01-01T00:00:00Z"}`,
		`{"id":"7","v":3,"t":"2026-01-01T00:00:02Z"}`, // the same key as the number 7
	}
	d := &data{input: map[int32][]*kgo.Record{}, output: map[int32][]*kgo.Record{}, committed: map[int32]int64{0: 3}}
	for i, s := range in {
		d.input[0] = append(d.input[0], &kgo.Record{Topic: "in", Offset: int64(i), Value: []byte(s)})
	}
	outs := [][]byte{
		outputJSON("7", 1, 1.5, 1.5, 1.5, 1767225601000, "in", 0, 0),
		outputJSON("7", 2, -0.5, -2, 1.5, 1767225600000, "in", 0, 1),
		outputJSON("7", 3, 2.5, -2, 3, 1767225602000, "in", 0, 2),
	}
	for i, o := range outs {
		d.output[0] = append(d.output[0], &kgo.Record{Topic: "out", Offset: int64(i), Key: []byte("7"), Value: o})
	}
	v := Verdict{Generated: 3}
	check(&cfg, d, &v)
	v.Complete = true
	if !v.OK() {
		t.Fatalf("got %s: %q, want a pass", &v, v.Problems)
	}
}
