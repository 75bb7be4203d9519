package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/internal/gen"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/processor"
)

func runDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr)
	var f runFlags
	f.register(fs)
	dir := fs.String("dir", ".kappa-demo", "directory for the embedded broker's data and the pipeline's state")
	rate := fs.Int("rate", 2000, "generated card transactions per second")
	partitions := fs.Int("partitions", 4, "partitions of the input topic")
	every := fs.Duration("summary-every", 5*time.Second, "how often to print the summary line")
	fs.Lookup("f").DefValue = "examples/fraud/fraud.yaml"
	f.file = "examples/fraud/fraud.yaml"
	fs.Lookup("admin-addr").DefValue = "127.0.0.1:9464"
	f.adminAddr = "127.0.0.1:9464"
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	def, err := pipeline.Load(f.file)
	if err != nil {
		return err
	}
	log, err := newLogger("warn", stderr)
	if err != nil {
		return err
	}
	if f.logLevel != "info" {
		if log, err = newLogger(f.logLevel, stderr); err != nil {
			return usageError{err.Error()}
		}
	}

	// The embedded broker: franz-go's in-process Kafka, persisted under dir so a restart of
	// the demo continues where it stopped.
	kdir := filepath.Join(*dir, "kafka")
	if err := os.MkdirAll(kdir, 0o755); err != nil {
		return err
	}
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.DataDir(kdir), kfake.ListenFn(func(network, _ string) (net.Listener, error) {
		return net.Listen(network, "127.0.0.1:0")
	}))
	if err != nil {
		return fmt.Errorf("demo: start the embedded broker: %w", err)
	}
	defer cluster.Close()
	f.brokers = cluster.ListenAddrs()[0]
	if f.stateDir == "" {
		f.stateDir = filepath.Join(*dir, "state")
	}
	if f.instanceID == "" {
		f.instanceID = "demo"
	}
	fmt.Fprintf(stdout, "kappa demo: embedded Kafka at %s (data in %s), pipeline %q from %s\n", f.brokers, kdir, def.Name, f.file)

	genCl, err := kgo.NewClient(append(gen.ClientOpts(), kgo.SeedBrokers(f.brokers))...)
	if err != nil {
		return err
	}
	defer genCl.Close()
	input := def.Input.Topics[0]
	if err := createIfMissing(ctx, kadm.NewClient(genCl), input, int32(*partitions)); err != nil {
		return err
	}
	// Card transactions with event times that follow the clock, a little out of order, and
	// one malformed record in 500 so the dead-letter topic has something to show. The
	// generator writes the pipeline's key and time fields, an amount and a merchant.
	cards := gen.Cards{
		Seed: uint64(time.Now().UnixNano()), Partitions: int32(*partitions), BadEvery: 500,
		KeyField: def.Input.KeyField, TimeField: def.Input.EventTime.Field,
		Start: time.Now(), Step: time.Second / time.Duration(max(1, *rate)),
	}
	if a := def.Operators[0].Aggregate; a != nil {
		cards.AmountField = a.Field
	}
	if d := def.Input.Dedup; d != nil {
		// Every event has an id, and one record in 200 is sent twice, as a producer's
		// retry would: the pipeline drops the copies.
		cards.IDField, cards.DupEvery = d.Field, 200
	}
	if def.ScoreOp() != nil {
		// Five cards compromised at any time, bursting at many merchants with large amounts:
		// the pattern examples/fraud/model.json learned at this rate and card count.
		cards.Fraud = gen.Fraud{Compromised: 5}
	}
	if def.Input.EventTime.Format != pipeline.TimeEpochMillis {
		return fmt.Errorf("demo: the generator writes epoch_millis event times; %s has %s", f.file, def.Input.EventTime.Format)
	}

	var wg sync.WaitGroup
	defer wg.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	genErr := make(chan error, 1)
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := cards.Run(ctx, genCl, input, 0, *rate); err != nil && ctx.Err() == nil {
			genErr <- err
			cancel()
		}
	}()

	hooks := &pipelineHooks{started: func(p *processor.Processor, lag func() int64, adminAddr net.Addr) {
		if adminAddr != nil {
			fmt.Fprintf(stdout, "kappa demo: metrics at http://%s/metrics; Ctrl-C stops\n", adminAddr)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			summarize(ctx, stdout, p, lag, *every)
		}()
	}}
	if _, err := runPipeline(ctx, def, f, log, hooks); err != nil {
		return err
	}
	select {
	case err := <-genErr:
		return fmt.Errorf("demo: generator: %w", err)
	default:
	}
	fmt.Fprintln(stdout, "kappa demo: stopped cleanly")
	return nil
}

func createIfMissing(ctx context.Context, adm *kadm.Client, topic string, partitions int32) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, -1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !isExists(err) {
		return fmt.Errorf("demo: create topic %s: %w", topic, err)
	}
	return nil
}

// summarize prints one line every interval: rates in and out, lag, dead letters, late
// records, alerts, duplicates, drift windows above the threshold of those evaluated,
// commits.
func summarize(ctx context.Context, w io.Writer, p *processor.Processor, lag func() int64, every time.Duration) {
	// The first line comes early, to show at once that records flow; then one per interval.
	t := time.NewTicker(min(every, 2*time.Second))
	defer t.Stop()
	first := true
	prev, prevAt := p.Snapshot(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			s := p.Snapshot()
			secs := now.Sub(prevAt).Seconds()
			last := "never"
			if !s.LastCommit.IsZero() {
				last = now.Sub(s.LastCommit).Round(time.Millisecond).String() + " ago"
			}
			fmt.Fprintf(w, "kappa: in=%d (%.0f/s) out=%d (%.0f/s) lag=%d dlq=%d late=%d alerts=%d dups=%d drifted=%d/%d commits=%d aborts=%d restored=%d last_commit=%s\n",
				s.RecordsIn, float64(s.RecordsIn-prev.RecordsIn)/secs, s.RecordsOut, float64(s.RecordsOut-prev.RecordsOut)/secs,
				lag(), s.DeadLetters, s.Late, s.Alerts, s.Duplicates, s.Drifted, s.DriftEvals, s.Commits, s.Aborts, s.Restored, last)
			prev, prevAt = s, now
			if first {
				t.Reset(every)
				first = false
			}
		}
	}
}
