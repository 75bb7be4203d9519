package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
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
)

func TestReplayFlags(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	base := []string{"-f", "p.yaml", "--brokers", "127.0.0.1:9"}
	tests := []struct {
		name    string
		args    []string
		wantErr string // a usage error containing this; empty: no error
		check   func(t *testing.T, f replayFlags)
	}{
		{name: "time range", args: []string{"--from", "2026-03-01T10:00:00Z", "--to", "-30m", "--output-version", "2"}, check: func(t *testing.T, f replayFlags) {
			cfg, _ := f.config(now, true)
			if want := now.Add(-2 * time.Hour); !cfg.Range.From.Equal(want) {
				t.Errorf("got from %s, want %s", cfg.Range.From, want)
			}
			if want := now.Add(-30 * time.Minute); !cfg.Range.To.Equal(want) {
				t.Errorf("got to %s, want %s", cfg.Range.To, want)
			}
		}},
		{name: "to defaults to now", args: []string{"--from", "-24h", "--output", "o.jsonl"}, check: func(t *testing.T, f replayFlags) {
			if cfg, _ := f.config(now, true); !cfg.Range.To.Equal(now) {
				t.Errorf("got to %s, want now", cfg.Range.To)
			}
		}},
		{name: "offsets", args: []string{"--from-offsets", "0:100,1:200", "--to-offsets", "0:150", "--warm-up", "1m", "--output", "o.jsonl"}, check: func(t *testing.T, f replayFlags) {
			cfg, _ := f.config(now, true)
			if got := fmt.Sprint(cfg.Range.FromOffsets, cfg.Range.ToOffsets, cfg.Range.WarmUp); got != "map[0:100 1:200] map[0:150] 1m0s" {
				t.Errorf("got %s", got)
			}
		}},
		{name: "no range", args: []string{"--output-version", "1"}, wantErr: "give the range"},
		{name: "both ranges", args: []string{"--from", "-1h", "--from-offsets", "0:1", "--output-version", "1"}, wantErr: "exclude each other"},
		{name: "no output", args: []string{"--from", "-1h"}, wantErr: "give one output"},
		{name: "two outputs", args: []string{"--from", "-1h", "--output-version", "1", "--output", "o.jsonl"}, wantErr: "give one output"},
		{name: "bad time", args: []string{"--from", "yesterday", "--output-version", "1"}, wantErr: `--from "yesterday"`},
		{name: "empty range", args: []string{"--from", "-1h", "--to", "-2h", "--output-version", "1"}, wantErr: "is empty"},
		{name: "bad offsets", args: []string{"--from-offsets", "0=1", "--output-version", "1"}, wantErr: "is not partition:offset"},
		{name: "partition twice", args: []string{"--from-offsets", "0:1,0:2", "--output-version", "1"}, wantErr: "names partition 0 twice"},
		{name: "inverted offsets", args: []string{"--from-offsets", "0:10", "--to-offsets", "0:5", "--output-version", "1"}, wantErr: "before from offset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := newFlagSet("replay", &bytes.Buffer{})
			var f replayFlags
			f.register(fs)
			if err := fs.Parse(append(append([]string{}, base...), tt.args...)); err != nil {
				t.Fatal(err)
			}
			_, err := f.config(now, true)
			var ue usageError
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("got error %v, want none", err)
			case tt.wantErr != "" && (!errors.As(err, &ue) || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("got error %v, want a usage error containing %q", err, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, f)
			}
		})
	}
}

// windowOut is a window result: its partition, key and value.
type windowOut struct {
	partition  int32
	key, value string
}

func (o windowOut) window(t *testing.T) (end, watermark int64) {
	var v struct {
		Window    struct{ End int64 } `json:"window"`
		Watermark int64               `json:"watermark"`
	}
	if err := json.Unmarshal([]byte(o.value), &v); err != nil {
		t.Fatalf("output %q: %v", o.value, err)
	}
	return v.Window.End, v.Watermark
}

