package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kprom"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/kappa-stream/kappa/internal/admin"
	"github.com/kappa-stream/kappa/internal/kafkaconf"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/processor"
	"github.com/kappa-stream/kappa/sinks"
	"github.com/kappa-stream/kappa/source"
	"github.com/kappa-stream/kappa/state"
)

// runFlags are the flags of `kappa run`, shared with `kappa demo`.
type runFlags struct {
	file               string
	brokers            string
	instanceID         string
	adminAddr          string
	stateDir           string
	logLevel           string
	transactionTimeout time.Duration
	sessionTimeout     time.Duration
	shutdownTimeout    time.Duration
	// kafka is how every Kafka client connects: TLS, mTLS, SASL. Only `kappa run` has its
	// flags; the demo's embedded broker is plaintext.
	kafka kafkaconf.Config
}

func (f *runFlags) register(fs *flag.FlagSet) {
	host, _ := os.Hostname()
	fs.StringVar(&f.file, "f", "", "pipeline file (required)")
	fs.StringVar(&f.brokers, "brokers", os.Getenv("KAPPA_BROKERS"), "Kafka seed brokers, host:port[,host:port] (default $KAPPA_BROKERS)")
	fs.StringVar(&f.instanceID, "instance-id", host, "stable id of this instance across restarts (pod name); static group member and transactional id")
	fs.StringVar(&f.adminAddr, "admin-addr", ":9464", "address of the admin HTTP server (/metrics, /healthz, /readyz); empty disables it")
	fs.StringVar(&f.stateDir, "state-dir", "", "state directory (default: the pipeline's state_dir)")
	fs.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.DurationVar(&f.transactionTimeout, "transaction-timeout", 30*time.Second, "Kafka transaction timeout; at least 10x the commit interval and at most the broker's transaction.max.timeout.ms")
	fs.DurationVar(&f.sessionTimeout, "session-timeout", 30*time.Second, "group session timeout: how long a stopped static member keeps its partitions before the group moves them (a restart within it causes no rebalance)")
	fs.DurationVar(&f.shutdownTimeout, "shutdown-timeout", 15*time.Second, "bound on finishing the open transaction at shutdown, and then on closing the Kafka client")
}

