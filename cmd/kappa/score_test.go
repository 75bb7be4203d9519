package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/kappa-stream/kappa/internal/gen"
	"github.com/kappa-stream/kappa/internal/kafkatest"
	"github.com/kappa-stream/kappa/models"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/processor"
	"github.com/kappa-stream/kappa/score"
)

// linearModelFile is a kappa-linear binary model over two features.
func linearModelFile(intercept, w0, w1 float64) []byte {
	return fmt.Appendf(nil, `{"format":"kappa-linear","version":1,"objective":"binary:logistic","features":["amount","count"],"weights":[%g,%g],"intercept":%g}`,
		w0, w1, intercept)
}

// TestScoreModelSwap runs a window pipeline that scores every record with a model file,
// replaces the file while records flow, and checks that the metric of the version in use
// changes, that every output names v1 or v2 and carries exactly that model's prediction on
// its features (no record scored by a half-loaded model), and that within a partition no
// output goes back to v1 once v2 scored one.
func TestScoreModelSwap(t *testing.T) {
	b := kafkatest.New(t)
	const partitions = 2
	in := b.CreateTopic(partitions, nil)
	dir := t.TempDir()
	modelPath := filepath.Join(dir, "fraud.json")
	v1, v2 := linearModelFile(-2, 0.01, 0.2), linearModelFile(1, -0.02, 0.05)
	if err := os.WriteFile(modelPath, v1, 0o644); err != nil {
		t.Fatal(err)
	}
	versions := map[string][]byte{models.Version(v1): v1, models.Version(v2): v2}

	name := kafkatest.Name(t, "score")
	def := testDefinition(t, name, in, true, 50*time.Millisecond)
	def.Operators = []pipeline.Operator{
		{Window: &pipeline.Window{
			Type: pipeline.WindowHopping, Size: 10 * time.Second, Advance: 2 * time.Second,
			Aggregates: []pipeline.Aggregation{{Func: pipeline.AggCount}, {Func: pipeline.AggSum, Field: "amount"}},
		}},
		{Score: &pipeline.Score{Model: pipeline.ModelRef{File: modelPath}, Features: []string{"amount", "window.count"}}},
	}
	def.ApplyDefaults()
	if err := def.Validate(); err != nil {
		t.Fatal(err)
	}

	run := startScored(t, b, def)
	metricVersion := run.metricVersion
	if got := metricVersion(); got != models.Version(v1) {
		t.Fatalf("version metric before the swap: %s, want %s", got, models.Version(v1))
	}

	cards := gen.Cards{Seed: 5, Partitions: partitions, Cards: 40, Step: 5 * time.Millisecond}
	src := newInput(t, b, in, cards)
	src.produce(1500)
	waitCommitted(t, b, name, 1500)

	// Replace the model as an operator would: write a new file, rename it over the old.
	tmp := modelPath + ".tmp"
	if err := os.WriteFile(tmp, v2, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, modelPath); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for metricVersion() != models.Version(v2) {
		src.produce(50) // records keep flowing during the swap
		if time.Now().After(deadline) {
			t.Fatalf("the version metric still shows %s 15s after the model file changed", metricVersion())
		}
		time.Sleep(100 * time.Millisecond)
	}
	src.produce(1500)
	waitCommitted(t, b, name, src.produced)
	run.stop()
	outs := readOutputs(t, b, def.Output.Topic, src.produced-cards.BadCount(0, src.produced))
	loaded := map[string]score.Model{}
	for v, data := range versions {
		m, err := score.Parse(v, data)
		if err != nil {
			t.Fatal(err)
		}
		loaded[v] = m
	}
	last := map[int32]string{}
	byVersion := map[string]int{}
	for _, r := range outs {
		var o struct {
			Score        *float64            `json:"score"`
			ModelName    string              `json:"model_name"`
			ModelVersion string              `json:"model_version"`
			Features     map[string]*float64 `json:"features"`
		}
		if err := json.Unmarshal(r.Value, &o); err != nil {
			t.Fatalf("output %s: %v", r.Value, err)
		}
		m := loaded[o.ModelVersion]
		if m == nil || o.ModelName != "fraud" {
			t.Fatalf("output %s: model %s %s was never in use", r.Value, o.ModelName, o.ModelVersion)
		}
		vec := []float64{math.NaN(), math.NaN()}
		for i, name := range []string{"amount", "window.count"} {
			if v := o.Features[name]; v != nil {
				vec[i] = *v
			}
		}
		if want := m.Predict(vec, nil)[0]; o.Score == nil || *o.Score != want {
			t.Fatalf("output %s: the score is not version %s's prediction %v on its features", r.Value, o.ModelVersion, want)
		}
		if last[r.Partition] == models.Version(v2) && o.ModelVersion == models.Version(v1) {
			t.Fatalf("partition %d: output %s went back to v1 after v2 scored", r.Partition, r.Value)
		}
		last[r.Partition] = o.ModelVersion
		byVersion[o.ModelVersion]++
	}
	if byVersion[models.Version(v1)] == 0 || byVersion[models.Version(v2)] == 0 {
		t.Fatalf("outputs by version %v: want both versions", byVersion)
	}
	t.Logf("swap: outputs=%d v1=%d v2=%d version_metric=%s->%s", len(outs),
		byVersion[models.Version(v1)], byVersion[models.Version(v2)], models.Version(v1), models.Version(v2))
}

