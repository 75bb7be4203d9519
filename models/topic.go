package models

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
)

// TopicConfig configures a TopicWatcher.
type TopicConfig struct {
	// Topic is the models topic: compacted, key = model name, value = the model file's bytes,
	// header kappa.model.version = its version. Required.
	Topic string
	// Name is the model's name: the key of its records. Required.
	Name string
	// Version pins a version: records of other versions are skipped. "" accepts any.
	Version string
	// Role is RolePrimary (the default) or RoleShadow; it labels the metrics and logs.
	Role string
	// Features are the pipeline's features, one per model input: a model must take exactly
	// len(Features) features. Required.
	Features []string
	// Kafka are the client's connection options: kgo.SeedBrokers (required), TLS, SASL. The
	// watcher adds its own consuming options.
	Kafka []kgo.Opt
	// StartTimeout bounds NewTopicWatcher: reading the topic up to its end and finding a
	// valid model. Default 30s.
	StartTimeout time.Duration
	// Logger receives a line per model swapped in and per rejected record. Nil means
	// zap.NewNop().
	Logger *zap.Logger
	// Metrics counts loads and exports the version in use. Nil means no metrics.
	Metrics *Metrics
}

// Validate reports a configuration NewTopicWatcher would refuse.
func (c TopicConfig) Validate() error {
	switch {
	case c.Topic == "":
		return errors.New("models: topic watcher: no Topic")
	case c.Name == "":
		return fmt.Errorf("models: topic watcher for %s: no Name (the key of the model's records)", c.Topic)
	case len(c.Features) == 0:
		return fmt.Errorf("models: topic watcher for %s: no Features", c.Topic)
	case c.StartTimeout < 0:
		return fmt.Errorf("models: topic watcher for %s: StartTimeout %s is negative", c.Topic, c.StartTimeout)
	}
	return validRole("topic watcher for "+c.Topic, c.Role)
}

// TopicWatcher keeps a Holder filled with the newest valid model of a models topic.
//
// It consumes every partition of the topic from the start with a plain consumer (no group,
// read_committed) and looks only at records whose key is the model's name. The newest
// valid one is in use: a record is valid when it parses (score.Parse), takes as many
// features as the pipeline lists and, with a pin, has the pinned version. Its version is
// its kappa.model.version header, else Version of its value.
//
// After the start, each new record of the model is loaded and swapped in, or logged and
// counted as a load error while the previous model stays. A record of another version than
// the pinned one is not a load error: it is skipped with an info line. A tombstone (null
// value) is skipped with a warning: deleting a model never leaves a pipeline without one,
// but once compaction has removed the model's records a restart fails.
//
// Publish a model's records to one partition (the default partitioner does, by key):
// across partitions, which record is the newest is not defined.
type TopicWatcher struct {
	topic string
	l     *loader
	cl    *kgo.Client
	once  sync.Once
}

// NewTopicWatcher reads the models topic from the start up to its end as of the call (the
// last stable offset of each partition: the committed records) and fails unless it found
// a valid model there, so that the first model in use is the newest one published before
// the start. It also fails when the topic cannot be read up to its end within
// StartTimeout. The returned watcher's Holder holds that model; Run follows the topic.
// Parsing every version of the model still in the topic costs time at the start; the
// topic's compaction keeps that history short.
func NewTopicWatcher(ctx context.Context, cfg TopicConfig) (*TopicWatcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	timeout := cfg.StartTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), cfg.Kafka...),
		kgo.ConsumeTopics(cfg.Topic),
		kgo.ConsumeStartOffset(kgo.NewOffset().AtStart()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		// The commit marker that often ends a partition is how the start knows it is done.
		kgo.KeepControlRecords(),
	)...)
	if err != nil {
		return nil, fmt.Errorf("models: topic %s: kafka client: %w", cfg.Topic, err)
	}
	w := &TopicWatcher{
		topic: cfg.Topic,
		l:     newLoader(cfg.Name, roleOrDefault(cfg.Role), cfg.Version, cfg.Features, cfg.Logger, cfg.Metrics),
		cl:    cl,
	}
	sctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := w.start(sctx, timeout); err != nil {
		w.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	return w, nil
}

// Holder returns the holder of the model in use. It never changes and always holds a
// model.
func (w *TopicWatcher) Holder() *Holder { return w.l.holder }

// Run follows the topic until ctx is done, then closes the watcher's client and returns
// nil. Call it once.
func (w *TopicWatcher) Run(ctx context.Context) error {
	defer w.Close()
	for {
		fs := w.cl.PollFetches(ctx)
		if ctx.Err() != nil || fs.IsClientClosed() {
			return nil
		}
		fs.EachError(func(topic string, p int32, err error) {
			// The client retries what can be retried; what reaches here is worth a line
			// (the topic deleted, authorization), and the model in use stays.
			w.l.log.Warn("cannot read the models topic; the model in use stays",
				zap.String("topic", topic), zap.Int32("partition", p), zap.Error(err))
		})
		fs.EachRecord(func(r *kgo.Record) {
			if c := w.candidate(r, false); c != nil {
				w.load(c)
			}
		})
	}
}

// Close releases the watcher's client. Run closes it when it returns; call Close only
// for a watcher that is never run. It is safe to call more than once.
func (w *TopicWatcher) Close() { w.once.Do(w.cl.Close) }

// candidate is a record of the model: its source for messages and its version.
type candidate struct {
	r       *kgo.Record
	source  string
	version string
}

func (c *candidate) fields() []zap.Field {
	return []zap.Field{
		zap.String("topic", c.r.Topic), zap.Int32("partition", c.r.Partition),
		zap.Int64("offset", c.r.Offset), zap.String("version", c.version),
	}
}

