package verify

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/internal/gen"
	"github.com/kappa-stream/kappa/internal/kafkatest"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

// TestRun writes what a pipeline would (outputs and dead letters in transactions, group
// offsets committed) on a broker, correct and with each kind of bug, and runs the verifier.
func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := kafkatest.New(t)
	const (
		parts = 3
		n     = 900
	)
	g := &gen.Cards{Seed: 33, Cards: 40, Partitions: parts, BadEvery: 30}
	input := b.CreateTopic(parts, nil)
	if got, err := g.Produce(ctx, b.Client(gen.ClientOpts()...), input, n); err != nil || got != n {
		t.Fatalf("produce input: got %d, %v; want %d, nil", got, err, n)
	}

	for _, tc := range []struct {
		name   string
		mutate func(*pipelineRun)
		want   counters
	}{
		{"correct", func(*pipelineRun) {}, counters{}},
		{"duplicate output", duplicateOutput, counters{Duplicates: 1}},
		{"lost output", loseOutput, counters{Lost: 1}},
		{"reordered pair", swapOutputs, counters{Reordered: 1}},
		{"wrong sum", wrongSum, counters{AggregateMismatches: 1}},
		{"group behind", commitBehind, counters{Lost: 3, AbortedReads: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			output, dlq, changelog := b.CreateTopic(parts, nil), b.CreateTopic(parts, nil), b.CreateTopic(parts, nil)
			group := b.Group()
			run := reference(g, input, output, dlq, n)
			tc.mutate(run)
			write(ctx, t, b, run, group, input)

			cfg := Config{
				Brokers: b.Addrs, Group: group, Input: input, Output: output, DeadLetter: dlq, Changelog: changelog,
				Generated: n, Faults: map[string]int{"sigterm": 1, "kill9": 2}, MaxRecovery: 1200 * time.Millisecond,
				WaitTimeout: 2 * time.Second,
			}
			v, err := Run(ctx, cfg)
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if (tc.want == counters{}) {
				t.Log(v.String())
			} else {
				// Not a report line: this verdict is meant to fail.
				t.Logf("mutated run, want result=FAIL: %s", v.String())
			}
			for _, p := range v.Problems {
				t.Log("  ", p)
			}
			if got := countersOf(&v); got != tc.want {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			if (tc.want == counters{}) {
				want := "verdict: generated=900 committed_in=900 emitted=870 duplicates=0 lost=0 reordered=0 aborted_reads=0 " +
					"aggregate_mismatches=0 window_mismatches=0 late=0 dlq=30 faults=kill9:2,sigterm:1 max_recovery_s=1.2 result=ALL-RECORDS-DELIVERED"
				if got := v.String(); got != want || !v.OK() {
					t.Fatalf("got\n%s\nwant\n%s", got, want)
				}
				return
			}
			if v.OK() || !strings.HasSuffix(v.String(), "result=FAIL") {
				t.Fatalf("got %s, want result=FAIL", v.String())
			}
		})
	}

	t.Run("missing input topic", func(t *testing.T) {
		_, err := Run(ctx, Config{
			Brokers: b.Addrs, Group: b.Group(), Input: kafkatest.Name(t, "nothing"), Output: input,
			Generated: n, WaitTimeout: 300 * time.Millisecond,
		})
		if err == nil || !strings.Contains(err.Error(), "does not exist") {
			t.Fatalf("Run: got %v, want an error saying the input topic does not exist", err)
		}
	})

	t.Run("open transaction", func(t *testing.T) {
		output, dlq := b.CreateTopic(parts, nil), b.CreateTopic(parts, nil)
		group := b.Group()
		run := reference(g, input, output, dlq, n)
		write(ctx, t, b, run, group, input)

		// A producer that began a transaction and never ended it, as after a kill -9.
		zombie := b.Client(kgo.TransactionalID(kafkatest.Name(t, "zombie")), kgo.RecordPartitioner(kgo.ManualPartitioner()))
		if err := zombie.BeginTransaction(); err != nil {
			t.Fatalf("begin: %v", err)
		}
		if err := zombie.ProduceSync(ctx, &kgo.Record{Topic: output, Partition: 1, Value: []byte("{}")}).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		defer func() {
			if err := zombie.EndTransaction(context.WithoutCancel(ctx), kgo.TryAbort); err != nil {
				t.Logf("abort the open transaction: %v", err)
			}
		}()

		start := time.Now()
		v, err := Run(ctx, Config{
			Brokers: b.Addrs, Group: group, Input: input, Output: output, DeadLetter: dlq,
			Generated: n, WaitTimeout: time.Second,
		})
		if !errors.Is(err, ErrOpenTransaction) {
			t.Fatalf("Run: got %v, want ErrOpenTransaction", err)
		}
		if msg := err.Error(); !strings.Contains(msg, output+"/1 (last stable offset") {
			t.Fatalf("error %q does not name the partition %s/1", msg, output)
		}
		if took := time.Since(start); took > 10*time.Second {
			t.Fatalf("Run took %s with WaitTimeout 1s", took)
		}
		if v.OK() || !strings.HasSuffix(v.String(), "result=FAIL") {
			t.Fatalf("got %s with an error, want result=FAIL", v.String())
		}
		t.Logf("%v", err)
	})
}

