package processor

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"

	"github.com/kappa-stream/kappa/model"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/state"
)

// This file holds what the processor tests share: pipeline definitions, input generation,
// an independent recompute of the expected outputs and state, and the checks.

const testStateDir = "state"

// testDef returns a validated definition: key field "card", event time "ts" in epoch
// milliseconds, a running aggregate of "amount", a short commit interval.
func testDef(t testing.TB, name string, exactlyOnce bool, inputs ...string) *pipeline.Definition {
	t.Helper()
	d := &pipeline.Definition{
		Name: name,
		Input: pipeline.Input{
			Topics:    inputs,
			Format:    pipeline.FormatJSON,
			KeyField:  "card",
			EventTime: pipeline.EventTime{Field: "ts", Format: pipeline.TimeEpochMillis},
		},
		Operators:      []pipeline.Operator{{Aggregate: &pipeline.Aggregate{Field: "amount"}}},
		Output:         pipeline.Output{Topic: name + "-out"},
		ExactlyOnce:    exactlyOnce,
		CommitInterval: 5 * time.Millisecond,
		StateDir:       testStateDir,
	}
	d.ApplyDefaults()
	if err := d.Validate(); err != nil {
		t.Fatalf("test definition is invalid: %v", err)
	}
	return d
}

// fakeFor returns a fake cluster with the definition's topics.
func fakeFor(def *pipeline.Definition, partitions int32, cfg fakeConfig) *fakeKafka {
	cfg.Inputs = def.Input.Topics
	cfg.Output = def.Output.Topic
	cfg.Changelog = def.ChangelogTopic()
	cfg.DeadLetter = DeadLetterTopic(def)
	cfg.Late = def.LateTopic()
	cfg.Partitions = partitions
	return newFakeKafka(cfg)
}

// inputRec is a generated input record and what the processor should make of it.
type inputRec struct {
	pos     model.Position // set when written to the fake
	key     []byte         // Kafka record key
	value   []byte
	headers []model.Header
	ts      time.Time // Kafka timestamp

	bad       string // "" for a good record, else the expected dead-letter reason
	badField  string // the expected kappa.dlq.field of a bad record
	aggKey    string
	amount    float64
	eventTime int64
}

// keyNames are aggregation keys, some of which need escaping in JSON output.
var keyNames = []string{"card-1", "card-2", "c<3>&", `q"uote`, "é-ünï", "k\\5", "card-7"}

// genRecord makes a record of partition partition. badPct percent are malformed.
func genRecord(rng *rand.Rand, badPct int) inputRec {
	r := inputRec{ts: time.UnixMilli(1_764_000_000_000 + rng.Int64N(1_000_000)).UTC()}
	if rng.IntN(3) == 0 {
		r.headers = []model.Header{{Key: "trace", Value: []byte("t-" + strconv.Itoa(rng.IntN(1000)))}}
	}
	if rng.IntN(100) < badPct {
		bads := []struct{ value, reason, field string }{
			{`{"card":"card-1","amount":`, ReasonDecode, ""},
			{`not json at all`, ReasonDecode, ""},
			{`[1,2,3]`, ReasonDecode, ""},
			{``, ReasonDecode, ""},
			{`{"card":"card-1","amount":"12","ts":1764000000000}`, ReasonSchema, "amount"},
			{`{"amount":1,"ts":1764000000000}`, ReasonSchema, "card"},
			{`{"card":null,"amount":1,"ts":1764000000000}`, ReasonSchema, "card"},
			{`{"card":"card-2","amount":1,"ts":"yesterday"}`, ReasonSchema, "ts"},
			{`{"card":"card-2","amount":1e999,"ts":1764000000000}`, ReasonSchema, "amount"},
		}
		b := bads[rng.IntN(len(bads))]
		r.value, r.bad, r.badField = []byte(b.value), b.reason, b.field
		r.key = []byte("bad")
		return r
	}
	if rng.IntN(5) == 0 {
		r.aggKey = strconv.Itoa(rng.IntN(3)) // a numeric key, kept as its JSON text
	} else {
		r.aggKey = keyNames[rng.IntN(len(keyNames))]
	}
	// Amounts whose sums are not exact in binary floating point, so that the order of
	// additions shows in the bits.
	r.amount = float64(rng.IntN(20001)-10000) / 100
	if rng.IntN(10) == 0 {
		r.amount = 0.1 * float64(rng.IntN(7))
	}
	r.eventTime = 1_764_000_000_000 + rng.Int64N(10_000_000)
	var keyJSON []byte
	if _, err := strconv.Atoi(r.aggKey); err == nil {
		keyJSON = []byte(r.aggKey)
	} else {
		keyJSON, _ = json.Marshal(r.aggKey)
	}
	amountJSON := strconv.FormatFloat(r.amount, 'g', -1, 64)
	// Vary the field order and spacing; the decoder reads the top-level fields wherever.
	switch rng.IntN(3) {
	case 0:
		r.value = fmt.Appendf(nil, `{"card":%s,"amount":%s,"ts":%d}`, keyJSON, amountJSON, r.eventTime)
	case 1:
		r.value = fmt.Appendf(nil, `{ "ts": %d, "extra": {"card": "nested"}, "amount": %s, "card": %s }`, r.eventTime, amountJSON, keyJSON)
	default:
		r.value = fmt.Appendf(nil, `{"amount":%s,"card":%s,"ts":%d,"tags":["a","b"]}`, amountJSON, keyJSON, r.eventTime)
	}
	r.key = []byte(r.aggKey)
	return r
}

