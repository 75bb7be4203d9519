package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"

	"github.com/kappa-stream/kappa/drift"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/processor"
	"github.com/kappa-stream/kappa/sinks"
	"github.com/kappa-stream/kappa/state"
)

// DefaultBatchInterval is how long a replay processes before it flushes its outputs (its
// "commit interval"): a replay has no per-interval transactions, only batch boundaries.
const DefaultBatchInterval = 5 * time.Second

// DefaultProgressInterval is the interval of plain progress lines (not on a terminal).
const DefaultProgressInterval = 5 * time.Second

// Config is a replay. Definition, Kafka, Range and one output (OutputVersion or OutputFile)
// are required.
type Config struct {
	// Definition is the validated pipeline; Run works on a copy.
	Definition *pipeline.Definition
	// Kafka are the client options that connect to the cluster: seed brokers, TLS, SASL.
	Kafka []kgo.Opt
	// Range is the part of the input log to replay.
	Range Range
	// OutputVersion n > 0 writes to <topic>.vN for the output, dead-letter, late and alert
	// topics, created with the input's partition count when missing and emptied first when
	// they hold records.
	OutputVersion int
	// OutputFile writes JSON lines (topic, partition, key, value, headers) to this file
	// instead, through a temporary file renamed at the end.
	OutputFile string
	// Profile, for `kappa profile`, takes the values of the pipeline's quality.drift series
	// over the range (warm-up excluded) and writes no output: give no output with it.
	Profile *drift.Profiler
	// StateDir is where the temporary state directory is made. Default os.TempDir().
	StateDir string
	// KeepState keeps the state directory after the replay (its path is logged).
	KeepState bool
	// AllowPartial replays from each partition's log start when records the range needs are
	// deleted, with a warning, instead of failing with a *RetentionError.
	AllowPartial bool
	// BatchInterval is the processor's commit interval in the replay: how often outputs are
	// flushed. Default DefaultBatchInterval.
	BatchInterval time.Duration
	// Model and Shadow give the models of a score operator, as for processor.Config.
	Model, Shadow processor.ModelSource
	// DriftReference is the reference of quality.drift, as for processor.Config.
	DriftReference *drift.Reference
	// Logger receives lifecycle logs. Default: none.
	Logger *zap.Logger
	// Registerer also receives the processor's metrics. Default: none are exported.
	Registerer prometheus.Registerer
	// Progress receives progress lines; nil reports none. On a terminal (IsTerminal) the
	// line is a bar rewritten in place.
	Progress io.Writer
	// ProgressInterval is the interval of plain progress lines. Default
	// DefaultProgressInterval.
	ProgressInterval time.Duration
}

// Validate checks the required fields and the range.
func (c *Config) Validate() error {
	switch {
	case c.Definition == nil:
		return errors.New("replay: Config.Definition is required")
	case len(c.Kafka) == 0:
		return errors.New("replay: Config.Kafka is required (at least kgo.SeedBrokers)")
	case c.Profile != nil && (c.OutputVersion > 0 || c.OutputFile != ""):
		return errors.New("replay: a profile writes no output: give no output version or file with Config.Profile")
	case c.Profile != nil && !c.Definition.HasDrift():
		return errors.New("replay: a profile takes the series of quality.drift, and the pipeline has none")
	case c.Profile == nil && c.OutputVersion <= 0 && c.OutputFile == "":
		return errors.New("replay: give an output: an output version (<topic>.vN) or an output file")
	case c.OutputVersion > 0 && c.OutputFile != "":
		return errors.New("replay: give one output: an output version or an output file, not both")
	case len(c.Definition.Input.Topics) != 1:
		// processor.WarmUp and the offset ranges are per partition; several co-partitioned
		// inputs would need them per topic.
		return fmt.Errorf("replay: the pipeline reads %d input topics; replay supports one", len(c.Definition.Input.Topics))
	}
	return c.Range.Validate()
}

// Summary is what a replay did.
type Summary struct {
	// Plan is the offset range read.
	Plan *Plan
	// Output names where the results went: the versioned topics or the file.
	Output string
	// RecordsIn counts input records processed (warm-up included); RecordsOut the output
	// records written; WindowsEmitted the window results written.
	RecordsIn, RecordsOut, DeadLetters, Late, Alerts, WindowsEmitted int64
	// Duration is the time from the start of reading to the end of the last flush.
	Duration time.Duration
}