// TestRunWindows is TestRun for a window pipeline: window records, dead letters and late
// records written in transactions on a broker, correct and with bugs.
func TestRunWindows(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b := kafkatest.New(t)
	const n = 3000
	g := testCards()
	input := b.CreateTopic(g.Partitions, nil)
	if got, err := g.Produce(ctx, b.Client(gen.ClientOpts()...), input, n); err != nil || got != n {
		t.Fatalf("produce input: got %d, %v; want %d, nil", got, err, n)
	}
	// Read the input back: late records carry its timestamps.
	ends, err := b.Admin().ListEndOffsets(ctx, input)
	if err != nil {
		t.Fatal(err)
	}
	spans := map[string]map[int32]span{input: {}}
	ends.Each(func(o kadm.ListedOffset) { spans[input][o.Partition] = span{0, o.Offset} })
	recs, err := read(ctx, &Config{Brokers: b.Addrs}, spans, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var in []*kgo.Record
	for _, p := range sortedKeys(recs[input]) {
		in = append(in, recs[input][p]...)
	}

	for _, tc := range []struct {
		name   string
		mutate func(*pipelineRun)
		want   counters
	}{
		{"correct", func(*pipelineRun) {}, counters{}},
		{"a window lost and a late record twice", func(r *pipelineRun) {
			r.out[0] = r.out[0][1:]
			r.late[1] = append(r.late[1], r.late[1][0])
		}, counters{Lost: 1, WindowMismatches: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			output, dlq, late := b.CreateTopic(g.Partitions, nil), b.CreateTopic(g.Partitions, nil), b.CreateTopic(g.Partitions, nil)
			group := b.Group()
			w := testWindow()
			run := windowTestRun(g, w, 2*time.Second, in, output, dlq, late)
			tc.mutate(run)
			write(ctx, t, b, run, group, input)
			v, err := Run(ctx, Config{
				Brokers: b.Addrs, Group: group, Input: input, Output: output, DeadLetter: dlq, Late: late,
				Window: w, MaxOutOfOrderness: 2 * time.Second, Generated: n, WaitTimeout: 2 * time.Second,
			})
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			for _, p := range v.Problems {
				t.Log("  ", p)
			}
			if got := countersOf(&v); got != tc.want {
				t.Fatalf("got %+v, want %+v\n%s", got, tc.want, v.String())
			}
			if (tc.want != counters{}) {
				t.Logf("mutated run, want result=FAIL: %s", v.String())
				if v.OK() {
					t.Fatalf("got %s, want result=FAIL", v.String())
				}
				return
			}
			t.Log(v.String())
			if !v.OK() || v.Late != g.LateCount(0, n) || v.DLQ != g.BadCount(0, n) || v.Emitted == 0 {
				t.Fatalf("got %s, want a pass with late=%d dlq=%d", v.String(), g.LateCount(0, n), g.BadCount(0, n))
			}
		})
	}
}

// write writes run's outputs, dead letters and late records as a transactional pipeline would, after an
// aborted transaction of junk that read_committed must not see, and commits the group's
// offsets.
func write(ctx context.Context, t *testing.T, b *kafkatest.Broker, run *pipelineRun, group, input string) {
	t.Helper()
	cl := b.Client(kgo.TransactionalID(kafkatest.Name(t, "txn")), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	txn := func(recs []*kgo.Record, commit kgo.TransactionEndTry) {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatalf("begin: %v", err)
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
		if err := cl.EndTransaction(ctx, commit); err != nil {
			t.Fatalf("end transaction: %v", err)
		}
	}
	var recs, junk []*kgo.Record
	for _, m := range []map[int32][]*kgo.Record{run.out, run.dlq, run.late} {
		for _, p := range sortedKeys(m) {
			recs = append(recs, m[p]...)
			junk = append(junk, &kgo.Record{Topic: m[p][0].Topic, Partition: p, Value: []byte("junk")})
		}
	}
	txn(junk, kgo.TryAbort)
	txn(recs, kgo.TryCommit)

	var offs kadm.Offsets
	for p, o := range run.committed {
		offs.Add(kadm.Offset{Topic: input, Partition: p, At: o, LeaderEpoch: -1})
	}
	if err := b.Admin().CommitAllOffsets(ctx, group, offs); err != nil {
		t.Fatalf("commit offsets: %v", err)
	}
}
