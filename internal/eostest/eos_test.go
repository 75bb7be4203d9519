package eostest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/internal/gen"
	"github.com/kappa-stream/kappa/internal/kafkatest"
	"github.com/kappa-stream/kappa/internal/verify"
	"github.com/kappa-stream/kappa/pipeline"
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "kappa-eostest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	kafkatest.Main(m, func() { _ = os.RemoveAll(dir) })
}

// size is how big a run is. `make test` uses the defaults on the in-process broker;
// `make test-eos` raises them through the environment.
type size struct {
	records  int64         // KAPPA_EOS_RECORDS
	kills    int           // KAPPA_EOS_KILLS: kill -9s in T1 (every fourth fault is a SIGTERM instead)
	duration time.Duration // KAPPA_EOS_DURATION: how long input is produced, faults land inside it
	commit   time.Duration // KAPPA_EOS_COMMIT_INTERVAL: long, so that kills land in open transactions
	seed     uint64        // KAPPA_EOS_SEED: the fault schedule and the data
}

func sizes(t *testing.T) size {
	t.Helper()
	s := size{records: 6000, kills: 3, duration: 12 * time.Second, commit: 300 * time.Millisecond, seed: uint64(time.Now().UnixNano())}
	env := func(name string, parse func(string) error) {
		if v := os.Getenv(name); v != "" {
			if err := parse(v); err != nil {
				t.Fatalf("%s=%q: %v", name, v, err)
			}
		}
	}
	env("KAPPA_EOS_RECORDS", func(v string) (err error) { s.records, err = strconv.ParseInt(v, 10, 64); return })
	env("KAPPA_EOS_KILLS", func(v string) (err error) { s.kills, err = strconv.Atoi(v); return })
	env("KAPPA_EOS_DURATION", func(v string) (err error) { s.duration, err = time.ParseDuration(v); return })
	env("KAPPA_EOS_COMMIT_INTERVAL", func(v string) (err error) { s.commit, err = time.ParseDuration(v); return })
	env("KAPPA_EOS_SEED", func(v string) (err error) { s.seed, err = strconv.ParseUint(v, 10, 64); return })
	t.Logf("eos: records=%d kills=%d duration=%s commit_interval=%s seed=%d (KAPPA_EOS_SEED reruns it)",
		s.records, s.kills, s.duration, s.commit, s.seed)
	return s
}

var (
	binOnce sync.Once
	binPath string
	binDir  string
)

// kappaBinary builds cmd/kappa once per test binary.
func kappaBinary(t *testing.T) string {
	binOnce.Do(func() { binPath = buildKappa(t, binDir) })
	if binPath == "" {
		t.Fatal("building kappa failed in an earlier test")
	}
	return binPath
}

// setup is one run's broker, topics and pipeline file.
type setup struct {
	broker     *kafkatest.Broker
	name       string // pipeline name and group
	input      string
	output     string
	partitions int32
	file       string
	cards      gen.Cards
	// window and maxOutOfOrderness describe the pipeline's window operator to the verifier;
	// nil for the card-totals aggregate.
	window            *pipeline.Window
	maxOutOfOrderness time.Duration
	// schema is the pipeline's input.schema, for the verifier; produceOpts and verifyOpts
	// are extra options of the producing and the verifying clients.
	schema                  []pipeline.FieldRule
	produceOpts, verifyOpts []kgo.Opt
	// dedup is the pipeline's input.dedup (with on_error.duplicate: dlq), for the verifier.
	dedup *pipeline.Dedup
}

// setupExtra is what some runs add to a pipeline setup.
type setupExtra struct {
	topicConfigs map[string]*string // of the input topic
	input        string             // YAML lines added under input:, indented by two spaces
	tail         string             // YAML lines added at the end, at the top level
}

// newSetup sets up the card-totals aggregate pipeline of T1 and T2.
func newSetup(t *testing.T, s size) *setup {
	t.Helper()
	return newPipelineSetup(t, s, gen.Cards{Seed: s.seed, Partitions: 5, Cards: 500, BadEvery: 400},
		"  - aggregate: {field: amount}\n", 5*time.Second)
}