// workload is the input of a test, by input topic and partition.
type workload struct {
	def  *pipeline.Definition
	recs map[topicPartition][]inputRec // in offset order
}

func newWorkload(def *pipeline.Definition) *workload {
	return &workload{def: def, recs: map[topicPartition][]inputRec{}}
}

// add generates n records spread over the partitions and topics and writes them to k.
func (w *workload) add(k *fakeKafka, rng *rand.Rand, n, badPct int) {
	for range n {
		topic := w.def.Input.Topics[rng.IntN(len(w.def.Input.Topics))]
		part := rng.Int32N(k.cfg.Partitions)
		w.write(k, topic, part, genRecord(rng, badPct))
	}
}

// write writes r to topic/partition of k.
func (w *workload) write(k *fakeKafka, topic string, partition int32, r inputRec) {
	off := k.appendInput(topic, partition, r.key, r.value, r.headers, r.ts)
	r.pos = model.Position{Topic: topic, Partition: partition, Offset: off}
	tp := topicPartition{topic, partition}
	w.recs[tp] = append(w.recs[tp], r)
}

// good is the number of well-formed records.
func (w *workload) good() int {
	g, _ := w.count()
	return g
}

func (w *workload) count() (good, bad int) {
	for _, rs := range w.recs {
		for _, r := range rs {
			if r.bad == "" {
				good++
			} else {
				bad++
			}
		}
	}
	return good, bad
}

// agg is the test's own running aggregate.
type agg struct {
	count         uint64
	sum, min, max float64
}

func (a *agg) add(v float64) {
	if a.count == 0 {
		a.min, a.max = v, v
	} else {
		a.min, a.max = math.Min(a.min, v), math.Max(a.max, v)
	}
	a.count++
	a.sum += v
}

func (a agg) encode() []byte {
	b := make([]byte, 32)
	binary.BigEndian.PutUint64(b, a.count)
	binary.BigEndian.PutUint64(b[8:], math.Float64bits(a.sum))
	binary.BigEndian.PutUint64(b[16:], math.Float64bits(a.min))
	binary.BigEndian.PutUint64(b[24:], math.Float64bits(a.max))
	return b
}

