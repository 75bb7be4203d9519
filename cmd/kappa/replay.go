package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/internal/kafkaconf"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/replay"
)

// replayFlags are the flags of `kappa replay`.
type replayFlags struct {
	file             string
	brokers          string
	from, to         string
	fromOffsets      string
	toOffsets        string
	warmUp           time.Duration
	outputVersion    int
	output           string
	stateDir         string
	keepState        bool
	allowPartial     bool
	batchInterval    time.Duration
	progressInterval time.Duration
	logLevel         string
	verify           string
	kafka            kafkaconf.Config
}

func (f *replayFlags) register(fs *flag.FlagSet) {
	f.registerRange(fs, "replay")
	fs.IntVar(&f.outputVersion, "output-version", 0, "write to <topic>.vN for the output, dead-letter, late, alert and drift topics (emptied first when they hold records)")
	fs.StringVar(&f.output, "output", "", "write JSON lines (topic, partition, key, value, headers) to this file instead; renamed into place at the end")
	fs.BoolVar(&f.keepState, "keep-state", false, "keep the temporary state directory after the replay")
	fs.DurationVar(&f.batchInterval, "batch-interval", replay.DefaultBatchInterval, "how often outputs are flushed (the replay's commit interval)")
	fs.StringVar(&f.verify, "verify", "", "after the replay, compare its output with this live output topic over the same input range; print verify: identical=N different=N missing=N extra=N flushed=N and fail unless only identical (and flushed) are non-zero")
}

// registerRange registers the flags that say what to read and how to connect, which
// `kappa replay` and `kappa profile` (verb) share.
func (f *replayFlags) registerRange(fs *flag.FlagSet, verb string) {
	fs.StringVar(&f.file, "f", "", "pipeline file (required)")
	fs.StringVar(&f.brokers, "brokers", os.Getenv("KAPPA_BROKERS"), "Kafka seed brokers, host:port[,host:port] (default $KAPPA_BROKERS)")
	fs.StringVar(&f.from, "from", "", "start of the range: an RFC 3339 time or a duration relative to now such as -24h (Kafka record timestamps)")
	fs.StringVar(&f.to, "to", "", "end of the range, exclusive: an RFC 3339 time or a duration relative to now (default now)")
	fs.StringVar(&f.fromOffsets, "from-offsets", "", "start offsets per partition instead of --from: partition:offset[,partition:offset]; partitions not named are not read")
	fs.StringVar(&f.toOffsets, "to-offsets", "", "end offsets per partition, exclusive (with --from-offsets; default each partition's end)")
	fs.DurationVar(&f.warmUp, "warm-up", 0, "read this long before the range to build state without output (default: what the pipeline's windows, dedup horizon and drift window need, plus max_out_of_orderness, with --from; none with --from-offsets)")
	fs.StringVar(&f.stateDir, "state-dir", "", "where the temporary state directory is made (default the system temporary directory)")
	fs.BoolVar(&f.allowPartial, "allow-partial", false, "when records the range needs are deleted, "+verb+" from each partition's log start instead of failing")
	fs.DurationVar(&f.progressInterval, "progress-interval", replay.DefaultProgressInterval, "interval of progress lines when stderr is not a terminal")
	fs.StringVar(&f.logLevel, "log-level", "warn", "log level: debug, info, warn, error")
	f.kafka.RegisterFlags(fs)
}

// replayKafkaOpts are the Kafka connection options of a replay: the seed brokers and the
// --kafka-* TLS and SASL settings, as `kappa run` uses them.
func replayKafkaOpts(f replayFlags) ([]kgo.Opt, error) {
	sec, err := f.kafka.Opts()
	if err != nil {
		return nil, err
	}
	return append([]kgo.Opt{kgo.SeedBrokers(strings.Split(f.brokers, ",")...)}, sec...), nil
}

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("replay", stderr)
	var f replayFlags
	f.register(fs)
	if err := kafkaconf.RejectPasswordFlag(args); err != nil {
		return usageError{err.Error()}
	}
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	now := time.Now()
	cfg, err := f.config(now, true)
	if err != nil {
		return err
	}
	def, err := pipeline.Load(f.file)
	if err != nil {
		return err
	}
	log, err := newLogger(f.logLevel, stderr)
	if err != nil {
		return usageError{err.Error()}
	}
	defer func() { _ = log.Sync() }()
	if cfg.Kafka, err = replayKafkaOpts(f); err != nil {
		return usageError{err.Error()}
	}
	cfg.Definition, cfg.Logger, cfg.Progress = def, log, stderr

	// The models of a score operator, at the versions the pipeline pins.
	var stopModels func()
	cfg.Model, cfg.Shadow, stopModels, err = startModels(ctx, def, cfg.Kafka, prometheus.NewRegistry(), log)
	if err != nil {
		return err
	}
	defer stopModels()
	if cfg.DriftReference, err = loadDriftReference(def); err != nil {
		return err
	}

	sum, err := replay.Run(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, sum)
	if f.verify == "" {
		return nil
	}
	return verifyReplay(ctx, f, cfg, sum, stdout)
}

