package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/kappa-stream/kappa/internal/gen"
	"github.com/kappa-stream/kappa/internal/kafkatest"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/processor"
	"github.com/kappa-stream/kappa/replay"
)

// BenchmarkPipeline measures the records per second of the card-totals pipeline with
// exactly-once and with at-least-once, next to the rate at which a bare franz-go consumer
// reads the same records (read_committed) from the same broker on the same machine, and the
// rate of a bare transactional copy (consume, produce each record unchanged, commit every
// 100 ms): the least any exactly-once read-process-write job pays for its Kafka I/O.
// `make bench` runs it once; KAPPA_BENCH_RECORDS sets the input size (default 200000) and
// KAFKA_BROKERS a real broker (otherwise the in-process one).
//
// Each rate counts from the first record seen to the last one committed (for the raw
// consumer: fetched), so group joins and restores are not part of it.
func BenchmarkPipeline(b *testing.B) {
	n := int64(200000)
	if v := os.Getenv("KAPPA_BENCH_RECORDS"); v != "" {
		var err error
		if n, err = strconv.ParseInt(v, 10, 64); err != nil || n <= 0 {
			b.Fatalf("KAPPA_BENCH_RECORDS=%q: want a positive count", v)
		}
	}
	broker := kafkatest.New(b)
	const partitions = 4
	input := broker.CreateTopic(partitions, nil)
	cards := gen.Cards{Seed: 1, Partitions: partitions, Cards: 10000}
	if _, err := cards.Produce(context.Background(), broker.Client(gen.ClientOpts()...), input, n); err != nil {
		b.Fatalf("produce the input: %v", err)
	}

	var raw, copied, eos, alo, winFinal, winUpdate, scored, replayed float64
	b.Run("raw-consume", func(b *testing.B) {
		for b.Loop() {
			raw = rawConsume(b, broker, input, n)
		}
		b.ReportMetric(raw, "records/s")
	})
	b.Run("raw-transactional-copy", func(b *testing.B) {
		for b.Loop() {
			copied = rawCopy(b, broker, input, n)
		}
		b.ReportMetric(copied, "records/s")
	})
	b.Run("exactly-once", func(b *testing.B) {
		for b.Loop() {
			eos = pipelineRate(b, broker, input, n, true, nil)
		}
		b.ReportMetric(eos, "records/s")
	})
	b.Run("at-least-once", func(b *testing.B) {
		for b.Loop() {
			alo = pipelineRate(b, broker, input, n, false, nil)
		}
		b.ReportMetric(alo, "records/s")
	})
	// The card-totals pipeline replayed (kappa replay): the whole input, assigned directly,
	// into a versioned topic, in batches instead of transactions.
	b.Run("replay", func(b *testing.B) {
		for b.Loop() {
			replayed = replayRate(b, broker, input, n)
		}
		b.ReportMetric(replayed, "records/s")
	})
	// The card-features windows (hopping 10m by 1m: ten windows per record; count, sum and
	// max of the amount, distinct merchants), exactly once. The input's event times span
	// n x 10 ms, so windows close all through the run.
	b.Run("windowed-final", func(b *testing.B) {
		for b.Loop() {
			winFinal = pipelineRate(b, broker, input, n, true, cardFeatures(pipeline.EmitFinal))
		}
		b.ReportMetric(winFinal, "records/s")
	})
	b.Run("windowed-update", func(b *testing.B) {
		for b.Loop() {
			winUpdate = pipelineRate(b, broker, input, n, true, cardFeatures(pipeline.EmitUpdate))
		}
		b.ReportMetric(winUpdate, "records/s")
	})
	// The fraud example: a 1m/10s hopping window of card features, then the committed
	// XGBoost model (50 trees of depth 4) on five features; one scored record per input.
	b.Run("windowed-scored", func(b *testing.B) {
		for b.Loop() {
			scored = pipelineRate(b, broker, input, n, true, fraudScoring)
		}
		b.ReportMetric(scored, "records/s")
	})
	// Printed, not logged: a parent benchmark's log does not show without -v. A line is
	// printed when every rate in it was measured (-bench can select a few sub-benchmarks).
	if raw > 0 && copied > 0 && eos > 0 && alo > 0 {
		fmt.Printf("bench: broker=%s records=%d partitions=%d commit_interval=100ms raw_consume_per_s=%.0f raw_transactional_copy_per_s=%.0f exactly_once_per_s=%.0f at_least_once_per_s=%.0f exactly_once_ratio=%.2f at_least_once_ratio=%.2f exactly_once_vs_copy=%.2f\n",
			broker.Kind, n, partitions, raw, copied, eos, alo, eos/raw, alo/raw, eos/copied)
	}
	if replayed > 0 && eos > 0 {
		fmt.Printf("bench: replay_per_s=%.0f live_per_s=%.0f replay_ratio=%.2f (card-totals over the whole input: kappa replay into a versioned topic vs the live exactly-once run)\n",
			replayed, eos, replayed/eos)
	}
	if raw > 0 && winFinal > 0 && winUpdate > 0 {
		fmt.Printf("bench: windowed (hopping 10m/1m, 4 aggregates, exactly once) final_per_s=%.0f update_per_s=%.0f raw_consume_per_s=%.0f final_ratio=%.3f update_ratio=%.3f\n",
			winFinal, winUpdate, raw, winFinal/raw, winUpdate/raw)
	}
	if raw > 0 && scored > 0 {
		fmt.Printf("bench: scored (examples/fraud: hopping 1m/10s features, XGBoost 50x4, exactly once) scored_per_s=%.0f raw_consume_per_s=%.0f scored_ratio=%.3f\n",
			scored, raw, scored/raw)
	}
}