// jsonText is s as encoding/json writes it (which, like the processor, escapes <, > and &).
func jsonText(s string) string {
	b, err := json.Marshal(s)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// wantOutput is the output value the processor documents for a record (aggregate.go).
func wantOutput(r inputRec, a agg) string {
	return fmt.Sprintf(`{"key":%s,"count":%d,"sum":%s,"min":%s,"max":%s,"event_time":%d,"source":{"topic":%s,"partition":%d,"offset":%d}}`,
		jsonText(r.aggKey), a.count, fmtFloat(a.sum), fmtFloat(a.min), fmtFloat(a.max), r.eventTime,
		jsonText(r.pos.Topic), r.pos.Partition, r.pos.Offset)
}

// outputSource is the source position an output value names.
func outputSource(value []byte) (model.Position, error) {
	var v struct {
		Source struct {
			Topic     string
			Partition int32
			Offset    int64
		}
	}
	if err := json.Unmarshal(value, &v); err != nil {
		return model.Position{}, fmt.Errorf("output is not JSON: %w: %s", err, value)
	}
	return model.Position{Topic: v.Source.Topic, Partition: v.Source.Partition, Offset: v.Source.Offset}, nil
}

// checkOutputs checks that the committed output and dead-letter records of every partition
// are exactly those of its input, each once: every good record of each input topic once, in
// its offset order, with the running aggregate of the records before it (in the order the
// output shows the processor took them across topics), and every bad record once in the
// dead-letter topic. It returns the final aggregate of each key per partition.
func checkOutputs(t testing.TB, k *fakeKafka, w *workload) map[int32]map[string]agg {
	t.Helper()
	finals := map[int32]map[string]agg{}
	for p := range k.cfg.Partitions {
		finals[p] = checkPartitionOutputs(t, k, w, p)
	}
	return finals
}

func checkPartitionOutputs(t testing.TB, k *fakeKafka, w *workload, p int32) map[string]agg {
	t.Helper()
	def := w.def
	type cursor struct{ good, bad []inputRec }
	cur := map[string]*cursor{}
	for _, topic := range def.Input.Topics {
		c := &cursor{}
		for _, r := range w.recs[topicPartition{topic, p}] {
			if r.bad == "" {
				c.good = append(c.good, r)
			} else {
				c.bad = append(c.bad, r)
			}
		}
		cur[topic] = c
	}
	aggs := map[string]agg{}
	outs := k.records(def.Output.Topic, p)
	for i, o := range outs {
		src, err := outputSource(o.Value)
		if err != nil {
			t.Fatalf("partition %d output #%d (offset %d): %v", p, i, o.Offset, err)
		}
		c := cur[src.Topic]
		switch {
		case c == nil || src.Partition != p:
			t.Fatalf("partition %d output #%d (offset %d) names source %s, not an input of this partition: %s", p, i, o.Offset, src, o.Value)
		case len(c.good) == 0:
			t.Fatalf("partition %d output #%d (offset %d): source %s: got an output, want none (every good record of %s/%d already has one: duplicate?)",
				p, i, o.Offset, src, src.Topic, p)
		case c.good[0].pos.Offset != src.Offset:
			t.Fatalf("partition %d output #%d (offset %d): got source %s, want %s (the next good record of its topic: lost, duplicated or reordered)",
				p, i, o.Offset, src, c.good[0].pos)
		}
		r := c.good[0]
		c.good = c.good[1:]
		a := aggs[r.aggKey]
		a.add(r.amount)
		aggs[r.aggKey] = a
		if want := wantOutput(r, a); string(o.Value) != want {
			t.Fatalf("partition %d output #%d (offset %d):\n got %s\nwant %s", p, i, o.Offset, o.Value, want)
		}
		if string(o.Key) != r.aggKey {
			t.Fatalf("partition %d output #%d (offset %d): got key %q, want %q", p, i, o.Offset, o.Key, r.aggKey)
		}
	}
	for topic, c := range cur {
		if len(c.good) > 0 {
			t.Fatalf("partition %d: %d good records of %s have no output (lost), the first at %s", p, len(c.good), topic, c.good[0].pos)
		}
	}

	dlq := k.records(DeadLetterTopic(def), p)
	for i, d := range dlq {
		src, err := headerPosition(d.Headers)
		if err != nil {
			t.Fatalf("partition %d dead letter #%d (offset %d): %v", p, i, d.Offset, err)
		}
		c := cur[src.Topic]
		switch {
		case c == nil || src.Partition != p:
			t.Fatalf("partition %d dead letter #%d names source %s, not an input of this partition", p, i, src)
		case len(c.bad) == 0 || c.bad[0].pos.Offset != src.Offset:
			want := "none"
			if len(c.bad) > 0 {
				want = c.bad[0].pos.String()
			}
			t.Fatalf("partition %d dead letter #%d (offset %d): got source %s, want %s (duplicated, lost or reordered)", p, i, d.Offset, src, want)
		}
		checkDeadLetter(t, d, c.bad[0])
		c.bad = c.bad[1:]
	}
	for topic, c := range cur {
		if len(c.bad) > 0 {
			t.Fatalf("partition %d: %d bad records of %s have no dead letter (lost), the first at %s", p, len(c.bad), topic, c.bad[0].pos)
		}
	}
	return aggs
}

func headerValue(hs []model.Header, key string) (string, bool) {
	for _, h := range hs {
		if h.Key == key {
			return string(h.Value), true
		}
	}
	return "", false
}

func headerPosition(hs []model.Header) (model.Position, error) {
	topic, ok1 := headerValue(hs, HeaderTopic)
	ps, ok2 := headerValue(hs, HeaderPartition)
	os, ok3 := headerValue(hs, HeaderOffset)
	if !ok1 || !ok2 || !ok3 {
		return model.Position{}, fmt.Errorf("dead letter lacks source headers: %v", fmtHeaders(hs))
	}
	p, err1 := strconv.ParseInt(ps, 10, 32)
	o, err2 := strconv.ParseInt(os, 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return model.Position{}, fmt.Errorf("dead letter source headers: %w", err)
	}
	return model.Position{Topic: topic, Partition: int32(p), Offset: o}, nil
}

func fmtHeaders(hs []model.Header) string {
	var b strings.Builder
	for i, h := range hs {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%s=%q", h.Key, h.Value)
	}
	return b.String()
}

// checkDeadLetter checks a dead letter against the bad record it stands for: key, value and
// headers unchanged, plus the reason and source headers.
func checkDeadLetter(t testing.TB, d fakeRecord, r inputRec) {
	t.Helper()
	if string(d.Key) != string(r.key) || string(d.Value) != string(r.value) {
		t.Fatalf("dead letter of %s: got key %q value %q, want key %q value %q (unchanged)", r.pos, d.Key, d.Value, r.key, r.value)
	}
	for _, h := range r.headers {
		if v, ok := headerValue(d.Headers, h.Key); !ok || v != string(h.Value) {
			t.Fatalf("dead letter of %s: got header %s=%q (present %v), want %q (the input's header, unchanged); headers: %s",
				r.pos, h.Key, v, ok, h.Value, fmtHeaders(d.Headers))
		}
	}
	want := map[string]string{
		HeaderReason:    r.bad,
		HeaderField:     r.badField,
		HeaderTopic:     r.pos.Topic,
		HeaderPartition: strconv.Itoa(int(r.pos.Partition)),
		HeaderOffset:    strconv.FormatInt(r.pos.Offset, 10),
		HeaderTimestamp: strconv.FormatInt(r.ts.UnixMilli(), 10),
	}
	for key, v := range want {
		if got, ok := headerValue(d.Headers, key); !ok || got != v {
			t.Fatalf("dead letter of %s: got header %s=%q (present %v), want %q; headers: %s", r.pos, key, got, ok, v, fmtHeaders(d.Headers))
		}
	}
	if msg, _ := headerValue(d.Headers, HeaderMessage); msg == "" {
		t.Fatalf("dead letter of %s: header %s is empty, want the reason in words", r.pos, HeaderMessage)
	}
}

// scanState returns a partition's state as the store holds it.
func scanState(t testing.TB, s *state.Store, p int32) map[string][]byte {
	t.Helper()
	got := map[string][]byte{}
	if err := s.Scan(p, func(k, v []byte) error {
		got[string(k)] = append([]byte(nil), v...)
		return nil
	}); err != nil {
		t.Fatalf("scan state of partition %d: %v", p, err)
	}
	return got
}

// checkState checks that the store holds exactly the final aggregates: key = operator index
// 0 then the aggregation key, value = count, sum, min, max as big-endian 64-bit words.
func checkState(t testing.TB, s *state.Store, finals map[int32]map[string]agg) {
	t.Helper()
	for p, aggs := range finals {
		got := scanState(t, s, p)
		for key, a := range aggs {
			sk := "\x00" + key
			v, ok := got[sk]
			switch {
			case !ok:
				t.Fatalf("state of partition %d: key %q is missing, want count %d sum %v", p, key, a.count, a.sum)
			case string(v) != string(a.encode()):
				t.Fatalf("state of partition %d key %q: got %x, want %x (count %d sum %v min %v max %v)", p, key, v, a.encode(), a.count, a.sum, a.min, a.max)
			}
			delete(got, sk)
		}
		for key := range got {
			t.Fatalf("state of partition %d: got key %q, want none (no good input has that key)", p, key)
		}
	}
}

// changelogView is the compacted view of a changelog partition below offset end: the last
// value of each key.
func changelogView(k *fakeKafka, p int32, end int64) map[string][]byte {
	view := map[string][]byte{}
	for _, r := range k.records(k.cfg.Changelog, p) {
		if r.Offset >= end {
			break
		}
		if r.Value == nil {
			delete(view, string(r.Key))
		} else {
			view[string(r.Key)] = r.Value
		}
	}
	return view
}

// checkStateIsChangelogPrefix checks the invariant that makes Pebble a cache of Kafka: a
// partition's state is exactly the changelog's committed records below its recorded
// changelog offset, and that offset is not beyond the changelog's end.
//
// The store may be in use by a running processor: the check reads the applied offsets
// before and after the scan and tries again when a batch was applied in between.
func checkStateIsChangelogPrefix(t testing.TB, k *fakeKafka, s *state.Store, p int32) {
	t.Helper()
	var a state.Applied
	var ok bool
	var got map[string][]byte
	for try := 0; ; try++ {
		var err error
		a, ok, err = s.Applied(p)
		if err != nil {
			t.Fatalf("partition %d: applied: %v", p, err)
		}
		got = scanState(t, s, p)
		after, okAfter, err := s.Applied(p)
		if err != nil {
			t.Fatalf("partition %d: applied: %v", p, err)
		}
		if ok == okAfter && a.Changelog == after.Changelog && maps.Equal(a.Input, after.Input) {
			break
		}
		if try == 100 {
			t.Fatalf("partition %d: the state kept changing during the check", p)
		}
	}
	if !ok {
		if len(got) > 0 {
			t.Fatalf("partition %d: no applied offsets but %d keys of state", p, len(got))
		}
		return
	}
	end, _ := k.endOffset(k.cfg.Changelog, p)
	if a.Changelog > end {
		t.Fatalf("partition %d: state applied changelog offset %d, beyond the changelog's end %d (Pebble ahead of Kafka)", p, a.Changelog, end)
	}
	want := changelogView(k, p, a.Changelog)
	for key, v := range want {
		if string(got[key]) != string(v) {
			t.Fatalf("partition %d: state key %q = %x, want %x (the changelog's value below offset %d)", p, key, got[key], v, a.Changelog)
		}
		delete(got, key)
	}
	for key := range got {
		t.Fatalf("partition %d: state has key %q that the changelog below offset %d does not", p, key, a.Changelog)
	}
}

var logFlag = flag.Bool("processor.log", false, "log the processors' warnings and errors through t.Log")

// testLogger logs warnings and errors through t with -processor.log, else nothing.
func testLogger(t testing.TB) *zap.Logger {
	if *logFlag {
		return zaptest.NewLogger(t, zaptest.Level(zapcore.WarnLevel))
	}
	return zap.NewNop()
}

// openStore opens the store in testStateDir of fs with small Pebble buffers. Like
// cmd/kappa, it destroys a corrupt store and opens an empty one.
func openStore(t testing.TB, fs vfs.FS) *state.Store {
	t.Helper()
	opts := state.Options{FS: fs, CacheSize: 1 << 20, MemTableSize: 1 << 20}
	if err := fs.MkdirAll(testStateDir, 0o755); err != nil {
		t.Fatalf("mkdir state: %v", err)
	}
	s, err := state.Open(testStateDir, opts)
	if errors.Is(err, state.ErrCorrupt) {
		t.Logf("state is corrupt, destroying it: %v", err)
		if err := state.Destroy(testStateDir, fs); err != nil {
			t.Fatalf("destroy state: %v", err)
		}
		if err := fs.MkdirAll(testStateDir, 0o755); err != nil {
			t.Fatalf("mkdir state: %v", err)
		}
		s, err = state.Open(testStateDir, opts)
	}
	if err != nil {
		t.Fatalf("open state: %v", err)
	}
	return s
}

// running is a processor running in a goroutine.
type running struct {
	p      *Processor
	cancel context.CancelFunc
	done   chan error
}

// start runs a processor over store with an incarnation of the fake.
func start(t testing.TB, def *pipeline.Definition, store *state.Store, inst *fakeInstance) *running {
	t.Helper()
	return startConfig(t, def, store, inst, nil)
}

// startConfig is start with the config changed by edit.
func startConfig(t testing.TB, def *pipeline.Definition, store *state.Store, inst *fakeInstance, edit func(*Config)) *running {
	t.Helper()
	cfg := Config{
		Definition:   def,
		Store:        store,
		NewClient:    inst.NewClient,
		Changelog:    inst.Changelog(),
		Logger:       testLogger(t),
		RetryBackoff: 5 * time.Millisecond,
	}
	if edit != nil {
		edit(&cfg)
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{p: p, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- p.Run(ctx) }()
	return r
}

// stop cancels the processor and returns what Run returned.
func (r *running) stop(t testing.TB) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		return err
	case <-time.After(20 * time.Second):
		t.Fatalf("Run did not return within 20s of its context ending")
		return nil
	}
}

// waitConsumed waits (at most 20s) until the group committed all the input.
func waitConsumed(t testing.TB, k *fakeKafka, r *running) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- k.waitConsumed(ctx) }()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("%v", err)
		}
	case err := <-r.done:
		r.done <- err
		t.Fatalf("Run returned before consuming the input: %v; committed:%s", err, k.progress())
	}
}
