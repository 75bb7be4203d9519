package replay

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/plugin/kzap"
	"go.uber.org/zap"

	"github.com/kappa-stream/kappa/model"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/sinks"
	"github.com/kappa-stream/kappa/source"
)

// VersionedTopic is the name a replay with output version n writes instead of topic:
// "<topic>.v<n>".
func VersionedTopic(topic string, n int) string { return topic + ".v" + strconv.Itoa(n) }

// Producer settings of a replay: large batches, a short linger to fill them.
const (
	producerMaxBufferedRecords = 1 << 18
	producerLinger             = 20 * time.Millisecond
	producerBatchMaxBytes      = 1000012 // franz-go's default; raised to the inputs' max.message.bytes
)

// topicSink writes outputs to the versioned topics with an idempotent, non-transactional
// producer. Changelog records are dropped: replay state is scratch.
type topicSink struct {
	cl        *kgo.Client
	rename    map[string]string
	changelog string

	mu  sync.Mutex
	err error // the first failed record
}

// prepareTopics creates the versioned topics of def that are missing, with the input's
// partition count, and empties those that hold records, so that the replay leaves exactly
// its own output in them. It returns the renaming from live to versioned topic names, and
// the input's max.message.bytes (0: the broker's default), which the versioned topics take.
func prepareTopics(ctx context.Context, adm *kadm.Client, def *pipeline.Definition, version int, log *zap.Logger) (map[string]string, int32, error) {
	rename := map[string]string{}
	var targets []string
	for _, t := range sinks.TopicsOf(def).Written() {
		v := VersionedTopic(t, version)
		if slices.Contains(def.Input.Topics, v) || v == def.ChangelogTopic() {
			return nil, 0, fmt.Errorf("replay: output version %d would write %q, which the pipeline reads or uses for state; pick another version", version, v)
		}
		rename[t] = v
		targets = append(targets, v)
	}
	input := def.Input.Topics[0]
	details, err := adm.ListTopics(ctx, append([]string{input}, targets...)...)
	if err != nil {
		return nil, 0, fmt.Errorf("replay: list topics: %w", err)
	}
	in, ok := details[input]
	if !ok || in.Err != nil {
		return nil, 0, fmt.Errorf("replay: input topic %q does not exist", input)
	}
	n := int32(len(in.Partitions))
	maxBytes, err := sinks.MaxMessageBytes(ctx, adm, input)
	if err != nil {
		return nil, 0, fmt.Errorf("replay: %w", err)
	}
	var toEmpty []string
	for _, t := range targets {
		d, ok := details[t]
		switch {
		case !ok || errors.Is(d.Err, kerr.UnknownTopicOrPartition):
			// Dead letters and late records are input records unchanged: the versioned
			// topics take records as large as the input does, like the live ones.
			var configs map[string]*string
			if maxBytes > 0 {
				v := strconv.Itoa(int(maxBytes))
				configs = map[string]*string{"max.message.bytes": &v}
			}
			resp, err := adm.CreateTopic(ctx, n, -1, configs, t)
			if err == nil {
				err = resp.Err
			}
			if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
				return nil, 0, fmt.Errorf("replay: create topic %s: %w", t, err)
			}
			log.Info("created versioned topic", zap.String("topic", t), zap.Int32("partitions", n))
		case d.Err != nil:
			return nil, 0, fmt.Errorf("replay: describe topic %s: %w", t, d.Err)
		case int32(len(d.Partitions)) < n:
			return nil, 0, fmt.Errorf("replay: topic %s has %d partitions, fewer than the input's %d; delete it or pick another --output-version",
				t, len(d.Partitions), n)
		default:
			toEmpty = append(toEmpty, t)
		}
	}
	if len(toEmpty) > 0 {
		if err := emptyTopics(ctx, adm, toEmpty, log); err != nil {
			return nil, 0, err
		}
	}
	return rename, maxBytes, nil
}

// emptyTopics deletes every record of topics (DeleteRecords up to each partition's end).
func emptyTopics(ctx context.Context, adm *kadm.Client, topics []string, log *zap.Logger) error {
	ends, err := adm.ListEndOffsets(ctx, topics...)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("replay: end offsets of %v: %w", topics, err)
	}
	starts, err := adm.ListStartOffsets(ctx, topics...)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("replay: start offsets of %v: %w", topics, err)
	}
	del := kadm.Offsets{}
	records := map[string]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		s, _ := starts.Lookup(o.Topic, o.Partition)
		if o.Offset > s.Offset {
			del.AddOffset(o.Topic, o.Partition, o.Offset, -1)
			records[o.Topic] += o.Offset - s.Offset
		}
	})
	if len(del) == 0 {
		return nil
	}
	resps, err := adm.DeleteRecords(ctx, del)
	if err == nil {
		err = resps.Error()
	}
	if err != nil {
		return fmt.Errorf("replay: empty the versioned topics of an earlier replay: %w", err)
	}
	for _, t := range topics {
		if n := records[t]; n > 0 {
			log.Info("emptied versioned topic left by an earlier replay", zap.String("topic", t), zap.Int64("records_deleted", n))
		}
	}
	return nil
}

