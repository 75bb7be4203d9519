package replay

import (
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/internal/kafkatest"
)

// verifyIn is a range of the input topic "in" of verifyScore.
func verifyIn(ps ...int64) map[string]map[int32]int64 {
	m := map[int32]int64{}
	for i := 0; i+1 < len(ps); i += 2 {
		m[int32(ps[i])] = ps[i+1]
	}
	return map[string]map[int32]int64{"in": m}
}

// verifyRec is a synthetic output record: partition, key and value.
type verifyRec struct {
	p          int32
	key, value string
	null       bool // a tombstone: no value
}

// verifyScore is a score output of the input record at partition p, offset off.
func verifyScore(p int32, off int64, score string) verifyRec {
	key := fmt.Sprintf("card-%d", off%7)
	return verifyRec{p: p, key: key, value: fmt.Sprintf(
		`{"key":%q,"event_time":%d,"score":%s,"model_name":"fraud","model_version":"sha256:0a1b",`+
			`"features":{"amount":12.5},"source":{"topic":"in","partition":%d,"offset":%d}}`,
		key, 1767225600000+off, score, p, off)}
}

// verifyOtherTopic moves a score output's source to the input topic "other".
func verifyOtherTopic(r verifyRec) verifyRec {
	r.value = strings.Replace(r.value, `"source":{"topic":"in"`, `"source":{"topic":"other"`, 1)
	return r
}

// verifyWindow is a final window result of card key over [start, end) written at watermark wm.
func verifyWindow(p int32, key string, start, end, wm int64, count int) verifyRec {
	return verifyRec{
		p:   p,
		key: fmt.Sprintf(`{"key":%q,"start":%d,"end":%d}`, key, start, end),
		value: fmt.Sprintf(`{"key":%q,"window":{"start":%d,"end":%d},"emit":"final","watermark":%d,"aggregates":{"count":%d}}`,
			key, start, end, wm, count),
	}
}

// verifyUpdate is an update (emit: update) of a window.
func verifyUpdate(p int32, key string, start, end, wm int64, count int) verifyRec {
	r := verifyWindow(p, key, start, end, wm, count)
	r.value = strings.Replace(r.value, `"emit":"final"`, `"emit":"update"`, 1)
	return r
}

// verifyProduce writes recs to topic, in one transaction that commits or aborts when txn is
// "commit" or "abort", else without one.
func verifyProduce(t *testing.T, b *kafkatest.Broker, topic string, txn string, recs ...verifyRec) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	opts := []kgo.Opt{kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner())}
	if txn != "" {
		opts = append(opts, kgo.TransactionalID(kafkatest.Name(t, "txn")))
	}
	cl := b.Client(opts...)
	if txn != "" {
		if err := cl.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
	}
	krs := make([]*kgo.Record, 0, len(recs))
	for _, r := range recs {
		kr := &kgo.Record{Partition: r.p, Key: []byte(r.key)}
		if !r.null {
			kr.Value = []byte(r.value)
		}
		krs = append(krs, kr)
	}
	if err := cl.ProduceSync(ctx, krs...).FirstErr(); err != nil {
		t.Fatalf("produce to %s: %v", topic, err)
	}
	if txn != "" {
		if err := cl.EndTransaction(ctx, kgo.TransactionEndTry(txn == "commit")); err != nil {
			t.Fatal(err)
		}
	}
}