// rawConsume reads n records of topic with a bare read_committed consumer (no group) and
// returns the records per second from its first poll to its last.
func rawConsume(b *testing.B, broker *kafkatest.Broker, topic string, n int64) float64 {
	cl := broker.Client(
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var got int64
	start := time.Now()
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			b.Fatalf("raw consume: %v after %d of %d records", err, got, n)
		}
		got += int64(fs.NumRecords())
	}
	return float64(n) / time.Since(start).Seconds()
}

// rawCopy copies n records of topic to a new topic with a bare franz-go GroupTransactSession,
// committing every 100 ms, and returns the records per second from the first record polled
// to the last commit.
func rawCopy(b *testing.B, broker *kafkatest.Broker, topic string, n int64) float64 {
	out := broker.CreateTopic(4, nil)
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(broker.Addrs...),
		kgo.ConsumerGroup(broker.Group()),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.TransactionalID(kafkatest.Name(b, "copy")),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
	)
	if err != nil {
		b.Fatal(err)
	}
	defer sess.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var copied int64
	var first time.Time
	for copied < n {
		if err := sess.Begin(); err != nil {
			b.Fatal(err)
		}
		deadline := time.Now().Add(100 * time.Millisecond)
		var inTxn int64
		for time.Now().Before(deadline) {
			pollCtx, cancelPoll := context.WithDeadline(ctx, deadline)
			fs := sess.PollFetches(pollCtx)
			cancelPoll()
			fs.EachRecord(func(r *kgo.Record) {
				if first.IsZero() {
					first = time.Now()
				}
				sess.Produce(ctx, &kgo.Record{Topic: out, Partition: r.Partition, Key: r.Key, Value: r.Value}, nil)
				inTxn++
			})
		}
		committed, err := sess.End(ctx, kgo.TryCommit)
		if err != nil {
			b.Fatalf("transactional copy: %v", err)
		}
		if committed {
			copied += inTxn
		}
	}
	return float64(n) / time.Since(first).Seconds()
}

// replayRate replays the card-totals pipeline over the n records of input (offsets from 0
// to the end) into a versioned topic and returns the records per second of the replay,
// from the start of reading to the end of the last flush.
func replayRate(b *testing.B, broker *kafkatest.Broker, input string, n int64) float64 {
	def := testDefinition(b, kafkatest.Name(b, "replay"), input, true, pipeline.DefaultCommitInterval)
	from := map[int32]int64{}
	for p := range int32(4) {
		from[p] = 0
	}
	sum, err := replay.Run(context.Background(), replay.Config{
		Definition: def, Kafka: []kgo.Opt{kgo.SeedBrokers(broker.Addrs...)},
		Range: replay.Range{FromOffsets: from}, OutputVersion: 1, StateDir: b.TempDir(),
	})
	if err != nil {
		b.Fatalf("replay: %v", err)
	}
	if sum.RecordsIn != n {
		b.Fatalf("replay read %d records, want %d", sum.RecordsIn, n)
	}
	return sum.RecordsPerSecond()
}