// verifyReplay compares the replay's output with the live output topic over the replayed
// input range and prints the verify line; it fails unless the two agree.
func verifyReplay(ctx context.Context, f replayFlags, cfg replay.Config, sum *replay.Summary, stdout io.Writer) error {
	vc := replay.VerifyConfig{
		Brokers:      strings.Split(f.brokers, ","),
		ClientOpts:   cfg.Kafka,
		Live:         f.verify,
		ReplayFile:   cfg.OutputFile,
		From:         map[string]map[int32]int64{},
		To:           map[string]map[int32]int64{},
		MinWindowEnd: sum.Plan.MinWindowEnd,
	}
	if cfg.OutputVersion > 0 {
		vc.Replay = replay.VersionedTopic(cfg.Definition.Output.Topic, cfg.OutputVersion)
	}
	for _, pp := range sum.Plan.Partitions {
		if vc.From[pp.Topic] == nil {
			vc.From[pp.Topic], vc.To[pp.Topic] = map[int32]int64{}, map[int32]int64{}
		}
		vc.From[pp.Topic][pp.Partition], vc.To[pp.Topic][pp.Partition] = pp.From, pp.End
	}
	res, err := replay.Verify(ctx, vc)
	if err != nil {
		return fmt.Errorf("replay: verify: %w", err)
	}
	res.Print(stdout)
	if !res.OK() {
		return fmt.Errorf("replay: the replay's output differs from %s over the same input (see above)", f.verify)
	}
	return nil
}

// config checks the flags and turns them into a replay configuration without the pipeline,
// Kafka options, logger and models. A profile (output false) takes no output flags.
func (f *replayFlags) config(now time.Time, output bool) (replay.Config, error) {
	var cfg replay.Config
	switch {
	case f.file == "":
		return cfg, usageError{"replay: -f pipeline.yaml is required"}
	case f.brokers == "":
		return cfg, usageError{"replay: --brokers host:port is required (or set KAPPA_BROKERS)"}
	case f.from == "" && f.fromOffsets == "":
		return cfg, usageError{"replay: give the range: --from TIME [--to TIME], or --from-offsets P:O[,P:O] [--to-offsets P:O,...]"}
	case f.from != "" && f.fromOffsets != "":
		return cfg, usageError{"replay: --from and --from-offsets exclude each other"}
	case f.to != "" && f.from == "":
		return cfg, usageError{"replay: --to goes with --from; with --from-offsets use --to-offsets"}
	case f.toOffsets != "" && f.fromOffsets == "":
		return cfg, usageError{"replay: --to-offsets goes with --from-offsets"}
	case output && (f.outputVersion > 0) == (f.output != ""):
		return cfg, usageError{"replay: give one output: --output-version N (writes <topic>.vN) or --output FILE.jsonl"}
	case f.outputVersion < 0:
		return cfg, usageError{fmt.Sprintf("replay: --output-version %d: want a positive number", f.outputVersion)}
	case f.warmUp < 0:
		return cfg, usageError{fmt.Sprintf("replay: --warm-up %s: want a positive duration", f.warmUp)}
	}
	var err error
	if f.from != "" {
		if cfg.Range.From, err = parseTime("--from", f.from, now); err != nil {
			return cfg, err
		}
		cfg.Range.To = now
		if f.to != "" {
			if cfg.Range.To, err = parseTime("--to", f.to, now); err != nil {
				return cfg, err
			}
		}
	} else {
		if cfg.Range.FromOffsets, err = parseOffsets("--from-offsets", f.fromOffsets); err != nil {
			return cfg, err
		}
		if f.toOffsets != "" {
			if cfg.Range.ToOffsets, err = parseOffsets("--to-offsets", f.toOffsets); err != nil {
				return cfg, err
			}
		}
	}
	cfg.Range.WarmUp = f.warmUp
	if err := cfg.Range.Validate(); err != nil {
		return cfg, usageError{err.Error()}
	}
	cfg.OutputVersion, cfg.OutputFile = f.outputVersion, f.output
	cfg.StateDir, cfg.KeepState, cfg.AllowPartial = f.stateDir, f.keepState, f.allowPartial
	cfg.BatchInterval, cfg.ProgressInterval = f.batchInterval, f.progressInterval
	return cfg, nil
}

// parseTime reads an RFC 3339 time, "now", or a duration relative to now (-24h).
func parseTime(flag, s string, now time.Time) (time.Time, error) {
	if s == "now" {
		return now, nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(d), nil
	}
	return time.Time{}, usageError{fmt.Sprintf("replay: %s %q: want an RFC 3339 time (2026-01-02T15:04:05Z) or a duration relative to now (-24h)", flag, s)}
}

// parseOffsets reads partition:offset[,partition:offset].
func parseOffsets(flag, s string) (map[int32]int64, error) {
	out := map[int32]int64{}
	for _, item := range strings.Split(s, ",") {
		ps, offs, ok := strings.Cut(strings.TrimSpace(item), ":")
		p, perr := strconv.ParseInt(ps, 10, 32)
		o, oerr := strconv.ParseInt(offs, 10, 64)
		_, dup := out[int32(p)]
		switch {
		case !ok || perr != nil || oerr != nil || p < 0 || o < 0:
			return nil, usageError{fmt.Sprintf("replay: %s: %q is not partition:offset (such as 0:100)", flag, item)}
		case dup:
			return nil, usageError{fmt.Sprintf("replay: %s names partition %d twice", flag, p)}
		}
		out[int32(p)] = o
	}
	return out, nil
}