// TestVerifyCounts runs Verify over synthetic live and replay topics, one case per counter
// and per range rule.
func TestVerifyCounts(t *testing.T) {
	const (
		k   = "card-1"
		eoi = math.MaxInt64 // the watermark of an end-of-range flush
	)
	w := verifyWindow
	tests := []struct {
		name         string
		live, replay []verifyRec
		liveAborted  []verifyRec // in an aborted transaction at the end of the live topic
		from, to     map[string]map[int32]int64
		want         VerifyCounts
		ok           bool
	}{{
		name:   "identical scores and windows on two partitions",
		live:   []verifyRec{verifyScore(0, 0, "0.1"), verifyScore(1, 0, "0.2"), w(0, k, 0, 10, 12, 3), verifyScore(0, 1, "0.3")},
		replay: []verifyRec{verifyScore(0, 0, "0.1"), w(0, k, 0, 10, 12, 3), verifyScore(0, 1, "0.3"), verifyScore(1, 0, "0.2")},
		to:     verifyIn(0, 2, 1, 1),
		want:   VerifyCounts{Identical: 4},
		ok:     true,
	}, {
		name:   "different: same source, other score",
		live:   []verifyRec{verifyScore(0, 0, "0.1"), verifyScore(0, 1, "0.5")},
		replay: []verifyRec{verifyScore(0, 0, "0.1"), verifyScore(0, 1, "0.6")},
		to:     verifyIn(0, 2),
		want:   VerifyCounts{Identical: 1, Different: 1},
	}, {
		name:   "different: same window, other aggregate",
		live:   []verifyRec{w(0, k, 0, 10, 12, 3)},
		replay: []verifyRec{w(0, k, 0, 10, 12, 4)},
		to:     verifyIn(0, 5),
		want:   VerifyCounts{Different: 1},
	}, {
		name:   "missing: in the replay only",
		live:   []verifyRec{verifyScore(0, 0, "0.1")},
		replay: []verifyRec{verifyScore(0, 0, "0.1"), verifyScore(0, 1, "0.1"), w(0, k, 0, 10, 12, 3), {p: 0, key: "x", value: "other"}},
		to:     verifyIn(0, 2),
		want:   VerifyCounts{Identical: 1, Missing: 3},
	}, {
		name:   "missing: a live duplicate does not stand in for a second replay record",
		live:   []verifyRec{{p: 0, key: "x", value: "v"}},
		replay: []verifyRec{{p: 0, key: "x", value: "v"}, {p: 0, key: "x", value: "v"}},
		to:     verifyIn(0, 1),
		want:   VerifyCounts{Identical: 1, Missing: 1},
	}, {
		name: "extra: sourced inside the range counts, outside does not",
		live: []verifyRec{
			verifyScore(0, 4, "0.1"), // before From
			verifyScore(0, 5, "0.1"),
			verifyScore(0, 6, "0.1"),                   // inside, not replayed
			verifyScore(0, 7, "0.1"),                   // at To: outside
			verifyScore(1, 0, "0.1"),                   // partition 1 was not replayed
			verifyOtherTopic(verifyScore(0, 6, "0.1")), // another input topic was not replayed
		},
		replay: []verifyRec{verifyScore(0, 5, "0.1")},
		from:   verifyIn(0, 5),
		to:     verifyIn(0, 7),
		want:   VerifyCounts{Identical: 1, Extra: 1},
	}, {
		name: "extra: windows the live run closed at or below the replay's last watermark",
		live: []verifyRec{
			w(0, k, 0, 10, 12, 3),
			w(0, "card-2", 0, 10, 12, 1), // closed with the first: extra
			w(0, k, 2, 12, 20, 3),        // closed at the replay's last watermark: extra
			w(0, k, 4, 14, 21, 3),        // closed after the range: not compared
			w(0, "card-3", 2, 12, 21, 3), // live closed it after the range; the replay flushed it
		},
		replay: []verifyRec{
			w(0, k, 0, 10, 12, 3),
			w(0, "card-4", 0, 10, 20, 1), // the replay's last watermark: 20
			w(0, k, 4, 14, eoi, 2),
			w(0, "card-3", 2, 12, eoi, 2),
		},
		to:   verifyIn(0, 100),
		want: VerifyCounts{Identical: 1, Missing: 1, Extra: 2, Flushed: 2},
	}, {
		name:   "extra: updates count below the last watermark only",
		live:   []verifyRec{verifyUpdate(0, k, 0, 10, 5, 1), verifyUpdate(0, k, 0, 10, 8, 2), verifyUpdate(0, k, 0, 10, 9, 3), verifyUpdate(0, k, 0, 10, 9, 4)},
		replay: []verifyRec{verifyUpdate(0, k, 0, 10, 5, 1), verifyUpdate(0, "card-2", 0, 10, 9, 1)},
		to:     verifyIn(0, 100),
		want:   VerifyCounts{Identical: 1, Missing: 1, Extra: 1},
	}, {
		name:   "extra: windows ending before the warm-up bound do not count",
		live:   []verifyRec{w(0, k, 0, 10, 12, 3), w(0, k, 10, 20, 22, 3), w(0, k, 20, 30, 32, 3)},
		replay: []verifyRec{w(0, k, 20, 30, 32, 3), w(0, k, 30, 40, eoi, 1)},
		from:   verifyIn(0, 50),
		to:     verifyIn(0, 100),
		want:   VerifyCounts{Identical: 1, Flushed: 1},
		ok:     true,
	}, {
		name:   "flushed: not compared, even when live differs",
		live:   []verifyRec{verifyScore(0, 0, "0.1"), w(0, k, 0, 10, 15, 9)},
		replay: []verifyRec{verifyScore(0, 0, "0.1"), w(0, k, 0, 10, eoi, 3)},
		to:     verifyIn(0, 1),
		want:   VerifyCounts{Identical: 1, Flushed: 1},
		ok:     true,
	}, {
		name:        "aborted live records are not read",
		live:        []verifyRec{verifyScore(0, 0, "0.1")},
		liveAborted: []verifyRec{verifyScore(0, 0, "0.9"), verifyScore(0, 1, "0.9")},
		replay:      []verifyRec{verifyScore(0, 0, "0.1")},
		to:          verifyIn(0, 2),
		want:        VerifyCounts{Identical: 1, Extra: 0},
		ok:          true,
	}, {
		name:   "tombstones match by window key",
		live:   []verifyRec{{p: 0, key: `{"key":"card-1","start":0,"end":10}`, null: true}},
		replay: []verifyRec{{p: 0, key: `{"key":"card-1","start":0,"end":10}`, null: true}},
		to:     verifyIn(0, 1),
		want:   VerifyCounts{Identical: 1},
		ok:     true,
	}, {
		name: "nothing identical is not a match",
		to:   verifyIn(0, 1),
		want: VerifyCounts{},
	}}
	b := kafkatest.NewInProcess(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			live, rep := b.CreateTopic(2, nil), b.CreateTopic(2, nil)
			if len(tt.live) > 0 {
				verifyProduce(t, b, live, "commit", tt.live...)
			}
			if len(tt.liveAborted) > 0 {
				verifyProduce(t, b, live, "abort", tt.liveAborted...)
			}
			if len(tt.replay) > 0 {
				verifyProduce(t, b, rep, "", tt.replay...)
			}
			res, err := Verify(t.Context(), VerifyConfig{Brokers: b.Addrs, Live: live, Replay: rep, From: tt.from, To: tt.to, Idle: time.Second})
			if err != nil {
				t.Fatal(err)
			}
			t.Log(res.String())
			if res.VerifyCounts != tt.want {
				var s strings.Builder
				_ = res.Print(&s)
				t.Errorf("got %+v, want %+v\n%s", res.VerifyCounts, tt.want, s.String())
			}
			if res.OK() != tt.ok {
				t.Errorf("OK() = %t, want %t", res.OK(), tt.ok)
			}
		})
	}
}

