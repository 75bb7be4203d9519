package replay_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest"

	"github.com/kappa-stream/kappa/internal/gen"
	"github.com/kappa-stream/kappa/internal/kafkatest"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/replay"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

const (
	testPartitions = 2
	testRecords    = 6000 // 60s of event time at gen's 10ms step
)

// fixture is an input topic of generated card transactions whose Kafka timestamps are their
// event times, as when producers stamp records with the time of the event.
type fixture struct {
	b     *kafkatest.Broker
	cards gen.Cards
	input string
	def   *pipeline.Definition
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	b := kafkatest.New(t)
	f := &fixture{b: b, cards: gen.Cards{Seed: 7, Partitions: testPartitions, Cards: 40}}
	f.input = b.CreateTopic(testPartitions, nil)
	f.produce(t, 0, testRecords)
	name := kafkatest.Name(t, "replay")
	f.def = &pipeline.Definition{
		Name: name,
		Input: pipeline.Input{
			Topics: []string{f.input}, Format: pipeline.FormatJSON, KeyField: gen.DefaultKeyField,
			EventTime:         pipeline.EventTime{Field: gen.DefaultTimeField, Format: pipeline.TimeEpochMillis},
			MaxOutOfOrderness: gen.DefaultMaxDisorder, // no record is late
		},
		Operators: []pipeline.Operator{{Window: &pipeline.Window{
			Type: pipeline.WindowHopping, Size: 10 * time.Second, Advance: 2 * time.Second, Grace: time.Second,
			Aggregates: []pipeline.Aggregation{{Func: pipeline.AggCount}, {Func: pipeline.AggSum, Field: gen.DefaultAmountField}},
		}}},
		Output:      pipeline.Output{Topic: name + "-out"},
		ExactlyOnce: true,
	}
	f.def.ApplyDefaults()
	if err := f.def.Validate(); err != nil {
		t.Fatal(err)
	}
	return f
}

// at is the event time of the start of the input plus d.
func (f *fixture) at(d time.Duration) time.Time { return gen.DefaultStart.Add(d) }

func (f *fixture) produce(t *testing.T, from, to int64) {
	t.Helper()
	cl := f.b.Client(gen.ClientOpts()...)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := from; i < to; i++ {
		p, k, v := f.cards.Record(i)
		txn, _ := f.cards.Txn(i)
		cl.Produce(ctx, &kgo.Record{Topic: f.input, Partition: p, Key: k, Value: v, Timestamp: time.UnixMilli(txn.EventTime)}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) config(t *testing.T, r replay.Range) replay.Config {
	return replay.Config{
		Definition: f.def,
		Kafka:      []kgo.Opt{kgo.SeedBrokers(f.b.Addrs...)},
		Range:      r,
		StateDir:   t.TempDir(),
		Logger:     zaptest.NewLogger(t, zaptest.Level(zap.InfoLevel)),
	}
}

func run(t *testing.T, cfg replay.Config) *replay.Summary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	s, err := replay.Run(ctx, cfg)
	if err != nil {
		t.Fatalf("replay: %v", err)
	}
	t.Log(s)
	return s
}

// output is a window result as written: partition, key and value.
type output struct {
	Partition  int32
	Key, Value string
}

func (o output) windowEnd(t *testing.T) int64 {
	var v struct {
		Window struct{ End int64 } `json:"window"`
	}
	if err := json.Unmarshal([]byte(o.Value), &v); err != nil {
		t.Fatalf("output %q: %v", o.Value, err)
	}
	return v.Window.End
}

// readTopic reads every record of topic from its log start to its end.
func readTopic(t *testing.T, b *kafkatest.Broker, topic string) []output {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	adm := b.Admin()
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	offsets := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		s, _ := starts.Lookup(topic, o.Partition)
		if o.Offset > s.Offset {
			want[o.Partition] = o.Offset
			offsets[o.Partition] = kgo.NewOffset().At(s.Offset)
		}
	})
	byPart := map[int32][]output{}
	if len(offsets) > 0 {
		cl := b.Client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}))
		for len(want) > 0 {
			fs := cl.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				t.Fatalf("read %s: %v", topic, err)
			}
			fs.EachRecord(func(r *kgo.Record) {
				byPart[r.Partition] = append(byPart[r.Partition], output{r.Partition, string(r.Key), string(r.Value)})
				if r.Offset+1 >= want[r.Partition] {
					delete(want, r.Partition)
				}
			})
		}
		cl.Close()
	}
	var outs []output
	for p := range int32(testPartitions) {
		outs = append(outs, byPart[p]...)
	}
	return outs
}

