package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/kappa-stream/kappa/internal/gen"
	"github.com/kappa-stream/kappa/internal/kafkatest"
	"github.com/kappa-stream/kappa/internal/verify"
	"github.com/kappa-stream/kappa/model"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/processor"
)

// pipelineRun is a pipeline running in this process through runPipeline, as `kappa run`
// runs it.
type pipelineRun struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when runPipeline returned
	err    error         // what it returned, once done is closed
	proc   chan *processor.Processor
}

func startPipeline(t *testing.T, def *pipeline.Definition, brokers []string, instance, stateDir string, log *zap.Logger) *pipelineRun {
	t.Helper()
	return startPipelineFlags(t, def, testFlags(brokers, instance, stateDir), log)
}

// testFlags are the flags of a test's `kappa run`.
func testFlags(brokers []string, instance, stateDir string) runFlags {
	return runFlags{
		brokers: strings.Join(brokers, ","), instanceID: instance, stateDir: stateDir,
		transactionTimeout: 10 * time.Second, sessionTimeout: 6 * time.Second, shutdownTimeout: 10 * time.Second, // 6s: Kafka's group.min.session.timeout.ms
	}
}

// startPipelineFlags is startPipeline with the flags given.
func startPipelineFlags(t *testing.T, def *pipeline.Definition, f runFlags, log *zap.Logger) *pipelineRun {
	t.Helper()
	d := *def
	ctx, cancel := context.WithCancel(context.Background())
	r := &pipelineRun{cancel: cancel, done: make(chan struct{}), proc: make(chan *processor.Processor, 1)}
	go func() {
		_, err := runPipeline(ctx, &d, f, log, &pipelineHooks{started: func(p *processor.Processor, _ func() int64, _ net.Addr) {
			r.proc <- p
		}})
		r.err = err
		close(r.done)
	}()
	t.Cleanup(func() {
		cancel()
		<-r.done
	})
	return r
}

// stop stops the run as SIGTERM would and returns its error.
func (r *pipelineRun) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		return r.err
	case <-time.After(30 * time.Second):
		t.Fatal("pipeline did not stop within 30s")
		return nil
	}
}

// input produces generated card transactions to a topic, continuing where it stopped.
type input struct {
	t        *testing.T
	cards    gen.Cards
	cl       *kgo.Client
	topic    string
	produced int64
}

func newInput(t *testing.T, b *kafkatest.Broker, topic string, cards gen.Cards) *input {
	return &input{t: t, cards: cards, cl: b.Client(gen.ClientOpts()...), topic: topic}
}

// produce produces the next n records.
func (in *input) produce(n int64) {
	in.t.Helper()
	got, err := in.cards.ProduceRange(context.Background(), in.cl, in.topic, in.produced, in.produced+n)
	in.produced += got
	if err != nil {
		in.t.Fatalf("produce: %v", err)
	}
}

// testDefinition is the card-totals pipeline on the given topics.
func testDefinition(t testing.TB, name, input string, exactlyOnce bool, commit time.Duration) *pipeline.Definition {
	t.Helper()
	def := &pipeline.Definition{
		Name: name,
		Input: pipeline.Input{
			Topics:    []string{input},
			Format:    pipeline.FormatJSON,
			KeyField:  gen.DefaultKeyField,
			EventTime: pipeline.EventTime{Field: gen.DefaultTimeField, Format: pipeline.TimeEpochMillis},
		},
		Operators:      []pipeline.Operator{{Aggregate: &pipeline.Aggregate{Field: gen.DefaultAmountField}}},
		Output:         pipeline.Output{Topic: name + "-out"},
		ExactlyOnce:    exactlyOnce,
		CommitInterval: commit,
		StateDir:       t.TempDir(),
	}
	def.ApplyDefaults()
	if err := def.Validate(); err != nil {
		t.Fatal(err)
	}
	return def
}