func newTopicSink(opts []kgo.Opt, rename map[string]string, changelog string, maxRecord int32, log *zap.Logger) (*topicSink, error) {
	cl, err := kgo.NewClient(append(slices.Clone(opts),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerLinger(producerLinger),
		kgo.ProducerBatchMaxBytes(max(maxRecord, producerBatchMaxBytes)),
		kgo.MaxBufferedRecords(producerMaxBufferedRecords),
		kgo.WithLogger(kzap.New(log.Named("kgo"), kzap.Level(kgo.LogLevelWarn))),
	)...)
	if err != nil {
		return nil, fmt.Errorf("replay: output client: %w", err)
	}
	return &topicSink{cl: cl, rename: rename, changelog: changelog}, nil
}

func (s *topicSink) produce(out *model.Output, done func(int64, error)) {
	if out.Topic == s.changelog {
		done(-1, nil)
		return
	}
	topic, ok := s.rename[out.Topic]
	if !ok {
		err := fmt.Errorf("replay: output to %q, a topic the replay does not version", out.Topic)
		s.fail(err)
		done(-1, err)
		return
	}
	r := source.KafkaRecord(out, topic)
	s.cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
		if err != nil {
			err = fmt.Errorf("replay: produce to %s/%d: %w", r.Topic, r.Partition, err)
			s.fail(err)
		}
		done(r.Offset, err)
	})
}

func (s *topicSink) fail(err error) {
	s.mu.Lock()
	if s.err == nil {
		s.err = err
	}
	s.mu.Unlock()
}

func (s *topicSink) flush(ctx context.Context) error {
	if err := s.cl.Flush(ctx); err != nil {
		return fmt.Errorf("replay: flush outputs: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *topicSink) close() { s.cl.Close() }

// fileSink writes outputs as JSON lines to a temporary file next to the target, renamed to
// it by commit: the target holds a whole replay's output or is left as it was.
type fileSink struct {
	path, tmp string
	f         *os.File
	w         *bufio.Writer
	changelog string
	line      int64
	err       error
}

func newFileSink(path, changelog string) (*fileSink, error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("replay: create the output file: %w", err)
	}
	return &fileSink{path: path, tmp: f.Name(), f: f, w: bufio.NewWriterSize(f, 1<<20), changelog: changelog}, nil
}

// fileRecord is one line of a file output. Keys, values and header values are strings when
// they are valid UTF-8, else base64 in the *_base64 field.
type fileRecord struct {
	Topic       string       `json:"topic"`
	Partition   int32        `json:"partition"`
	Key         *string      `json:"key,omitempty"`
	KeyBase64   []byte       `json:"key_base64,omitempty"`
	Value       *string      `json:"value,omitempty"`
	ValueBase64 []byte       `json:"value_base64,omitempty"`
	Headers     []fileHeader `json:"headers,omitempty"`
}

type fileHeader struct {
	Key         string  `json:"key"`
	Value       *string `json:"value,omitempty"`
	ValueBase64 []byte  `json:"value_base64,omitempty"`
}

// text returns b as a string when it is valid UTF-8, else as bytes for base64.
func text(b []byte) (*string, []byte) {
	if b == nil {
		return nil, nil
	}
	if utf8.Valid(b) {
		s := string(b)
		return &s, nil
	}
	return nil, b
}

func (s *fileSink) produce(out *model.Output, done func(int64, error)) {
	if out.Topic == s.changelog {
		done(-1, nil)
		return
	}
	if s.err != nil {
		done(-1, s.err)
		return
	}
	r := fileRecord{Topic: out.Topic, Partition: out.Partition}
	r.Key, r.KeyBase64 = text(out.Key)
	r.Value, r.ValueBase64 = text(out.Value)
	for _, h := range out.Headers {
		fh := fileHeader{Key: h.Key}
		fh.Value, fh.ValueBase64 = text(h.Value)
		r.Headers = append(r.Headers, fh)
	}
	b, err := json.Marshal(r)
	if err == nil {
		b = append(b, '\n')
		_, err = s.w.Write(b)
	}
	if err != nil {
		s.err = fmt.Errorf("replay: write %s: %w", s.tmp, err)
		done(-1, s.err)
		return
	}
	s.line++
	done(s.line-1, nil)
}

func (s *fileSink) flush(context.Context) error {
	if s.err != nil {
		return s.err
	}
	if err := s.w.Flush(); err != nil {
		s.err = fmt.Errorf("replay: write %s: %w", s.tmp, err)
	}
	return s.err
}

// commit makes the file durable and renames it to its target.
func (s *fileSink) commit() error {
	if err := s.flush(context.Background()); err != nil {
		return err
	}
	if err := s.f.Sync(); err != nil {
		return fmt.Errorf("replay: sync %s: %w", s.tmp, err)
	}
	if err := s.f.Close(); err != nil {
		return fmt.Errorf("replay: close %s: %w", s.tmp, err)
	}
	s.f = nil
	if err := os.Rename(s.tmp, s.path); err != nil {
		return fmt.Errorf("replay: rename %s to %s: %w", s.tmp, s.path, err)
	}
	return nil
}

// discard removes the temporary file of a replay that did not finish.
func (s *fileSink) discard() {
	if s.f != nil {
		_ = s.f.Close()
		_ = os.Remove(s.tmp)
	}
}

// discardSink drops every output: a profile writes none.
type discardSink struct{}

func (discardSink) produce(_ *model.Output, done func(int64, error)) { done(0, nil) }

func (discardSink) flush(context.Context) error { return nil }