// TestTimeRangeMatchesFullReplay replays [T1, T2) by time, with the warm-up the rule gives,
// and a replay of the same input from offset 0 to the same end offsets without a warm-up:
// the first writes exactly the second's window results of windows that end at or after T1,
// in the same order, the end-of-range flush included.
func TestTimeRangeMatchesFullReplay(t *testing.T) {
	f := newFixture(t)
	t1, t2 := f.at(30*time.Second), f.at(50*time.Second)

	cfg := f.config(t, replay.Range{From: t1, To: t2})
	cfg.OutputVersion = 1
	ranged := run(t, cfg)
	if got, want := ranged.Plan.WarmUp, 13*time.Second; got != want {
		t.Fatalf("got warm-up %s, want %s (size 10s + grace 1s + max_out_of_orderness 2s)", got, want)
	}
	if got, want := ranged.Plan.MinWindowEnd, t1.UnixMilli(); got != want {
		t.Fatalf("got MinWindowEnd %d, want %d", got, want)
	}
	from, to := map[int32]int64{}, map[int32]int64{}
	for _, pp := range ranged.Plan.Partitions {
		if pp.Start >= pp.From || pp.From >= pp.End {
			t.Fatalf("partition %d: got start %d, from %d, end %d; want start < from < end", pp.Partition, pp.Start, pp.From, pp.End)
		}
		from[pp.Partition], to[pp.Partition] = 0, pp.End
	}

	cfg = f.config(t, replay.Range{FromOffsets: from, ToOffsets: to})
	cfg.OutputVersion = 2
	full := run(t, cfg)
	if full.Plan.WarmUp != 0 || full.Plan.MinWindowEnd != 0 {
		t.Fatalf("an offset range without --warm-up got warm-up %s, min window end %d; want none", full.Plan.WarmUp, full.Plan.MinWindowEnd)
	}
	if got, want := full.RecordsIn, full.Plan.Offsets(); got != want {
		t.Fatalf("got %d records in, want %d: every offset of [0, end) and none at or after the end", got, want)
	}

	var want []output
	for _, o := range readTopic(t, f.b, f.def.Output.Topic+".v2") {
		if o.windowEnd(t) >= t1.UnixMilli() {
			want = append(want, o)
		}
	}
	got := readTopic(t, f.b, f.def.Output.Topic+".v1")
	if len(want) == 0 || len(got) >= len(readTopic(t, f.b, f.def.Output.Topic+".v2")) {
		t.Fatalf("the test tests nothing: %d results in range of %d", len(want), len(got))
	}
	diffOutputs(t, "ranged replay vs the full replay's results in range", want, got)
	if int64(len(got)) != ranged.RecordsOut || ranged.WindowsEmitted != ranged.RecordsOut {
		t.Errorf("summary: got records_out=%d windows_emitted=%d, want both %d", ranged.RecordsOut, ranged.WindowsEmitted, len(got))
	}
}

// TestRetention deletes the first 100 records of partition 0 and replays from before them.
func TestRetention(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	del := kadm.Offsets{}
	del.AddOffset(f.input, 0, 100, -1)
	if resp, err := f.b.Admin().DeleteRecords(ctx, del); err != nil || resp.Error() != nil {
		t.Fatalf("delete records: %v %v", err, resp.Error())
	}
	// The timestamp of the first record left in partition 0.
	l, err := f.b.Admin().ListOffsetsAfterMilli(ctx, 0, f.input)
	if err != nil {
		t.Fatal(err)
	}
	first, _ := l.Lookup(f.input, 0)
	firstTime := time.UnixMilli(first.Timestamp).UTC().Format(time.RFC3339Nano)

	tests := []struct {
		name    string
		r       replay.Range
		wantErr string
	}{
		{
			name: "offsets",
			r:    replay.Range{FromOffsets: map[int32]int64{0: 40, 1: 0}},
			wantErr: "replay: records the range needs are no longer in Kafka (retention or deleted records):\n" +
				"  " + f.input + "/0: offsets 40-99 are deleted (the log starts at offset 100)\n" +
				"start the range later, or pass --allow-partial to replay from each partition's log start",
		},
		{
			name: "time",
			r:    replay.Range{From: f.at(5 * time.Second), To: f.at(20 * time.Second)}, // warm-up from -8s
			wantErr: "replay: records the range needs are no longer in Kafka (retention or deleted records):\n" +
				"  " + f.input + "/0: records before offset 100 are deleted (the log starts at offset 100, time " + firstTime + "); " +
				"missing time span [2025-12-31T23:59:52Z, " + firstTime + ")\n" +
				"start the range later, or pass --allow-partial to replay from each partition's log start",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := f.config(t, tt.r)
			cfg.OutputFile = filepath.Join(t.TempDir(), "out.jsonl")
			_, err := replay.Run(ctx, cfg)
			var rerr *replay.RetentionError
			if !errors.As(err, &rerr) {
				t.Fatalf("got error %v, want a *replay.RetentionError", err)
			}
			if got := err.Error(); got != tt.wantErr {
				t.Errorf("got error message\n%s\nwant\n%s", got, tt.wantErr)
			}
			if _, err := os.Stat(cfg.OutputFile); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("got output file (err %v), want none after a failed replay", err)
			}

			cfg.AllowPartial = true
			s := run(t, cfg)
			if got := s.Plan.Partitions[0].Start; got != 100 {
				t.Errorf("--allow-partial: got partition 0 start %d, want the log start 100", got)
			}
		})
	}
}

