package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/drift"
	"github.com/kappa-stream/kappa/internal/gen"
	"github.com/kappa-stream/kappa/internal/kafkatest"
	"github.com/kappa-stream/kappa/pipeline"
)

var updateReference = flag.Bool("update-reference", false, "write examples/fraud/fraud-reference.json from TestProfileFraudReference's profile")

// The fraud example's reference: the second minute of the demo's transactions (2000 a
// second over 500 cards, five of them compromised at any time, one record in 500
// malformed, one in 200 sent twice), in four partitions. The first minute is the warm-up
// that fills the one-minute windows the score reads, as they are full in a running
// pipeline.
const (
	referenceRecords    = 240_000
	referencePartitions = 4
	referenceFile       = "../../examples/fraud/fraud-reference.json"
)

// TestProfileFraudReference runs `kappa profile` over generated transactions with the fraud
// example, and checks that examples/fraud/fraud-reference.json is what it writes (go test
// ./cmd/kappa -run TestProfileFraudReference -update-reference writes it). Every value of
// the range is in the sample, so the reference is exact and does not depend on the order
// the partitions are read in.
func TestProfileFraudReference(t *testing.T) {
	b := kafkatest.New(t)
	def, file := fraudCopy(t, b)
	cards := gen.Cards{
		Seed: 1, Partitions: referencePartitions, BadEvery: 500, KeyField: def.Input.KeyField, TimeField: def.Input.EventTime.Field,
		Step: time.Second / 2000, Fraud: gen.Fraud{Compromised: 5}, IDField: def.Input.Dedup.Field, DupEvery: 200,
	}
	cl := b.Client(gen.ClientOpts()...)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	// The range starts, in each partition, at the first record whose timestamp is at or
	// after from; good counts the records from there that decode and are not copies.
	from := gen.DefaultStart.Add(time.Minute)
	var good int64
	started := map[int32]bool{}
	for i := range int64(referenceRecords) {
		p, k, v := cards.Record(i)
		txn, _ := cards.Txn(i)
		orig, dup := cards.Dup(i)
		if dup {
			txn, _ = cards.Txn(orig)
		}
		started[p] = started[p] || txn.EventTime >= from.UnixMilli()
		if started[p] && !dup && !cards.Bad(i) {
			good++
		}
		cl.Produce(ctx, &kgo.Record{Topic: def.Input.Topics[0], Partition: p, Key: k, Value: v, Timestamp: time.UnixMilli(txn.EventTime)}, nil)
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}

	out := filepath.Join(t.TempDir(), "reference.json")
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{
		"profile", "-f", file, "--brokers", strings.Join(b.Addrs, ","),
		"--from", from.Format(time.RFC3339), "--to", from.Add(time.Hour).Format(time.RFC3339), "--warm-up", "65s",
		"--out", out, "--state-dir", t.TempDir(),
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("kappa profile: %v\n%s", err, stderr.String())
	}
	t.Logf("stdout: %s", strings.TrimSpace(stdout.String()))
	wantLine := fmt.Sprintf("profile: wrote %s: feature:amount=", out)
	if !strings.HasPrefix(stdout.String(), wantLine) || !strings.Contains(stdout.String(), fmt.Sprintf("records_in=%d ", referenceRecords)) {
		t.Errorf("stdout %q, want a line starting %q with records_in=%d (the warm-up's included)", stdout.String(), wantLine, referenceRecords)
	}
	got, err := drift.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	// Every record of the range that decoded and is not a copy: the malformed ones go to the
	// dead-letter topic, the copies are dropped, the warm-up's only build state.
	if a, s := got.Features["amount"], got.Score; a == nil || s == nil || a.Records != good || s.Records != good {
		t.Fatalf("reference: got %+v, want amount and score series of %d records each", got, good)
	}
	if len(got.Features["amount"].Edges) != 9 || len(got.Score.Edges) < 5 {
		t.Errorf("reference: %d amount edges and %d score edges; want 9 (10 bins of distinct amounts) and at least 5",
			len(got.Features["amount"].Edges), len(got.Score.Edges))
	}

	if *updateReference {
		got.Pipeline = "fraud"
		got.Source = fmt.Sprintf("kappa profile of the second minute of %d generated transactions (TestProfileFraudReference in cmd/kappa)", referenceRecords)
		data, err := got.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(referenceFile, data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", referenceFile)
		return
	}
	committed, err := drift.Load(referenceFile)
	if err != nil {
		t.Fatalf("%v (go test ./cmd/kappa -run TestProfileFraudReference -update-reference writes it)", err)
	}
	if !reflect.DeepEqual(committed.Features, got.Features) || !reflect.DeepEqual(committed.Score, got.Score) {
		t.Errorf("%s is not what kappa profile makes of the generated transactions now; if the change is intended, "+
			"go test ./cmd/kappa -run TestProfileFraudReference -update-reference writes it", referenceFile)
	}
}

// fraudCopy writes a copy of the fraud example that reads a topic of its own on b, its
// model and reference given by absolute paths, and returns it with its path.
func fraudCopy(t *testing.T, b *kafkatest.Broker) (*pipeline.Definition, string) {
	t.Helper()
	dir, err := filepath.Abs("../../examples/fraud")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "fraud.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	input := b.CreateTopic(referencePartitions, nil)
	name := kafkatest.Name(t, "fraud")
	text := string(data)
	for _, r := range []struct{ old, new string }{
		{"name: fraud\n", "name: " + name + "\n"},
		{"topics: [transactions]", "topics: [" + input + "]"},
		{"file: model.json", "file: " + filepath.Join(dir, "model.json")},
		{"reference: fraud-reference.json", "reference: " + filepath.Join(dir, "fraud-reference.json")},
		{"topic: fraud-scores", "topic: " + name + "-scores"},
		{"topic: fraud-alerts", "topic: " + name + "-alerts"},
	} {
		if !strings.Contains(text, r.old) {
			t.Fatalf("examples/fraud/fraud.yaml has no %q to replace", r.old)
		}
		text = strings.Replace(text, r.old, r.new, 1)
	}
	file := filepath.Join(t.TempDir(), "fraud.yaml")
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	def, err := pipeline.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return def, file
}

// TestValidateDriftReference: kappa validate loads the drift reference the pipeline names
// and refuses one that lacks a series the pipeline watches, as kappa run would.
func TestValidateDriftReference(t *testing.T) {
	dir, err := filepath.Abs("../../examples/fraud")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, "fraud.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	// The example's reference without its score series.
	ref, err := drift.Load(filepath.Join(dir, "fraud-reference.json"))
	if err != nil {
		t.Fatal(err)
	}
	ref.Score = nil
	noScore, err := ref.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(tmp, "no-score.json"), noScore, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ reference, want string }{
		{filepath.Join(dir, "fraud-reference.json"), ": ok ("},
		{filepath.Join(tmp, "no-score.json"), "no distribution of the score"},
		{filepath.Join(tmp, "missing.json"), "does not exist; make it with kappa profile"},
	} {
		text := strings.Replace(string(data), "file: model.json", "file: "+filepath.Join(dir, "model.json"), 1)
		text = strings.Replace(text, "reference: fraud-reference.json", "reference: "+tc.reference, 1)
		file := filepath.Join(tmp, "fraud.yaml")
		if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		var stdout, stderr bytes.Buffer
		err := run(context.Background(), []string{"validate", "-f", file}, &stdout, &stderr)
		got := stdout.String()
		if err != nil {
			got = err.Error()
		}
		if !strings.Contains(got, tc.want) {
			t.Errorf("validate with reference %s: got %q, want it to contain %q", tc.reference, got, tc.want)
		}
	}
}