// readAll reads the committed records of every partition of topic up to its end offsets.
func readAll(t *testing.T, b *kafkatest.Broker, topic string) map[int32][]windowOut {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ends, err := b.Admin().ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	offsets := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
			offsets[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	out := map[int32][]windowOut{}
	if len(want) == 0 {
		return out
	}
	cl := b.Client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: offsets}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()), kgo.KeepControlRecords())
	defer cl.Close()
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("read %s: %v", topic, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if !r.Attrs.IsControl() {
				out[r.Partition] = append(out[r.Partition], windowOut{r.Partition, string(r.Key), string(r.Value)})
			}
			if r.Offset+1 >= want[r.Partition] {
				delete(want, r.Partition)
			}
		})
	}
	return out
}

const replayPipeline = `name: %s
input:
  topics: [%s]
  format: json
  key_field: card_id
  event_time: {field: ts, format: epoch_millis}
  max_out_of_orderness: 2s
operators:
  - window:
      type: hopping
      size: 10s
      advance: 2s
      grace: 1s
      aggregates:
        - {fn: count}
        - {fn: sum, field: amount}
        - {fn: count_distinct, field: merchant}
output:
  topic: %s-out
exactly_once: true
commit_interval: 50ms
`

// TestReplayMatchesLive runs a window pipeline live over an input whose record timestamps
// are event times, then `kappa replay --from T1` over the same input: per partition the
// replay writes exactly the live results of the windows that end at or after T1, in the
// same order, followed by the end-of-range flush (watermark +inf) of windows the live run
// still holds open.
func TestReplayMatchesLive(t *testing.T) {
	b := kafkatest.New(t)
	const partitions, n = 2, 4000 // 40s of event time
	input := b.CreateTopic(partitions, nil)
	cards := gen.Cards{Seed: 3, Partitions: partitions, Cards: 30}
	cl := b.Client(gen.ClientOpts()...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for i := range int64(n) {
		p, k, v := cards.Record(i)
		txn, _ := cards.Txn(i)
		cl.Produce(ctx, &kgo.Record{Topic: input, Partition: p, Key: k, Value: v, Timestamp: time.UnixMilli(txn.EventTime)}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	name := kafkatest.Name(t, "live")
	file := filepath.Join(t.TempDir(), "pipeline.yaml")
	if err := os.WriteFile(file, fmt.Appendf(nil, replayPipeline, name, input, name), 0o644); err != nil {
		t.Fatal(err)
	}
	def, err := pipeline.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	live := startPipeline(t, def, b.Addrs, "live-0", t.TempDir(), zaptest.NewLogger(t, zaptest.Level(zap.WarnLevel)))
	waitCommitted(t, b, def.GroupID(), n)
	if err := live.stop(t); err != nil {
		t.Fatalf("live run: %v", err)
	}

	t1 := gen.DefaultStart.Add(20 * time.Second)
	var stdout, stderr bytes.Buffer
	err = run(ctx, []string{
		"replay", "-f", file, "--brokers", strings.Join(b.Addrs, ","),
		"--from", t1.Format(time.RFC3339), "--output-version", "1", "--state-dir", t.TempDir(),
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("kappa replay: %v\n%s", err, stderr.String())
	}
	t.Logf("stdout: %s", stdout.String())
	if !strings.HasPrefix(stdout.String(), "replay: done: output="+def.Output.Topic+".v1,") {
		t.Errorf("got stdout %q, want the summary", stdout.String())
	}
	if !strings.Contains(stderr.String(), "replay: 100.0%") {
		t.Errorf("got stderr %q, want a final progress line at 100%%", stderr.String())
	}

	liveOut := readAll(t, b, def.Output.Topic)
	replayOut := readAll(t, b, def.Output.Topic+".v1")
	for p := range int32(partitions) {
		var want []windowOut
		seen := map[string]bool{}
		for _, o := range liveOut[p] {
			seen[o.key] = true
			if end, _ := o.window(t); end >= t1.UnixMilli() {
				want = append(want, o)
			}
		}
		got := replayOut[p]
		if len(want) == 0 || len(got) <= len(want) {
			t.Fatalf("partition %d: got %d replay results for %d live ones in range; want the live ones and a flush", p, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("partition %d, result %d: got %+v, want the live %+v", p, i, got[i], want[i])
			}
		}
		for _, o := range got[len(want):] {
			if _, wm := o.window(t); wm != math.MaxInt64 || seen[o.key] {
				t.Fatalf("partition %d: result %+v after the live ones is not an end-of-range flush of a window still open live", p, o)
			}
		}
	}
}