func verdictOf(t *testing.T, b *kafkatest.Broker, def *pipeline.Definition, generated int64, faults map[string]int) verify.Verdict {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	v, err := verify.Run(ctx, verify.Config{
		Brokers: b.Addrs, Group: def.GroupID(), Input: def.Input.Topics[0], Output: def.Output.Topic,
		DeadLetter: processor.DeadLetterTopic(def), Changelog: def.ChangelogTopic(),
		Generated: generated, Faults: faults, WaitTimeout: time.Minute,
		// Room for the oversized dead letter of TestOversizedDeadLetter.
		ClientOpts: append([]kgo.Opt{kgo.FetchMaxPartitionBytes(8 << 20), kgo.FetchMaxBytes(16 << 20)}, b.ClientOpts...),
	})
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	t.Log(v.String())
	if !v.OK() {
		for _, p := range v.Problems {
			t.Error(p)
		}
		t.Fatal("verdict is not clean")
	}
	return v
}

// TestTxnFaults is T3: the in-process broker fails, delays and drops the requests of the
// transaction protocol while the pipeline runs, then a second instance with the same
// instance id fences the first. Input offsets must never be committed without their
// outputs: the verdict is clean, and the fenced instance stops with ErrFenced.
func TestTxnFaults(t *testing.T) {
	b := kafkatest.NewInProcess(t)
	c := b.Cluster()
	input := b.CreateTopic(4, nil)
	def := testDefinition(t, kafkatest.Name(t, "t3"), input, true, 50*time.Millisecond)
	in := newInput(t, b, input, gen.Cards{Seed: 3, Partitions: 4, Cards: 50, BadEvery: 97})
	produce := in.produce

	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	first := startPipeline(t, def, b.Addrs, "t3", t.TempDir(), log)
	produce(300)

	faults := map[string]int{}
	txnID := def.GroupID() + "-t3"
	inject := func(name string, f kfake.Fault) {
		t.Helper()
		f.Count = max(f.Count, 1)
		h := c.Fault(f)
		produce(200) // traffic for the fault to hit
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := h.Wait(ctx, f.Count); err != nil {
			t.Fatalf("fault %s never hit: %v", name, err)
		}
		faults[name] += f.Count
	}
	endTxn := []kmsg.Key{kmsg.EndTxn}
	inject("endtxn_unknown", kfake.Fault{Keys: endTxn, TxnID: txnID, TopLevel: true, Err: kerr.UnknownServerError, Count: 2})
	inject("endtxn_timeout", kfake.Fault{Keys: endTxn, TxnID: txnID, TopLevel: true, Err: kerr.RequestTimedOut})
	inject("endtxn_not_coordinator", kfake.Fault{Keys: endTxn, TxnID: txnID, TopLevel: true, Err: kerr.NotCoordinator})
	inject("offsetcommit_unknown", kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Err: kerr.UnknownServerError, Count: 2})
	inject("offsetcommit_rebalance", kfake.Fault{Keys: []kmsg.Key{kmsg.TxnOffsetCommit}, Err: kerr.RebalanceInProgress})
	inject("produce_output_unknown", kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: def.Output.Topic, Err: kerr.UnknownServerError})
	inject("produce_changelog_abortable", kfake.Fault{Keys: []kmsg.Key{kmsg.Produce}, Topic: def.ChangelogTopic(), Err: kerr.TransactionAbortable})

	// A delayed EndTxn: the commit answers after a pause longer than several cycles.
	delayed := make(chan struct{})
	c.ControlKey(int16(kmsg.EndTxn), func(kmsg.Request) (kmsg.Response, error, bool) {
		c.DropControl() // delay one EndTxn only
		c.SleepControl(func() { time.Sleep(time.Second) })
		close(delayed)
		return nil, nil, false
	})
	produce(200)
	select {
	case <-delayed:
		faults["endtxn_delay"]++
	case <-time.After(30 * time.Second):
		t.Fatal("the delayed EndTxn never came")
	}
	produce(200)

	// Fencing: a second instance with the same id takes over, as a restarted pod does while
	// the old one still runs. The old one must stop with ErrFenced.
	second := startPipeline(t, def, b.Addrs, "t3", t.TempDir(), log)
	produce(200)
	select {
	case <-first.done:
		if !errors.Is(first.err, model.ErrFenced) {
			t.Fatalf("the fenced instance stopped with %v, want ErrFenced", first.err)
		}
		faults["fenced"]++
	case <-time.After(60 * time.Second):
		t.Fatal("the first instance was not fenced within 60s of the second one starting")
	}
	produce(300)
	verdictOf(t, b, def, in.produced, faults)
	if err := second.stop(t); err != nil {
		t.Errorf("second instance: %v", err)
	}
}

