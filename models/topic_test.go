package models

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/internal/kafkatest"
	"github.com/kappa-stream/kappa/score"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

// modelsTopic is a compacted models topic on a test broker.
type modelsTopic struct {
	t     *testing.T
	b     *kafkatest.Broker
	topic string
	cl    *kgo.Client
}

func newModelsTopic(t *testing.T, partitions int32) *modelsTopic {
	t.Helper()
	b := kafkatest.New(t)
	compact := "compact"
	mt := &modelsTopic{t: t, b: b, topic: b.CreateTopic(partitions, map[string]*string{"cleanup.policy": &compact})}
	mt.cl = b.Client(kgo.DefaultProduceTopic(mt.topic))
	return mt
}

// publish produces a model record; version "" leaves the header out, a nil value is a
// tombstone.
func (mt *modelsTopic) publish(key string, value []byte, version string) {
	mt.t.Helper()
	r := &kgo.Record{Key: []byte(key), Value: value}
	if version != "" {
		r.Headers = []kgo.RecordHeader{{Key: VersionHeader, Value: []byte(version)}}
	}
	if err := mt.cl.ProduceSync(context.Background(), r).FirstErr(); err != nil {
		mt.t.Fatalf("produce %s: %v", key, err)
	}
}

func (mt *modelsTopic) config(t *testing.T, cfg TopicConfig) (TopicConfig, *Metrics) {
	t.Helper()
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Topic, cfg.Metrics = mt.topic, m
	cfg.Kafka = []kgo.Opt{kgo.SeedBrokers(mt.b.Addrs...)}
	if cfg.Name == "" {
		cfg.Name = "fraud"
	}
	if cfg.Features == nil {
		cfg.Features = five
	}
	if cfg.StartTimeout == 0 {
		cfg.StartTimeout = 20 * time.Second
	}
	return cfg, m
}

func (mt *modelsTopic) watch(t *testing.T, cfg TopicConfig) (*TopicWatcher, *Metrics) {
	t.Helper()
	cfg, m := mt.config(t, cfg)
	w, err := NewTopicWatcher(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewTopicWatcher: %v", err)
	}
	t.Cleanup(w.Close)
	return w, m
}

func TestTopicWatcherSwaps(t *testing.T) {
	mt := newModelsTopic(t, 1)
	log, obs := logs(t)
	mt.publish("fraud", v1, "v1")
	mt.publish("other-model", []byte("not a model"), "x") // another model's record: ignored
	w, m := mt.watch(t, TopicConfig{Logger: log})
	h := w.Holder()
	if v := h.Load(); v.Name != "fraud" || v.Version != "v1" || v.Model.Kind() != "logistic" {
		t.Fatalf("first model: got %s %s %s, want fraud v1 logistic", v.Name, v.Version, v.Model.Kind())
	}
	run(t, w)

	mt.publish("fraud", v2, "v2")
	eventually(t, "v2 is in use", func() bool { return h.Load().Version == "v2" })
	checkInfo(t, m, "fraud primary v2")

	mt.publish("fraud", []byte(`{"learner": 1}`), "v3")
	eventually(t, "the bad v3 is counted", func() bool { _, failed := loads(m, "fraud", "primary"); return failed == 1 })
	mt.publish("fraud", two, "v4") // parses, but takes 2 features
	eventually(t, "v4 is counted", func() bool { _, failed := loads(m, "fraud", "primary"); return failed == 2 })
	mt.publish("fraud", nil, "") // a tombstone: skipped
	mt.publish("fraud", v1, "")  // no header: the version is the hash
	eventually(t, "the hashed v1 is in use", func() bool { return h.Load().Version == Version(v1) })

	if ok, failed := loads(m, "fraud", "primary"); ok != 3 || failed != 2 {
		t.Errorf("loads ok=%v error=%v, want ok=3 error=2", ok, failed)
	}
	checkInfo(t, m, "fraud primary "+Version(v1))
	var reasons []string
	for _, e := range warned(obs) {
		err, _ := e.ContextMap()["error"].(string)
		reasons = append(reasons, e.Message+": "+err)
	}
	for i, want := range []string{
		"keeping version v2: score: invalid model: " + mt.topic + "/0@3",
		"keeping version v2: models: wrong number of features: " + mt.topic + "/0@4 (version v4) takes 2 features",
		"tombstone of the model ignored; the model in use stays",
	} {
		if i >= len(reasons) || !strings.Contains(reasons[i], want) {
			t.Errorf("warning %d: got %q, want it to contain %q (all: %q)", i, reasons, want, reasons)
		}
	}
}

// The first model is the newest valid one published before the start, whatever follows it.
func TestTopicWatcherStartsWithTheNewestValid(t *testing.T) {
	mt := newModelsTopic(t, 1)
	log, obs := logs(t)
	mt.publish("fraud", v1, "v1")
	mt.publish("fraud", v2, "v2")
	mt.publish("fraud", []byte("garbage"), "v3") // newest, invalid: counted, v2 stays
	mt.publish("other", v1, "o1")
	w, m := mt.watch(t, TopicConfig{Logger: log})
	if got := w.Holder().Load().Version; got != "v2" {
		t.Fatalf("first model %s, want v2", got)
	}
	if ok, failed := loads(m, "fraud", "primary"); ok != 1 || failed != 1 {
		t.Errorf("loads ok=%v error=%v, want ok=1 error=1 (only the newest record counts)", ok, failed)
	}
	checkInfo(t, m, "fraud primary v2")
	if ws := warned(obs); len(ws) != 1 || !strings.Contains(ws[0].Message, "keeping version v2") {
		t.Errorf("warnings %v, want one keeping v2", ws)
	}
}