// newPipelineSetup creates the input topic and a pipeline file with the given operators (YAML
// list entries) over records of cards.
func newPipelineSetup(t *testing.T, s size, cards gen.Cards, operators string, maxOutOfOrderness time.Duration) *setup {
	t.Helper()
	return newPipelineSetupWith(t, s, cards, operators, maxOutOfOrderness, setupExtra{})
}

// newPipelineSetupWith is newPipelineSetup with the additions of extra.
func newPipelineSetupWith(t *testing.T, s size, cards gen.Cards, operators string, maxOutOfOrderness time.Duration, extra setupExtra) *setup {
	t.Helper()
	b := kafkatest.New(t)
	su := &setup{broker: b, partitions: cards.Partitions, cards: cards, maxOutOfOrderness: maxOutOfOrderness}
	su.name = kafkatest.Name(t, "eos")
	su.input = b.CreateTopic(su.partitions, extra.topicConfigs)
	su.output = su.name + "-out"
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = b.Admin().DeleteTopics(ctx, su.output, su.name+"-changelog", su.name+"-dlq", su.name+"-late")
	})
	su.file = filepath.Join(t.TempDir(), "pipeline.yaml")
	yaml := fmt.Sprintf(`name: %s
input:
  topics: [%s]
  format: json
  key_field: card_id
  event_time: {field: ts, format: epoch_millis}
  max_out_of_orderness: %s
%soperators:
%soutput:
  topic: %s
exactly_once: true
commit_interval: %s
%s`, su.name, su.input, maxOutOfOrderness, extra.input, operators, su.output, s.commit, extra.tail)
	if err := os.WriteFile(su.file, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return su
}

// produce writes s.records records evenly over s.duration, in the background.
func (su *setup) produce(t *testing.T, s size) (wait func() int64) {
	t.Helper()
	cl := su.broker.Client(append(gen.ClientOpts(), su.produceOpts...)...)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	done := make(chan struct{})
	var produced int64
	var err error
	go func() {
		defer close(done)
		const tick = 100 * time.Millisecond
		steps := max(1, int64(s.duration/tick))
		per := (s.records + steps - 1) / steps
		next := time.Now()
		for produced < s.records && ctx.Err() == nil {
			to := min(produced+per, s.records)
			var n int64
			n, err = su.cards.ProduceRange(ctx, cl, su.input, produced, to)
			produced += n
			if err != nil {
				return
			}
			next = next.Add(tick)
			time.Sleep(time.Until(next))
		}
	}()
	return func() int64 {
		<-done
		if err != nil {
			t.Fatalf("produce input: %v", err)
		}
		return produced
	}
}

// verdict waits for the pipeline to commit all input, stops the fleet and checks every
// output against the input. It fails the test unless the verdict is clean.
func (su *setup) verdict(t *testing.T, f *fleet, generated int64) verify.Verdict {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := su.waitCaughtUp(ctx, 3*time.Minute); err != nil {
		t.Errorf("%v\n%s", err, f.logs(15))
	}
	close(f.quiet)
	faults, maxRecovery := f.finish()
	cfg := verify.Config{
		Brokers:     su.broker.Addrs,
		Group:       su.name,
		Input:       su.input,
		Output:      su.output,
		DeadLetter:  su.name + "-dlq",
		Generated:   generated,
		Faults:      faults,
		MaxRecovery: maxRecovery,
		WaitTimeout: 3 * time.Minute,
		Schema:      su.schema,
		Dedup:       su.dedup,
		ClientOpts:  su.verifyOpts,
	}
	if su.window != nil {
		cfg.Window, cfg.MaxOutOfOrderness, cfg.Late = su.window, su.maxOutOfOrderness, (&pipeline.Definition{Name: su.name}).LateTopic()
	}
	v, err := verify.Run(ctx, cfg)
	f.stopAll()
	f.check()
	for _, l := range f.closeTimeouts() {
		t.Logf("close-timeout: %s", l) // a Kafka client problem to diagnose, not a failure
	}
	if err != nil {
		t.Fatalf("verify: %v\n%s", err, f.logs(15))
	}
	t.Log(v.String())
	if !v.OK() {
		for _, p := range v.Problems {
			t.Error(p)
		}
		t.Fatalf("verdict is not clean\n%s", f.logs(15))
	}
	f.finish()
	return v
}