// TestFileOutput writes a range to a file: one JSON object per result, the same records
// as a topic output, and nothing at the target until the end.
func TestFileOutput(t *testing.T) {
	f := newFixture(t)
	r := replay.Range{From: f.at(40 * time.Second)}
	cfg := f.config(t, r)
	cfg.OutputVersion = 3
	run(t, cfg)
	want := readTopic(t, f.b, f.def.Output.Topic+".v3")

	dir := t.TempDir()
	path := filepath.Join(dir, "out.jsonl")
	if err := os.WriteFile(path, []byte("old\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// Interrupted: the old file stays, and no temporary file is left.
	cfg = f.config(t, r)
	cfg.OutputFile = path
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := replay.Run(ctx, cfg); err == nil {
		t.Fatal("an interrupted replay returned no error")
	}
	checkDir(t, dir, "old\n")

	s := run(t, cfg)
	if s.Output != path {
		t.Errorf("got summary output %q, want %q", s.Output, path)
	}
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var got []output
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var rec struct {
			Topic     string `json:"topic"`
			Partition int32  `json:"partition"`
			Key       string `json:"key"`
			Value     string `json:"value"`
		}
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if rec.Topic != f.def.Output.Topic {
			t.Fatalf("got a record of topic %q, want only %q", rec.Topic, f.def.Output.Topic)
		}
		got = append(got, output{rec.Partition, rec.Key, rec.Value})
	}
	slices.SortStableFunc(got, func(a, b output) int { return int(a.Partition - b.Partition) })
	diffOutputs(t, "file output vs topic output", want, got)
	if len(got) == 0 {
		t.Fatal("no output: the test tests nothing")
	}
	checkDir(t, dir, "")
}

// checkDir checks that dir holds only out.jsonl, with content want when not empty.
func checkDir(t *testing.T, dir, want string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(ents) != 1 || ents[0].Name() != "out.jsonl" {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("got files %v, want only out.jsonl", names)
	}
	if want != "" {
		if b, _ := os.ReadFile(filepath.Join(dir, "out.jsonl")); string(b) != want {
			t.Fatalf("got out.jsonl %q, want %q", b, want)
		}
	}
}

// TestRerunSameVersion writes the same version twice, the first time over what an
// interrupted replay left: the topic then holds exactly one replay's output.
func TestRerunSameVersion(t *testing.T) {
	f := newFixture(t)
	r := replay.Range{From: f.at(45 * time.Second)}
	cfg := f.config(t, r)
	cfg.OutputVersion = 4
	run(t, cfg)
	want := readTopic(t, f.b, f.def.Output.Topic+".v4")

	// What an interrupted replay left behind (and a different range, to be sure).
	cl := f.b.Client(kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(testPartitions) {
		if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: f.def.Output.Topic + ".v4", Partition: p, Value: []byte("partial")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		run(t, cfg)
		diffOutputs(t, "rerun", want, readTopic(t, f.b, f.def.Output.Topic+".v4"))
	}
}

// TestAbortedTail ends the input with an aborted transaction: read_committed returns none of
// its records, and the end offset (after its abort marker, or inside it) is never a record;
// the replay still ends.
func TestAbortedTail(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// The committed end, read before the aborted transaction: reading it after would race
	// the abort markers, which a real broker writes after EndTxn returns.
	ends, err := f.b.Admin().ListEndOffsets(ctx, f.input)
	if err != nil {
		t.Fatal(err)
	}
	committedEnd := map[int32]int64{}
	mid := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		committedEnd[o.Partition] = o.Offset
		mid[o.Partition] = o.Offset + 5 // an aborted record (10 go to each partition)
	})
	txn := f.b.Client(kgo.TransactionalID(kafkatest.Name(t, "txn")), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err := txn.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		r := &kgo.Record{Topic: f.input, Partition: int32(i % testPartitions), Value: []byte(`{"aborted":true}`), Timestamp: f.at(70 * time.Second)}
		if err := txn.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	if err := txn.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		r    replay.Range
	}{
		{"to now", replay.Range{From: f.at(55 * time.Second)}},
		{"to offsets inside the aborted records", replay.Range{FromOffsets: committedEnd, ToOffsets: mid}},
		{"to the end offsets", replay.Range{FromOffsets: map[int32]int64{0: 0, 1: 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := f.config(t, tt.r)
			cfg.OutputFile = filepath.Join(t.TempDir(), "out.jsonl")
			s := run(t, cfg)
			if s.DeadLetters != 0 {
				t.Errorf("got %d dead letters: an aborted record was processed", s.DeadLetters)
			}
			if strings.HasPrefix(tt.name, "to offsets") && s.RecordsIn != 0 {
				t.Errorf("got %d records in, want 0", s.RecordsIn)
			}
			if tt.name == "to the end offsets" && s.RecordsIn != testRecords {
				t.Errorf("got %d records in, want %d", s.RecordsIn, testRecords)
			}
		})
	}
}

// TestProgress prints plain lines off a terminal and a summary.
func TestProgress(t *testing.T) {
	f := newFixture(t)
	var buf strings.Builder
	cfg := f.config(t, replay.Range{From: f.at(0)})
	cfg.OutputFile = filepath.Join(t.TempDir(), "out.jsonl")
	cfg.Progress = &buf
	cfg.ProgressInterval = time.Millisecond
	s := run(t, cfg)
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := fmt.Sprintf("replay: 100.0%% (%d/%d offsets) records=%d", testRecords, testRecords, testRecords)
	if last := lines[len(lines)-1]; !strings.HasPrefix(last, want) {
		t.Errorf("got last progress line %q, want it to start with %q", last, want)
	}
	for _, w := range []string{"records_in=6000", "windows_emitted=", "records_per_s="} {
		if !strings.Contains(s.String(), w) {
			t.Errorf("summary %q lacks %q", s, w)
		}
	}
}

// diffOutputs fails the test at the first difference of got from want.
func diffOutputs(t *testing.T, what string, want, got []output) {
	t.Helper()
	for i := range min(len(want), len(got)) {
		if want[i] != got[i] {
			t.Fatalf("%s: record %d: got %+v, want %+v", what, i, got[i], want[i])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%s: got %d records, want %d", what, len(got), len(want))
	}
}

func TestWarmUpFor(t *testing.T) {
	const ooo = 3 * time.Second
	win := func(typ pipeline.WindowType) pipeline.Operator {
		return pipeline.Operator{Window: &pipeline.Window{Type: typ, Size: 10 * time.Minute, Gap: 5 * time.Minute, Grace: time.Minute}}
	}
	tests := []struct {
		name  string
		ops   []pipeline.Operator
		dedup *pipeline.Dedup
		drift *pipeline.Drift
		want  time.Duration
	}{
		{name: "stateless", ops: []pipeline.Operator{{Aggregate: &pipeline.Aggregate{Field: "x"}}}, want: 0},
		{name: "tumbling", ops: []pipeline.Operator{win(pipeline.WindowTumbling)}, want: 11*time.Minute + ooo},
		{name: "session", ops: []pipeline.Operator{win(pipeline.WindowSession)}, want: 6*time.Minute + ooo},
		{name: "dedup only", dedup: &pipeline.Dedup{Field: "id", Horizon: time.Hour}, want: time.Hour + ooo},
		{
			name: "dedup shorter than the window", ops: []pipeline.Operator{win(pipeline.WindowTumbling)},
			dedup: &pipeline.Dedup{Field: "id", Horizon: time.Minute}, want: 11*time.Minute + ooo,
		},
		{
			name: "drift", dedup: &pipeline.Dedup{Field: "id", Horizon: time.Minute}, drift: &pipeline.Drift{Window: 2 * time.Hour},
			want: 2*time.Hour + ooo,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			def := &pipeline.Definition{Operators: tt.ops}
			def.Input.MaxOutOfOrderness = ooo
			def.Input.Dedup = tt.dedup
			def.Quality.Drift = tt.drift
			if got := replay.WarmUpFor(def); got != tt.want {
				t.Errorf("WarmUpFor: got %s, want %s", got, tt.want)
			}
		})
	}
}
