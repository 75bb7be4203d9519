package source

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kzap"
	"go.uber.org/zap"

	"github.com/kappa-stream/kappa/model"
)

// Config configures a pipeline's group member.
type Config struct {
	// Brokers are the seed brokers, host:port. Required.
	Brokers []string
	// Group is the consumer group id (the pipeline name). Required.
	Group string
	// InstanceID identifies this instance across restarts (the pod or host name). It is the
	// static group member id and, with exactly-once, part of the transactional id, so a
	// restarted instance fences its own zombie. Required.
	InstanceID string
	// Topics are the input topics. Required.
	Topics []string
	// ExactlyOnce selects a transactional session (read_committed, KIP-447 fencing) instead
	// of at-least-once consumption with offsets committed after outputs are acknowledged.
	ExactlyOnce bool
	// TransactionTimeout must exceed the commit interval by a wide margin and stay under the
	// broker's transaction.max.timeout.ms. Default 30s.
	TransactionTimeout time.Duration
	// SessionTimeout is the group session timeout. Default 30s.
	SessionTimeout time.Duration
	// Logger receives the client's logs at warn and above. Default: none.
	Logger *zap.Logger
	// Metrics receives consumer lag; nil exports none.
	Metrics *Metrics
	// MaxRecordBytes is the largest record batch the client must be able to produce: the
	// inputs' max.message.bytes, since a dead letter is an input record unchanged. Values
	// below franz-go's default (about 1 MB) keep the default.
	MaxRecordBytes int32
	// Opts are extra client options: kprom hooks, TLS, SASL.
	Opts []kgo.Opt
}

// defaultBatchMaxBytes is franz-go's default ProducerBatchMaxBytes.
const defaultBatchMaxBytes = 1000012

// TransactionalID is the transactional id of an instance of a pipeline: "<group>-<instance>".
func TransactionalID(group, instance string) string { return group + "-" + instance }

// Client is a pipeline's group member: it consumes the input topics and produces outputs, in
// transactions when exactly-once. It implements the processor's Client interface.
type Client struct {
	cfg  Config
	cl   *kgo.Client
	sess *kgo.GroupTransactSession // nil when at-least-once
	log  *zap.Logger

	failed atomic.Bool // a record produced since the last End failed
}

// NewClient joins the group. onAssigned and onRevoked receive the partition numbers (of all
// input topics) whose ownership changed; they are called between polls only, since the
// client blocks rebalances from a non-empty poll until AllowRebalance.
func NewClient(cfg Config, onAssigned, onRevoked func([]int32)) (*Client, error) {
	switch {
	case len(cfg.Brokers) == 0:
		return nil, errors.New("source: no brokers")
	case cfg.Group == "":
		return nil, errors.New("source: no group")
	case cfg.InstanceID == "":
		return nil, errors.New("source: no instance id")
	case len(cfg.Topics) == 0:
		return nil, errors.New("source: no input topics")
	}
	if cfg.TransactionTimeout <= 0 {
		cfg.TransactionTimeout = 30 * time.Second
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 30 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = zap.NewNop()
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(cfg.Brokers...),
		kgo.ConsumerGroup(cfg.Group),
		kgo.InstanceID(cfg.InstanceID),
		kgo.ConsumeTopics(cfg.Topics...),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.SessionTimeout(cfg.SessionTimeout),
		kgo.HeartbeatInterval(min(3*time.Second, cfg.SessionTimeout/3)),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.BlockRebalanceOnPoll(),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(0),
		kgo.ProducerBatchMaxBytes(max(cfg.MaxRecordBytes, defaultBatchMaxBytes)),
		kgo.WithLogger(kzap.New(cfg.Logger.Named("kgo"), kzap.Level(kgo.LogLevelWarn))),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			if onAssigned != nil {
				onAssigned(partitions(m))
			}
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			if onRevoked != nil {
				onRevoked(partitions(m))
			}
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			if onRevoked != nil {
				onRevoked(partitions(m))
			}
		}),
	}
	c := &Client{cfg: cfg, log: cfg.Logger}
	var err error
	if cfg.ExactlyOnce {
		opts = append(opts,
			kgo.TransactionalID(TransactionalID(cfg.Group, cfg.InstanceID)),
			kgo.TransactionTimeout(cfg.TransactionTimeout),
		)
		c.sess, err = kgo.NewGroupTransactSession(append(opts, cfg.Opts...)...)
		if err == nil {
			c.cl = c.sess.Client()
		}
	} else {
		opts = append(opts, kgo.DisableAutoCommit())
		c.cl, err = kgo.NewClient(append(opts, cfg.Opts...)...)
	}
	if err != nil {
		return nil, fmt.Errorf("source: new client: %w", err)
	}
	return c, nil
}