// TestVerifyFile compares a JSONL replay output with the live topic: keys and values as
// strings or base64, other topics of the file ignored.
func TestVerifyFile(t *testing.T) {
	b := kafkatest.NewInProcess(t)
	live := b.CreateTopic(2, nil)
	s0, s1 := verifyScore(0, 0, "0.1"), verifyScore(1, 0, "0.2")
	win := verifyWindow(1, "card-1", 0, 10, math.MaxInt64, 2)
	verifyProduce(t, b, live, "commit", s0, s1)
	lines := []string{
		fmt.Sprintf(`{"topic":%q,"partition":0,"key":%q,"value":%q,"headers":{}}`, live+".v2", s0.key, s0.value),
		fmt.Sprintf(`{"topic":%q,"partition":1,"key_base64":%q,"value":%q}`, live, base64.StdEncoding.EncodeToString([]byte(s1.key)), s1.value),
		fmt.Sprintf(`{"topic":%q,"partition":1,"key":%q,"value":%q}`, live+".v2", win.key, win.value),
		fmt.Sprintf(`{"topic":"alerts.v2","partition":0,"key":%q,"value":"x"}`, s0.key),
		fmt.Sprintf(`{"topic":%q,"partition":0,"key":"k","value":null}`, live+".vx"),
	}
	path := filepath.Join(t.TempDir(), "out.jsonl")
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := Verify(t.Context(), VerifyConfig{Brokers: b.Addrs, Live: live, ReplayFile: path, To: verifyIn(0, 1, 1, 1)})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.String(), "verify: identical=2 different=0 missing=0 extra=0 flushed=1"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}

	bad := filepath.Join(t.TempDir(), "bad.jsonl")
	if err := os.WriteFile(bad, []byte(lines[0]+"\nnot json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Verify(t.Context(), VerifyConfig{Brokers: b.Addrs, Live: live, ReplayFile: bad, To: verifyIn(0, 1)})
	if err == nil || !strings.Contains(err.Error(), "bad.jsonl:2:") {
		t.Fatalf("got error %v, want one naming bad.jsonl:2", err)
	}
}

// TestVerifyPrint shows the first differences with both sides, then the line.
func TestVerifyPrint(t *testing.T) {
	b := kafkatest.NewInProcess(t)
	live, rep := b.CreateTopic(1, nil), b.CreateTopic(1, nil)
	verifyProduce(t, b, live, "commit", verifyScore(0, 0, "0.5"), verifyScore(0, 1, "0.5"))
	verifyProduce(t, b, rep, "", verifyScore(0, 0, "0.6"), verifyScore(0, 2, "0.5"))
	res, err := Verify(t.Context(), VerifyConfig{Brokers: b.Addrs, Live: live, Replay: rep, To: verifyIn(0, 3)})
	if err != nil {
		t.Fatal(err)
	}
	var s strings.Builder
	if err := res.Print(&s); err != nil {
		t.Fatal(err)
	}
	out := s.String()
	t.Log("\n" + out)
	for _, want := range []string{
		"verify: different: partition 0, source in/0/0\n  live:   offset 0 key=\"card-0\" value=\"{\\\"key\\\":\\\"card-0\\\",\\\"event_time\\\":1767225600000,\\\"score\\\":0.5,",
		"  replay: offset 0 key=\"card-0\" value=\"{\\\"key\\\":\\\"card-0\\\",\\\"event_time\\\":1767225600000,\\\"score\\\":0.6,",
		"verify: missing: partition 0, source in/0/2\n  live:   (none)\n",
		"verify: extra: partition 0, source in/0/1\n  live:   offset 1 ",
		"verify: identical=0 different=1 missing=1 extra=1 flushed=0\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

// TestVerifyConfigValidate names what is wrong with a configuration.
func TestVerifyConfigValidate(t *testing.T) {
	ok := VerifyConfig{Brokers: []string{"b:9092"}, Live: "out", Replay: "out.v2", To: verifyIn(0, 10)}
	tests := []struct {
		name string
		edit func(*VerifyConfig)
		want string // "" for valid
	}{
		{"valid", func(*VerifyConfig) {}, ""},
		{"no brokers", func(c *VerifyConfig) { c.Brokers = nil }, "no brokers"},
		{"no live topic", func(c *VerifyConfig) { c.Live = "" }, "no live topic"},
		{"topic and file", func(c *VerifyConfig) { c.ReplayFile = "x.jsonl" }, "exactly one of Replay"},
		{"neither", func(c *VerifyConfig) { c.Replay = "" }, "exactly one of Replay"},
		{"replay is live", func(c *VerifyConfig) { c.Replay = "out" }, "is the live topic"},
		{"no range", func(c *VerifyConfig) { c.To = nil }, "no input range"},
		{"backwards range", func(c *VerifyConfig) { c.From = verifyIn(0, 11) }, "in/0: range [11, 10)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := ok
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("got %v, want no error", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Fatalf("got %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// TestVerifyMissingTopic says which topic does not exist.
func TestVerifyMissingTopic(t *testing.T) {
	b := kafkatest.NewInProcess(t)
	live := b.CreateTopic(1, nil)
	_, err := Verify(t.Context(), VerifyConfig{Brokers: b.Addrs, Live: live, Replay: live + ".v9", To: verifyIn(0, 1)})
	if err == nil || !strings.Contains(err.Error(), live+".v9 does not exist") {
		t.Fatalf("got %v, want an error saying %s.v9 does not exist", err, live)
	}
}

// ExampleVerify compares the output of a replay of offsets 0 to 1000 of partitions 0 and 1,
// written to scores.v2, with the live topic scores.
func ExampleVerify() {
	res, err := Verify(context.Background(), VerifyConfig{
		Brokers: []string{"localhost:9092"},
		Live:    "scores",
		Replay:  "scores.v2",
		To:      verifyIn(0, 1000, 1, 1000),
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	_ = res.Print(os.Stdout) // the first differences, then "verify: identical=N ..."
	if !res.OK() {
		os.Exit(1)
	}
}