// Records of an aborted transaction are never a model; the aborted tail still ends the
// start.
func TestTopicWatcherReadCommitted(t *testing.T) {
	mt := newModelsTopic(t, 1)
	mt.publish("fraud", v1, "v1")
	txn := mt.b.Client(kgo.DefaultProduceTopic(mt.topic), kgo.TransactionalID(kafkatest.Name(t, "txn")))
	ctx := context.Background()
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	r := &kgo.Record{Key: []byte("fraud"), Value: v2, Headers: []kgo.RecordHeader{{Key: VersionHeader, Value: []byte("v2")}}}
	if err := txn.ProduceSync(ctx, r).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := txn.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	w, _ := mt.watch(t, TopicConfig{})
	if got := w.Holder().Load().Version; got != "v1" {
		t.Errorf("first model %s, want v1 (v2 was aborted)", got)
	}
}

func TestTopicWatcherPin(t *testing.T) {
	mt := newModelsTopic(t, 1)
	log, obs := logs(t)
	mt.publish("fraud", v1, "v1")
	mt.publish("fraud", v2, "v2")
	w, m := mt.watch(t, TopicConfig{Version: "v1", Logger: log})
	h := w.Holder()
	if got := h.Load().Version; got != "v1" {
		t.Fatalf("first model %s, want the pinned v1", got)
	}
	run(t, w)
	mt.publish("fraud", v2, "v3")
	eventually(t, "v3 is skipped", func() bool {
		return obs.FilterMessage("model version skipped: not the pinned one").Len() == 1
	})
	mt.publish("fraud", v2, "v1") // other bytes under the pinned version: loaded
	eventually(t, "the new v1 is in use", func() bool { return h.Load().Model.Kind() == "xgboost" })
	if ok, failed := loads(m, "fraud", "primary"); ok != 2 || failed != 0 {
		t.Errorf("loads ok=%v error=%v, want ok=2 error=0 (a skipped version is not a load)", ok, failed)
	}
	checkInfo(t, m, "fraud primary v1")
}

func TestNewTopicWatcherErrors(t *testing.T) {
	mt := newModelsTopic(t, 2)
	mt.publish("broken", []byte(`{"format": "kappa-linear"}`), "b1")
	mt.publish("small", two, "s1")
	mt.publish("fraud", v1, "v1")
	for _, tc := range []struct {
		name string
		cfg  TopicConfig
		is   []error
		want string
	}{
		{"no name", TopicConfig{Name: "-"}, nil, "no Name"},
		{"no record", TopicConfig{Name: "missing"}, []error{ErrNoModel}, `no record with key "missing"`},
		{"no pinned record", TopicConfig{Version: "v9"}, []error{ErrNoModel}, `no record with key "fraud" with version v9`},
		{"invalid", TopicConfig{Name: "broken"}, []error{ErrNoModel, score.ErrInvalidModel}, "@0: version: missing"},
		{"feature count", TopicConfig{Name: "small"}, []error{ErrNoModel, ErrFeatureCount}, "(version s1) takes 2 features"},
		{"no topic", TopicConfig{}, nil, "does not exist"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, _ := mt.config(t, tc.cfg)
			switch tc.name {
			case "no name":
				cfg.Name = ""
			case "no topic":
				cfg.Topic = kafkatest.Name(t, "missing")
			}
			w, err := NewTopicWatcher(context.Background(), cfg)
			if err == nil {
				w.Close()
				t.Fatal("NewTopicWatcher succeeded, want an error")
			}
			for _, is := range tc.is {
				if !errors.Is(err, is) {
					t.Errorf("got %v, want it to wrap %v", err, is)
				}
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want it to contain %q", err, tc.want)
			}
			t.Logf("error: %v", err)
		})
	}
}

func TestNewTopicWatcherTimeout(t *testing.T) {
	// A "broker" that accepts connections and never answers.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var conns []net.Conn
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
		for _, c := range conns {
			c.Close()
		}
	})

	start := time.Now()
	_, err = NewTopicWatcher(context.Background(), TopicConfig{
		Topic: "models", Name: "fraud", Features: five, StartTimeout: 300 * time.Millisecond,
		Kafka: []kgo.Opt{kgo.SeedBrokers(ln.Addr().String())},
	})
	if err == nil || !strings.Contains(err.Error(), "start timeout 300ms") {
		t.Fatalf("got %v, want an error naming the start timeout", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("NewTopicWatcher took %s with a start timeout of 300ms", d)
	}
	t.Logf("error: %v", err)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = NewTopicWatcher(ctx, TopicConfig{Topic: "models", Name: "fraud", Features: five, Kafka: []kgo.Opt{kgo.SeedBrokers("127.0.0.1:1")}})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("canceled context: got %v, want %v", err, context.Canceled)
	}
}