func runRun(ctx context.Context, args []string, _, stderr io.Writer) error {
	fs := newFlagSet("run", stderr)
	var f runFlags
	f.register(fs)
	f.kafka.RegisterFlags(fs)
	if err := kafkaconf.RejectPasswordFlag(args); err != nil {
		return usageError{"run: " + err.Error()}
	}
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if f.file == "" {
		return usageError{"run: -f pipeline.yaml is required"}
	}
	if f.brokers == "" {
		return usageError{"run: --brokers host:port is required (or set KAPPA_BROKERS)"}
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
	_, err = runPipeline(ctx, def, f, log, nil)
	return err
}

// pipelineHooks let `kappa demo` watch a running pipeline.
type pipelineHooks struct {
	started func(p *processor.Processor, lag func() int64, adminAddr net.Addr)
}

// runPipeline runs def until ctx ends. It returns after the processor, the admin server and
// the state store are closed.
func runPipeline(ctx context.Context, def *pipeline.Definition, f runFlags, log *zap.Logger, hooks *pipelineHooks) (*processor.Processor, error) {
	if f.stateDir != "" {
		def.StateDir = f.stateDir
	}
	if f.instanceID == "" {
		return nil, usageError{"run: --instance-id is empty and the host name is unknown; set --instance-id"}
	}
	if least := 10 * def.CommitInterval; f.transactionTimeout < least {
		return nil, usageError{fmt.Sprintf("run: --transaction-timeout %s is too close to commit_interval %s; use at least %s",
			f.transactionTimeout, def.CommitInterval, least)}
	}
	brokers := strings.Split(f.brokers, ",")
	log = log.With(zap.String("pipeline", def.Name), zap.String("instance", f.instanceID))
	// Every Kafka client of the run connects with these: the admin client, the changelog
	// reader, the group member and the models watchers.
	secOpts, err := f.kafka.Opts()
	if err != nil {
		return nil, usageError{"run: " + err.Error()}
	}
	kafkaOpts := slices.Clip(append([]kgo.Opt{kgo.SeedBrokers(brokers...)}, secOpts...))

	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	srcMetrics, err := source.NewMetrics(reg)
	if err != nil {
		return nil, err
	}

	setupCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	// The first requests: a rejected password or an untrusted certificate fails here, at
	// once, with an error that names the setting to check.
	setupCtx, auth := kafkaconf.WatchAuth(setupCtx)
	defer auth.Stop()
	admCl, err := kgo.NewClient(append(kafkaOpts, kgo.WithHooks(auth))...)
	if err != nil {
		return nil, fmt.Errorf("run: kafka client: %w", err)
	}
	adm := kadm.NewClient(admCl)
	err = f.kafka.Explain(auth.Err(checkTimeouts(setupCtx, adm, def, f)))
	if err == nil {
		_, err = sinks.EnsureTopics(setupCtx, adm, sinks.TopicsOf(def))
	}
	var maxRecord int32
	if err == nil {
		maxRecord, err = sinks.MaxMessageBytes(setupCtx, adm, def.Input.Topics...)
	}
	admCl.Close()
	if err != nil {
		return nil, fmt.Errorf("run: %w", err)
	}

	store, err := openState(def.StateDir, log)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := store.Close(); err != nil {
			log.Error("close state", zap.Error(err))
		}
	}()
	// kprom follows one client at a time: the group member's, the one that carries the
	// pipeline's traffic. The changelog reader is busy only while restoring. Each client gets
	// its own kprom.Metrics, which registers when the client starts and unregisters when it
	// closes: a Metrics serves one client, and the hooks of a closed client can still be
	// running when the processor builds the next one.
	changelog, err := source.NewChangelog(def.ChangelogTopic(), kafkaOpts...)
	if err != nil {
		return nil, err
	}
	defer changelog.Close()

	// The models of a score operator, watched until the processor has stopped.
	model, shadow, stopModels, err := startModels(ctx, def, kafkaOpts, reg, log)
	if err != nil {
		return nil, err
	}
	defer stopModels()

	ref, err := loadDriftReference(def)
	if err != nil {
		return nil, err
	}
	p, err := processor.New(processor.Config{
		Model:          model,
		Shadow:         shadow,
		DriftReference: ref,
		Definition:     def,
		Store:          store,
		Changelog:      changelog,
		Logger:         log,
		Registerer:     reg,
		NewClient: func(a processor.Assignment) (processor.Client, error) {
			return source.NewClient(source.Config{
				Brokers:            brokers,
				Group:              def.GroupID(),
				InstanceID:         f.instanceID,
				Topics:             def.Input.Topics,
				ExactlyOnce:        def.ExactlyOnce,
				TransactionTimeout: f.transactionTimeout,
				SessionTimeout:     f.sessionTimeout,
				MaxRecordBytes:     maxRecord,
				Logger:             log,
				Metrics:            srcMetrics,
				Opts:               append([]kgo.Opt{kgo.WithHooks(kprom.NewMetrics("kappa", kprom.Registerer(reg), kprom.Subsystem("kafka")))}, secOpts...),
			}, a.Assigned, a.Revoked)
		},
		ShutdownTimeout: f.shutdownTimeout,
	})
	if err != nil {
		return nil, err
	}

	var wg sync.WaitGroup
	adminCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
	defer func() { stopAdmin(); wg.Wait() }()
	var adminAddr net.Addr
	if f.adminAddr != "" {
		srv := admin.New(f.adminAddr, reg)
		srv.SetReadinessCheck("processor", p.Ready)
		ready := make(chan net.Addr, 1)
		errc := make(chan error, 1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := srv.Run(adminCtx, ready); err != nil {
				errc <- err
			}
		}()
		select {
		case adminAddr = <-ready:
			log.Info("admin server listening", zap.String("addr", adminAddr.String()))
		case err := <-errc:
			return nil, err
		}
	}
	if hooks != nil && hooks.started != nil {
		hooks.started(p, srcMetrics.Lag, adminAddr)
	}
	log.Info("starting", zap.Strings("brokers", brokers), zap.String("kafka_security", f.kafka.Describe()), zap.String("state_dir", def.StateDir))
	if err := p.Run(ctx); err != nil {
		return p, err
	}
	s := p.Snapshot()
	log.Info("stopped cleanly", zap.Int64("records_in", s.RecordsIn), zap.Int64("records_out", s.RecordsOut),
		zap.Int64("commits", s.Commits), zap.Int64("aborts", s.Aborts))
	return p, nil
}