// waitCaughtUp waits until the group has committed every input record.
func (su *setup) waitCaughtUp(ctx context.Context, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	adm := su.broker.Admin()
	var behind int64
	for {
		ends, err := adm.ListEndOffsets(ctx, su.input)
		if err == nil {
			var offs kadm.OffsetResponses
			offs, err = adm.FetchOffsets(kadm.RequireStable(ctx), su.name)
			if err == nil {
				behind = 0
				ends.Each(func(e kadm.ListedOffset) {
					o, _ := offs.Lookup(e.Topic, e.Partition)
					behind += e.Offset - max(o.At, 0)
				})
				if behind == 0 {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the group did not commit all input within %s: %d records behind (last error: %w)", timeout, behind, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// TestEOSKill9 is T1: three instances process the input while instances are killed with
// kill -9 at random moments (inside open transactions: the commit interval is long) and
// restarted, some with their state directory wiped, and some stopped with SIGTERM instead.
func TestEOSKill9(t *testing.T) {
	s := sizes(t)
	newSetup(t, s).runUnderFaults(t, s, kappaBinary(t))
}

// runUnderFaults runs three instances of bin over su's pipeline while s.records records are
// produced, injecting T1's faults (injectFaults), and returns the verdict (clean, or the
// test fails) and the number of records generated.
func (su *setup) runUnderFaults(t *testing.T, s size, bin string) (verify.Verdict, int64) {
	t.Helper()
	f := newFleet(t, bin, su.file, strings.Join(su.broker.Addrs, ","),
		"--session-timeout", "10s", "--transaction-timeout", "20s")
	ids := []string{"p0", "p1", "p2"}
	for _, id := range ids {
		f.start(id)
	}
	wait := su.produce(t, s)
	injectFaults(f, s, ids)
	generated := wait()
	return su.verdict(t, f, generated), generated
}

// injectFaults kills instances of ids with kill -9 at random moments spread over
// s.duration, some with their state directory wiped, stops every fourth with SIGTERM
// instead, and restarts each after a short pause.
func injectFaults(f *fleet, s size, ids []string) {
	rng := rand.New(rand.NewPCG(s.seed, 1))
	gap := s.duration / time.Duration(s.kills+s.kills/3+1)
	for i := range s.kills + s.kills/3 {
		time.Sleep(gap/2 + time.Duration(rng.Int64N(int64(gap))))
		f.check()
		id := ids[rng.IntN(len(ids))]
		var at time.Time
		if i%4 == 3 {
			at = f.stop(id)
		} else {
			at = f.kill9(id)
			if i%3 == 1 {
				f.wipe(id) // the next start restores everything from the changelog
			}
		}
		time.Sleep(time.Duration(100+rng.IntN(900)) * time.Millisecond)
		f.restart(id, at)
	}
}

// TestEOSRebalance is T2: instances join and leave in the sequence 1, +2, +3, -1, +1, -2, -3
// while input is produced.
func TestEOSRebalance(t *testing.T) {
	s := sizes(t)
	bin := kappaBinary(t)
	su := newSetup(t, s)
	f := newFleet(t, bin, su.file, strings.Join(su.broker.Addrs, ","),
		"--session-timeout", "6s", "--transaction-timeout", "20s")
	f.start("p1")
	wait := su.produce(t, s)
	steps := []struct {
		join bool
		id   string
	}{{true, "p2"}, {true, "p3"}, {false, "p1"}, {true, "p1"}, {false, "p2"}, {false, "p3"}}
	gap := s.duration / time.Duration(len(steps)+1)
	for _, st := range steps {
		time.Sleep(gap)
		f.check()
		if st.join {
			f.restart(st.id, time.Now())
			f.count("join")
		} else {
			f.stop(st.id)
		}
	}
	generated := wait()
	su.verdict(t, f, generated)
}