// TestRestartRestores: a restart after a clean shutdown restores close to nothing from the
// changelog; after the state directory is deleted it restores everything.
func TestRestartRestores(t *testing.T) {
	b := kafkatest.New(t)
	input := b.CreateTopic(4, nil)
	def := testDefinition(t, kafkatest.Name(t, "restore"), input, true, 50*time.Millisecond)
	in := newInput(t, b, input, gen.Cards{Seed: 4, Partitions: 4, Cards: 300})
	produce := in.produce
	log := zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel))
	stateDir := t.TempDir()
	restoredBy := func(run string) int64 {
		t.Helper()
		r := startPipeline(t, def, b.Addrs, "r0", stateDir, log)
		produce(2000)
		p := <-r.proc
		verdictOf(t, b, def, in.produced, nil)
		if err := r.stop(t); err != nil {
			t.Fatalf("%s: %v", run, err)
		}
		return p.Snapshot().Restored
	}
	if n := restoredBy("first run"); n != 0 {
		t.Errorf("first run restored %d records, want 0", n)
	}
	clean := restoredBy("restart after a clean shutdown")
	if clean != 0 {
		t.Errorf("restart after a clean shutdown restored %d records, want 0", clean)
	}
	if err := os.RemoveAll(stateDir); err != nil {
		t.Fatal(err)
	}
	wiped := restoredBy("restart without state")
	if wiped < 300 { // at least one changelog record per card
		t.Errorf("restart without state restored %d records, want at least one per card (300)", wiped)
	}
	// Corrupt state (T7): a deleted MANIFEST and a garbled table file. Startup must detect it,
	// delete the store and restore every partition, not crash-loop.
	damaged := 0
	entries, err := os.ReadDir(stateDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		path := filepath.Join(stateDir, e.Name())
		switch {
		case strings.HasPrefix(e.Name(), "MANIFEST-"):
			err = os.Remove(path)
		case strings.HasSuffix(e.Name(), ".sst"):
			err = os.WriteFile(path, []byte("not a table"), 0o644)
		default:
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		damaged++
	}
	if damaged == 0 {
		t.Fatalf("found nothing to damage in %s: %v", stateDir, entries)
	}
	corrupt := restoredBy("restart with corrupt state")
	if corrupt < 300 {
		t.Errorf("restart with corrupt state restored %d records, want at least one per card (300)", corrupt)
	}
	t.Logf("restore: after_clean_shutdown=%d after_rm_state=%d after_corrupt_state=%d", clean, wiped, corrupt)
}

// TestOversizedDeadLetter: an input topic that allows records larger than the producer's
// default batch limit (1 MB) carries a 2 MiB malformed record. Its dead letter must reach
// the dead-letter topic; before, the produce failed, the transaction aborted, and the same
// record came back forever.
func TestOversizedDeadLetter(t *testing.T) {
	b := kafkatest.New(t)
	limit := strconv.Itoa(4 << 20)
	input := b.CreateTopic(2, map[string]*string{"max.message.bytes": &limit})
	def := testDefinition(t, kafkatest.Name(t, "big"), input, true, 50*time.Millisecond)
	in := newInput(t, b, input, gen.Cards{Seed: 5, Partitions: 2, Cards: 20})
	in.produce(100)
	big := b.Client(kgo.ProducerBatchMaxBytes(4<<20), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	value := append([]byte(`{"card_id":"card-1","amount":`), bytes.Repeat([]byte("9"), 2<<20)...) // truncated JSON
	if err := big.ProduceSync(context.Background(), &kgo.Record{Topic: input, Partition: 0, Key: []byte("card-1"), Value: value}).FirstErr(); err != nil {
		t.Fatalf("produce the oversized record: %v", err)
	}
	in.produced++ // the verifier counts it as generated input
	in.produce(100)

	r := startPipeline(t, def, b.Addrs, "big", t.TempDir(), zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	verdictOf(t, b, def, in.produced, nil)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}