// partitions returns the distinct partition numbers of m, sorted.
func partitions(m map[string][]int32) []int32 {
	seen := map[int32]bool{}
	var out []int32
	for _, ps := range m {
		for _, p := range ps {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// Poll implements processor.Client.
func (c *Client) Poll(ctx context.Context) ([]model.Record, error) {
	var fs kgo.Fetches
	if c.sess != nil {
		fs = c.sess.PollFetches(ctx)
	} else {
		fs = c.cl.PollFetches(ctx)
	}
	if fs.IsClientClosed() {
		return nil, kgo.ErrClientClosed
	}
	var ctxErr, fencedErr error
	fs.EachError(func(topic string, p int32, err error) {
		switch {
		case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
			ctxErr = err
			return
		case errors.Is(err, kerr.FencedInstanceID):
			// Another member joined with this instance id: this one is a zombie and must
			// stop, not retry (the group rejects every join of it from now on).
			fencedErr = fenced(err)
			return
		}
		c.log.Warn("fetch error; the client retries", zap.String("topic", topic), zap.Int32("partition", p), zap.Error(err))
	})
	if fencedErr != nil {
		return nil, fencedErr
	}
	recs := make([]model.Record, 0, fs.NumRecords())
	fs.EachPartition(func(fp kgo.FetchTopicPartition) {
		for _, r := range fp.Records {
			recs = append(recs, Record(r))
		}
		if n := len(fp.Records); n > 0 && c.cfg.Metrics != nil {
			c.cfg.Metrics.setLag(fp.Topic, fp.Partition, fp.HighWatermark-fp.Records[n-1].Offset-1)
		}
	})
	if len(recs) == 0 && ctxErr != nil {
		return nil, ctxErr
	}
	return recs, nil
}

// KafkaRecord converts an output to a franz-go record for topic (the output's own, or
// another such as a replay's versioned topic). It shares out's slices.
func KafkaRecord(out *model.Output, topic string) *kgo.Record {
	r := &kgo.Record{Topic: topic, Partition: out.Partition, Key: out.Key, Value: out.Value}
	if len(out.Headers) > 0 {
		r.Headers = make([]kgo.RecordHeader, len(out.Headers))
		for i, h := range out.Headers {
			r.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	return r
}

// Record converts a franz-go record to the processor's record. The key, value and header
// values are the franz-go record's slices, not copies.
func Record(r *kgo.Record) model.Record {
	var hs []model.Header
	if len(r.Headers) > 0 {
		hs = make([]model.Header, len(r.Headers))
		for i, h := range r.Headers {
			hs[i] = model.Header{Key: h.Key, Value: h.Value}
		}
	}
	return model.Record{
		Key:       r.Key,
		Value:     r.Value,
		Headers:   hs,
		Timestamp: r.Timestamp,
		Position:  model.Position{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset},
	}
}

// AllowRebalance implements processor.Client.
func (c *Client) AllowRebalance() {
	if c.sess != nil {
		c.sess.AllowRebalance()
	} else {
		c.cl.AllowRebalance()
	}
}

// Begin implements processor.Client.
func (c *Client) Begin() error {
	if c.sess == nil {
		return nil
	}
	return fenced(c.sess.Begin())
}

// Produce implements processor.Client.
func (c *Client) Produce(out *model.Output, done func(offset int64, err error)) {
	r := KafkaRecord(out, out.Topic)
	// The context only bounds buffering; End's flush waits for every record.
	c.cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
		if err != nil {
			c.failed.Store(true)
		}
		done(r.Offset, err)
	})
}

// End implements processor.Client.
func (c *Client) End(ctx context.Context, commit bool) (bool, error) {
	// The commit decision is made only after every record of the transaction was
	// acknowledged or failed: the caller's view of failures is complete only then, and a
	// transaction missing one record (a changelog record, say) must never commit.
	if err := c.cl.Flush(ctx); err != nil {
		if c.sess != nil {
			// The session still has to end; the abort is what the outcome will be.
			_, _ = c.sess.End(ctx, kgo.TryAbort)
		}
		return false, fmt.Errorf("source: flush outputs: %w", err)
	}
	commit = commit && !c.failed.Swap(false)
	if c.sess != nil {
		committed, err := c.sess.End(ctx, kgo.TransactionEndTry(commit))
		return committed, fenced(err)
	}
	// At-least-once: outputs are acknowledged before the offsets are committed.
	if !commit {
		return false, errors.New("source: outputs failed; rejoining to rewind to the committed offsets")
	}
	if err := c.cl.CommitUncommittedOffsets(ctx); err != nil {
		return false, fmt.Errorf("source: commit offsets: %w", fenced(err))
	}
	return true, nil
}

// Close implements processor.Client.
func (c *Client) Close() {
	if c.sess != nil {
		c.sess.Close()
		return
	}
	c.cl.Close()
}

// fenced marks the errors that mean another instance took over this one's identity.
func fenced(err error) error {
	if err == nil {
		return nil
	}
	// INVALID_PRODUCER_EPOCH is left to a rebuild: a new producer id ends it, and a real
	// zombie pair is then caught by the two errors here.
	if errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.FencedInstanceID) {
		return fmt.Errorf("%w: %w", model.ErrFenced, err)
	}
	return err
}