// candidate returns the record as a candidate when it is one of the model's records, or
// nil (a control record, another model's record, a tombstone, a version not pinned). It
// logs the skipped records of the model, at debug level for the history read at the start.
func (w *TopicWatcher) candidate(r *kgo.Record, history bool) *candidate {
	if r.Attrs.IsControl() || string(r.Key) != w.l.name {
		return nil
	}
	c := &candidate{r: r, source: fmt.Sprintf("%s/%d@%d", r.Topic, r.Partition, r.Offset)}
	for _, h := range r.Headers {
		if h.Key == VersionHeader && len(h.Value) > 0 {
			c.version = string(h.Value)
			break
		}
	}
	if r.Value == nil {
		if history {
			w.l.log.Debug("tombstone of the model ignored", c.fields()...)
		} else {
			w.l.log.Warn("tombstone of the model ignored; the model in use stays", c.fields()...)
		}
		return nil
	}
	if c.version == "" {
		c.version = Version(r.Value)
	}
	if err := w.l.checkPin(c.source, c.version); err != nil {
		if history {
			return nil
		}
		w.l.log.Info("model version skipped: not the pinned one", append(c.fields(), zap.String("pinned", w.l.pin))...)
		return nil
	}
	return c
}

// load parses a candidate and swaps it in, or rejects it.
func (w *TopicWatcher) load(c *candidate) {
	v, err := w.l.parse(c.source, c.r.Value, c.version)
	if err != nil {
		w.l.reject(err, c.fields()...)
		return
	}
	w.l.swap(v, c.fields()...)
}

// start reads the topic up to its end as of now and swaps in the newest valid model.
// Records older than that model are only parsed, never logged or counted: they were
// superseded before this process started.
func (w *TopicWatcher) start(ctx context.Context, timeout time.Duration) error {
	ends, err := w.ends(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%w: not done within the start timeout %s: is the broker reachable?", err, timeout)
	}
	if err != nil {
		return err
	}
	var (
		best      *Versioned
		bestC     *candidate
		newestErr error // the error of the newest record of the model, if it is newer than best
		newestC   *candidate
		lastFetch error
	)
	for len(ends) > 0 {
		fs := w.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return w.startTimeout(ends, timeout, lastFetch)
		}
		fs.EachError(func(_ string, _ int32, err error) { lastFetch = err })
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := ends[r.Partition]; ok && r.Offset+1 >= end {
				delete(ends, r.Partition)
			}
			c := w.candidate(r, true)
			if c == nil {
				return
			}
			v, err := w.l.parse(c.source, r.Value, c.version)
			if err != nil {
				newestErr, newestC = err, c
				w.l.log.Debug("model record not valid", append(c.fields(), zap.Error(err))...)
				return
			}
			best, bestC, newestErr, newestC = v, c, nil, nil
		})
	}
	if best == nil {
		if newestErr != nil {
			w.l.failed.Inc()
			return fmt.Errorf("%w named %s in topic %s: the newest record is not usable: %w", ErrNoModel, w.l.name, w.topic, newestErr)
		}
		pin := ""
		if w.l.pin != "" {
			pin = " with version " + w.l.pin
		}
		return fmt.Errorf("%w named %s in topic %s: no record with key %q%s: publish the model there (key = model name, value = the model file)",
			ErrNoModel, w.l.name, w.topic, w.l.name, pin)
	}
	w.l.swap(best, bestC.fields()...)
	if newestErr != nil {
		// Like a bad record after the start: counted, and the newest valid one is in use.
		w.l.reject(newestErr, newestC.fields()...)
	}
	return nil
}

// ends returns the partitions that hold records, with the end of their committed records.
func (w *TopicWatcher) ends(ctx context.Context) (map[int32]int64, error) {
	adm := kadm.NewClient(w.cl)
	list := func(what string, f func(context.Context, ...string) (kadm.ListedOffsets, error)) (kadm.ListedOffsets, error) {
		l, err := f(ctx, w.topic)
		if err == nil {
			err = l.Error()
		}
		if errors.Is(err, kerr.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("models: topic %s does not exist: create it (compacted) and publish the model there", w.topic)
		}
		if err != nil {
			return nil, fmt.Errorf("models: topic %s: list %s offsets: %w", w.topic, what, err)
		}
		return l, nil
	}
	starts, err := list("start", adm.ListStartOffsets)
	if err != nil {
		return nil, err
	}
	lsos, err := list("end", adm.ListCommittedOffsets)
	if err != nil {
		return nil, err
	}
	if len(lsos[w.topic]) == 0 {
		return nil, fmt.Errorf("models: topic %s does not exist: create it (compacted) and publish the model there", w.topic)
	}
	ends := map[int32]int64{}
	lsos.Each(func(o kadm.ListedOffset) {
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok && o.Offset > s.Offset {
			ends[o.Partition] = o.Offset
		}
	})
	return ends, nil
}

// startTimeout explains which partitions were not read to their end in time.
func (w *TopicWatcher) startTimeout(ends map[int32]int64, timeout time.Duration, lastFetch error) error {
	ps := make([]string, 0, len(ends))
	for p, end := range ends {
		ps = append(ps, fmt.Sprintf("%d (end %d)", p, end))
	}
	sort.Strings(ps)
	msg := fmt.Sprintf("models: topic %s: not read to its end within %s: partitions %s", w.topic, timeout, strings.Join(ps, ", "))
	if lastFetch != nil {
		return fmt.Errorf("%s: last fetch error: %w", msg, lastFetch)
	}
	return errors.New(msg + ": is the broker reachable? raise the start timeout for a large topic")
}