// RecordsPerSecond is the input throughput.
func (s *Summary) RecordsPerSecond() float64 {
	if s.Duration <= 0 {
		return 0
	}
	return float64(s.RecordsIn) / s.Duration.Seconds()
}

// String is the summary as printed at the end of `kappa replay`.
func (s *Summary) String() string {
	var offsets int64
	if s.Plan != nil {
		offsets = s.Plan.Offsets()
	}
	return fmt.Sprintf("replay: done: output=%s offsets=%d records_in=%d records_out=%d windows_emitted=%d dead_letters=%d late=%d alerts=%d duration=%s records_per_s=%.0f",
		s.Output, offsets, s.RecordsIn, s.RecordsOut, s.WindowsEmitted, s.DeadLetters, s.Late, s.Alerts,
		s.Duration.Round(time.Millisecond), s.RecordsPerSecond())
}

// Run replays cfg.Range of the pipeline's input into the configured output and returns what
// it did. It returns after every goroutine it started has ended. When ctx ends first, the
// output file is not written (a topic output keeps what was flushed; rerun the replay to
// replace it) and Run returns ctx's error.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = zap.NewNop()
	}
	if cfg.BatchInterval <= 0 {
		cfg.BatchInterval = DefaultBatchInterval
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = DefaultProgressInterval
	}
	def := *cfg.Definition
	def.CommitInterval = min(cfg.BatchInterval, pipeline.MaxCommitInterval)
	input := def.Input.Topics[0]
	log = log.With(zap.String("pipeline", def.Name))

	admCl, err := kgo.NewClient(cfg.Kafka...)
	if err != nil {
		return nil, fmt.Errorf("replay: kafka client: %w", err)
	}
	defer admCl.Close()
	adm := kadm.NewClient(admCl)

	plan, err := NewPlan(ctx, adm, cfg.Kafka, input, &def, cfg.Range)
	if err != nil {
		return nil, err
	}
	if len(plan.Gaps) > 0 {
		rerr := &RetentionError{Gaps: plan.Gaps}
		if !cfg.AllowPartial {
			return nil, rerr
		}
		for _, g := range plan.Gaps {
			log.Warn("replaying from the log start: records the range needs are deleted (--allow-partial)",
				zap.String("topic", g.Topic), zap.Int32("partition", g.Partition), zap.String("gap", g.String()))
		}
		plan.AllowGaps()
	}
	for _, pp := range plan.Partitions {
		log.Info("replay range", zap.String("topic", pp.Topic), zap.Int32("partition", pp.Partition),
			zap.Int64("start_offset", pp.Start), zap.Int64("from_offset", pp.From), zap.Int64("end_offset", pp.End))
	}
	log.Info("replay plan", zap.Duration("warm_up", plan.WarmUp), zap.Int64("min_window_end", plan.MinWindowEnd),
		zap.Int64("offsets", plan.Offsets()))

	// The output.
	var (
		snk     sink
		file    *fileSink
		output  string
		closers []func()
	)
	defer func() {
		for _, c := range slices.Backward(closers) {
			c()
		}
	}()
	switch {
	case cfg.Profile != nil:
		snk, output = discardSink{}, "profile"
	case cfg.OutputFile != "":
		if file, err = newFileSink(cfg.OutputFile, def.ChangelogTopic()); err != nil {
			return nil, err
		}
		closers = append(closers, file.discard)
		snk, output = file, cfg.OutputFile
	default:
		rename, maxRecord, err := prepareTopics(ctx, adm, &def, cfg.OutputVersion, log)
		if err != nil {
			return nil, err
		}
		ts, err := newTopicSink(cfg.Kafka, rename, def.ChangelogTopic(), maxRecord, log)
		if err != nil {
			return nil, err
		}
		closers = append(closers, ts.close)
		var names []string
		for _, t := range sinks.TopicsOf(&def).Written() {
			names = append(names, rename[t])
		}
		snk, output = ts, strings.Join(names, ",")
	}

	// Scratch state.
	parent := cfg.StateDir
	if parent != "" {
		if err := os.MkdirAll(parent, 0o755); err != nil {
			return nil, fmt.Errorf("replay: create state directory: %w", err)
		}
	}
	dir, err := os.MkdirTemp(parent, "kappa-replay-"+def.Name+"-")
	if err != nil {
		return nil, fmt.Errorf("replay: create state directory: %w", err)
	}
	def.StateDir = dir
	if cfg.KeepState {
		log.Info("keeping the replay's state directory", zap.String("state_dir", dir))
	} else {
		closers = append(closers, func() { _ = os.RemoveAll(dir) })
	}
	store, err := state.Open(dir, state.Options{Logger: log.Named("pebble")})
	if err != nil {
		return nil, fmt.Errorf("replay: open state in %s: %w", dir, err)
	}
	closers = append(closers, func() {
		if err := store.Close(); err != nil {
			log.Error("close state", zap.Error(err))
		}
	})

	in, err := newClient(plan, cfg.Kafka, snk, log)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	var registerer prometheus.Registerer = reg
	if cfg.Registerer != nil {
		registerer = teeRegisterer{reg, cfg.Registerer}
	}
	var warmUp *processor.WarmUp
	if plan.WarmUp > 0 || plan.MinWindowEnd > 0 {
		warmUp = &processor.WarmUp{Start: map[int32]int64{}, MinWindowEnd: plan.MinWindowEnd}
		for _, pp := range plan.Partitions {
			warmUp.Start[pp.Partition] = pp.From
		}
	}
	used := false
	proc, err := processor.New(processor.Config{
		Definition: &def,
		Store:      store,
		Changelog:  noChangelog{},
		Logger:     log,
		Registerer: registerer,
		Model:      cfg.Model,
		Shadow:     cfg.Shadow,
		WarmUp:     warmUp,
		Profile:    cfg.Profile,

		DriftReference: cfg.DriftReference,
		// A replay reads once: a client that failed cannot be rebuilt (there is no
		// transaction to rewind), so a second client is refused and Run ends.
		NewClient: func(processor.Assignment) (processor.Client, error) {
			if used {
				return nil, errors.New("replay: the input client failed and cannot be rebuilt")
			}
			used = true
			return in, nil
		},
		RetryBackoff: time.Millisecond,
	})
	if err != nil {
		in.Close()
		return nil, err
	}

	start := time.Now()
	var wg sync.WaitGroup
	progCtx, stopProgress := context.WithCancel(ctx)
	if cfg.Progress != nil {
		pr := &progress{
			w: cfg.Progress, terminal: IsTerminal(cfg.Progress), interval: cfg.ProgressInterval,
			total: plan.Offsets(), pos: func() int64 { return in.position(plan) },
			records: func() int64 { return proc.Snapshot().RecordsIn }, start: start,
		}
		wg.Go(func() { pr.run(progCtx) })
	}
	runErr := proc.Run(ctx)
	stopProgress()
	wg.Wait()
	if runErr != nil {
		// The processor only logs why it gave up its client; the error to show is that.
		if in.err != nil {
			return nil, fmt.Errorf("%w (rerun the replay: its output is replaced)", in.err)
		}
		return nil, runErr
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("replay: interrupted before the end of the range: %w", err)
	}
	if !in.finished() {
		return nil, errors.New("replay: the processor stopped before the end of the range")
	}
	if file != nil {
		if err := file.commit(); err != nil {
			return nil, err
		}
	}
	s := proc.Snapshot()
	sum := &Summary{
		Plan: plan, Output: output, Duration: time.Since(start),
		RecordsIn: s.RecordsIn, RecordsOut: s.RecordsOut, DeadLetters: s.DeadLetters, Late: s.Late, Alerts: s.Alerts,
		WindowsEmitted: windowsEmitted(reg),
	}
	log.Info("replay finished", zap.String("output", output), zap.Int64("records_in", sum.RecordsIn),
		zap.Int64("records_out", sum.RecordsOut), zap.Duration("took", sum.Duration))
	return sum, nil
}

// windowsEmitted sums the processor's window results written, over emit kinds.
func windowsEmitted(g prometheus.Gatherer) int64 {
	mfs, err := g.Gather()
	if err != nil {
		return 0
	}
	var n float64
	for _, mf := range mfs {
		if mf.GetName() != "kappa_processor_windows_emitted_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			n += m.GetCounter().GetValue()
		}
	}
	return int64(n)
}

// teeRegisterer registers on a private registry (for the summary) and the caller's.
type teeRegisterer struct{ a, b prometheus.Registerer }

func (t teeRegisterer) Register(c prometheus.Collector) error {
	if err := t.a.Register(c); err != nil {
		return err
	}
	if err := t.b.Register(c); err != nil {
		t.a.Unregister(c)
		return err
	}
	return nil
}

func (t teeRegisterer) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := t.Register(c); err != nil {
			panic(err)
		}
	}
}

func (t teeRegisterer) Unregister(c prometheus.Collector) bool {
	a := t.a.Unregister(c)
	b := t.b.Unregister(c)
	return a && b
}