// cardFeatures turns a definition into the card-features pipeline of
// examples/card-features.yaml with the given emit mode.
func cardFeatures(emit pipeline.EmitMode) func(*pipeline.Definition) {
	return func(d *pipeline.Definition) {
		d.Operators = []pipeline.Operator{{Window: &pipeline.Window{
			Type: pipeline.WindowHopping, Size: 10 * time.Minute, Advance: time.Minute, Grace: 30 * time.Second, Emit: emit,
			Aggregates: []pipeline.Aggregation{
				{Func: pipeline.AggCount},
				{Func: pipeline.AggSum, Field: "amount"},
				{Func: pipeline.AggMax, Field: "amount"},
				{Func: pipeline.AggCountDistinct, Field: "merchant"},
			},
		}}}
	}
}

// fraudScoring turns a definition into the pipeline of examples/fraud/fraud.yaml.
func fraudScoring(d *pipeline.Definition) {
	ex, err := pipeline.Load("../../examples/fraud/fraud.yaml")
	if err != nil {
		panic(err) // the committed example is valid: TestDemo runs it
	}
	d.Operators = ex.Operators
	d.Input.MaxOutOfOrderness = ex.Input.MaxOutOfOrderness
}

// pipelineRate runs the card-totals pipeline (or what edit makes of it) over n records of
// input and returns the records per second from the first record processed to the commit
// of the last.
func pipelineRate(b *testing.B, broker *kafkatest.Broker, input string, n int64, exactlyOnce bool, edit func(*pipeline.Definition)) float64 {
	name := kafkatest.Name(b, "bench")
	def := testDefinition(b, name, input, exactlyOnce, pipeline.DefaultCommitInterval)
	if edit != nil {
		edit(def)
		if err := def.Validate(); err != nil {
			b.Fatal(err)
		}
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		topics := []string{def.Output.Topic, def.ChangelogTopic(), def.DeadLetterTopic(), def.LateTopic()}
		if sc := def.ScoreOp(); sc != nil && sc.Alert != nil {
			topics = append(topics, sc.Alert.Topic)
		}
		_, _ = broker.Admin().DeleteTopics(ctx, topics...)
	})
	f := runFlags{
		brokers: strings.Join(broker.Addrs, ","), instanceID: "bench", transactionTimeout: 30 * time.Second,
		sessionTimeout: 30 * time.Second, shutdownTimeout: 15 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	started := make(chan *processor.Processor, 1)
	done := make(chan error, 1)
	go func() {
		_, err := runPipeline(ctx, def, f, zap.NewNop(), &pipelineHooks{started: func(p *processor.Processor, _ func() int64, _ net.Addr) {
			started <- p
		}})
		done <- err
	}()
	var p *processor.Processor
	select {
	case p = <-started:
	case err := <-done:
		b.Fatalf("pipeline did not start: %v", err)
	}

	adm := broker.Admin()
	deadline := time.Now().Add(5 * time.Minute)
	var first time.Time
	for {
		if first.IsZero() && p.Snapshot().RecordsIn > 0 {
			first = time.Now()
		}
		if !first.IsZero() {
			offs, err := adm.FetchOffsets(ctx, name)
			if err == nil {
				var sum int64
				offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
				if sum >= n {
					break
				}
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("pipeline did not commit %d records within 5m: %+v", n, p.Snapshot())
		}
		select {
		case err := <-done:
			b.Fatalf("pipeline stopped: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	rate := float64(n) / time.Since(first).Seconds()
	cancel()
	if err := <-done; err != nil {
		b.Fatalf("pipeline: %v", err)
	}
	return rate
}