// scoredRun is a score pipeline running in this process with an admin server.
type scoredRun struct {
	t      *testing.T
	addr   net.Addr
	cancel context.CancelFunc
	done   chan error
}

func startScored(t *testing.T, b *kafkatest.Broker, def *pipeline.Definition) *scoredRun {
	t.Helper()
	f := runFlags{
		brokers: strings.Join(b.Addrs, ","), instanceID: "i0", adminAddr: "127.0.0.1:0",
		transactionTimeout: 10 * time.Second, sessionTimeout: 6 * time.Second, shutdownTimeout: 10 * time.Second,
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &scoredRun{t: t, cancel: cancel, done: make(chan error, 1)}
	addrc := make(chan net.Addr, 1)
	go func() {
		_, err := runPipeline(ctx, def, f, zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel)), &pipelineHooks{
			started: func(_ *processor.Processor, _ func() int64, addr net.Addr) { addrc <- addr },
		})
		r.done <- err
	}()
	t.Cleanup(cancel)
	select {
	case r.addr = <-addrc:
	case err := <-r.done:
		t.Fatalf("pipeline did not start: %v", err)
	}
	return r
}

// metricVersion returns the version the primary model's info metric names.
func (r *scoredRun) metricVersion() string {
	t := r.t
	t.Helper()
	resp, err := http.Get("http://" + r.addr.String() + "/metrics")
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	m := regexp.MustCompile(`kappa_score_model_info\{model="fraud",role="primary",version="([^"]+)"\} 1`).FindAllStringSubmatch(string(body), -1)
	if len(m) != 1 {
		t.Fatalf("want one kappa_score_model_info series of the primary model, got %d", len(m))
	}
	return m[0][1]
}

func (r *scoredRun) stop() {
	r.t.Helper()
	r.cancel()
	if err := <-r.done; err != nil {
		r.t.Fatalf("pipeline: %v", err)
	}
}

// readOutputs reads n committed records of topic.
func readOutputs(t *testing.T, b *kafkatest.Broker, topic string, n int64) []*kgo.Record {
	t.Helper()
	cl := b.Client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	defer cl.Close()
	var outs []*kgo.Record
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for int64(len(outs)) < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("read %s: %v after %d of %d records", topic, err, len(outs), n)
		}
		outs = append(outs, fs.Records()...)
	}
	return outs
}

// TestScoreModelTopic scores with a model from a models topic: the newest record of the
// model's key is in use at the start, a new one published later replaces it, and every
// output names the version of the topic record's header.
func TestScoreModelTopic(t *testing.T) {
	b := kafkatest.New(t)
	in := b.CreateTopic(2, nil)
	modelsTopic := b.CreateTopic(1, map[string]*string{"cleanup.policy": ptr("compact")})
	publish := func(version string, data []byte) {
		t.Helper()
		r := &kgo.Record{
			Topic: modelsTopic, Key: []byte("fraud"), Value: data,
			Headers: []kgo.RecordHeader{{Key: models.VersionHeader, Value: []byte(version)}},
		}
		if err := b.Client().ProduceSync(context.Background(), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	publish("v0", linearModelFile(0, 0, 0))
	publish("v1", linearModelFile(-2, 0.01, 0.2))

	name := kafkatest.Name(t, "topic")
	def := testDefinition(t, name, in, true, 50*time.Millisecond)
	def.Operators = []pipeline.Operator{{Score: &pipeline.Score{
		Model: pipeline.ModelRef{Topic: modelsTopic, Name: "fraud"}, Features: []string{"amount", "count"},
	}}}
	def.ApplyDefaults()
	if err := def.Validate(); err != nil {
		t.Fatal(err)
	}
	run := startScored(t, b, def)
	if v := run.metricVersion(); v != "v1" {
		t.Fatalf("version in use at the start: %s, want v1 (the newest)", v)
	}
	cards := gen.Cards{Seed: 6, Partitions: 2, Cards: 40}
	src := newInput(t, b, in, cards)
	src.produce(500)
	waitCommitted(t, b, name, 500)
	publish("v2", linearModelFile(1, -0.02, 0.05))
	deadline := time.Now().Add(15 * time.Second)
	for run.metricVersion() != "v2" {
		if time.Now().After(deadline) {
			t.Fatalf("the version metric still shows %s 15s after v2 was published", run.metricVersion())
		}
		time.Sleep(50 * time.Millisecond)
	}
	src.produce(500)
	waitCommitted(t, b, name, 1000)
	run.stop()
	byVersion := map[string]int{}
	for _, r := range readOutputs(t, b, def.Output.Topic, 1000) {
		var o struct {
			ModelVersion string `json:"model_version"`
		}
		if err := json.Unmarshal(r.Value, &o); err != nil {
			t.Fatal(err)
		}
		byVersion[o.ModelVersion]++
	}
	if byVersion["v1"] != 500 || byVersion["v2"] != 500 {
		t.Fatalf("outputs by version %v, want 500 of v1 (before the publish) and 500 of v2 (after)", byVersion)
	}
}

func ptr[T any](v T) *T { return &v }

// waitCommitted waits until the group has committed n input records.
func waitCommitted(t *testing.T, b *kafkatest.Broker, group string, n int64) {
	t.Helper()
	adm := b.Admin()
	deadline := time.Now().Add(time.Minute)
	for {
		offs, err := adm.FetchOffsets(context.Background(), group)
		if err == nil {
			var sum int64
			offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
			if sum >= n {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the group did not commit %d records within a minute", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