// checkTimeouts refuses a transaction timeout above the broker's maximum and a session
// timeout outside the broker's bounds, which the broker would otherwise reject at the first
// transaction or join, over and over.
func checkTimeouts(ctx context.Context, adm *kadm.Client, def *pipeline.Definition, f runFlags) error {
	rcs, err := adm.DescribeBrokerConfigs(ctx)
	if err != nil {
		return fmt.Errorf("describe broker configs: %w", err)
	}
	ms := func(key string) (time.Duration, bool) {
		for _, rc := range rcs {
			for _, c := range rc.Configs {
				if c.Key == key && c.Value != nil {
					if v, err := strconv.ParseInt(*c.Value, 10, 64); err == nil {
						return time.Duration(v) * time.Millisecond, true
					}
				}
			}
		}
		return 0, false
	}
	if hi, ok := ms("transaction.max.timeout.ms"); ok && def.ExactlyOnce && f.transactionTimeout > hi {
		return fmt.Errorf("--transaction-timeout %s exceeds the broker's transaction.max.timeout.ms (%s); lower it", f.transactionTimeout, hi)
	}
	if lo, ok := ms("group.min.session.timeout.ms"); ok && f.sessionTimeout < lo {
		return fmt.Errorf("--session-timeout %s is below the broker's group.min.session.timeout.ms (%s); raise it", f.sessionTimeout, lo)
	}
	if hi, ok := ms("group.max.session.timeout.ms"); ok && f.sessionTimeout > hi {
		return fmt.Errorf("--session-timeout %s exceeds the broker's group.max.session.timeout.ms (%s); lower it", f.sessionTimeout, hi)
	}
	return nil
}

// openState opens the state store, wiping it when Pebble finds it corrupt: Kafka holds the
// truth, and every partition is restored from the changelog.
func openState(dir string, log *zap.Logger) (*state.Store, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("run: create state directory: %w", err)
	}
	store, err := state.Open(dir, state.Options{Logger: log.Named("pebble")})
	if errors.Is(err, state.ErrCorrupt) {
		log.Warn("local state is corrupt; deleting it and restoring every partition from the changelog",
			zap.String("state_dir", dir), zap.Error(err))
		if err := state.Destroy(dir, nil); err != nil {
			return nil, fmt.Errorf("run: delete corrupt state in %s: %w", dir, err)
		}
		store, err = state.Open(dir, state.Options{Logger: log.Named("pebble")})
	}
	if err != nil {
		return nil, fmt.Errorf("run: open state in %s: %w", dir, err)
	}
	return store, nil
}

func newLogger(level string, w io.Writer) (*zap.Logger, error) {
	lvl, err := zapcore.ParseLevel(level)
	if err != nil {
		return nil, fmt.Errorf("--log-level %q: want debug, info, warn or error", level)
	}
	enc := zap.NewProductionEncoderConfig()
	enc.EncodeTime = zapcore.ISO8601TimeEncoder
	core := zapcore.NewCore(zapcore.NewJSONEncoder(enc), zapcore.Lock(zapcore.AddSync(w)), lvl)
	return zap.New(core), nil
}

// signalContext returns a context canceled by the first SIGINT or SIGTERM; a second signal
// exits the process at once.
func signalContext(parent context.Context, stderr io.Writer) (context.Context, func()) {
	ctx, cancel := context.WithCancel(parent)
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case s := <-ch:
			fmt.Fprintf(stderr, "kappa: %v: shutting down (again to exit at once)\n", s)
			cancel()
		case <-ctx.Done():
			return
		}
		<-ch
		fmt.Fprintln(stderr, "kappa: second signal: exiting now")
		os.Exit(130)
	}()
	return ctx, func() { signal.Stop(ch); cancel() }
}

func runValidate(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("validate", stderr)
	file := fs.String("f", "", "pipeline file (required)")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	if *file == "" {
		return usageError{"validate: -f pipeline.yaml is required"}
	}
	def, err := pipeline.Load(*file)
	if err != nil {
		var probs pipeline.Problems
		if errors.As(err, &probs) {
			fmt.Fprintln(stderr, err)
			return fmt.Errorf("%s: %d problem(s)", *file, len(probs))
		}
		return err
	}
	// The drift reference, which the pipeline names but does not hold.
	if _, err := loadDriftReference(def); err != nil {
		return fmt.Errorf("%s: %w", *file, err)
	}
	fmt.Fprintf(stdout, "%s: ok (pipeline %q: %s -> %s, exactly_once=%v)\n",
		*file, def.Name, strings.Join(def.Input.Topics, ","), def.Output.Topic, def.ExactlyOnce)
	return nil
}

func isExists(err error) bool { return errors.Is(err, kerr.TopicAlreadyExists) }
