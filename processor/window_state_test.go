package processor

import (
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/state"
	"github.com/kappa-stream/kappa/windows"
)

// TestWindowStateBounded drives KAPPA_STATE_RECORDS records (default 300,000; `make
// test-state` runs 10,000,000) through a partition's window state on Pebble on disk: the
// processor's write-back cache, flushes and commit batches, without Kafka. 1,000 cards, an
// event time 1 ms further per record with up to 50 ms of disorder, hopping windows of 10s
// advancing by 1s: about ten windows per card are open at any time, and windows start
// closing after 10s of event time (10,000 records). It prints the state figures every tenth
// of the run and requires the number of open windows and stored entries to stay within
// their bound, and the largest disk usage of the second half of the run to stay within 1.5
// times that of the first half: flat, where a state growing with the stream would double.
func TestWindowStateBounded(t *testing.T) {
	n := int64(300_000)
	if v := os.Getenv("KAPPA_STATE_RECORDS"); v != "" {
		var err error
		if n, err = strconv.ParseInt(v, 10, 64); err != nil || n < 100_000 {
			t.Fatalf("KAPPA_STATE_RECORDS=%q: want a number of at least 100000", v)
		}
	}
	const (
		cards     = 1000
		perTxn    = 10_000
		disorder  = 50
		maxPerKey = 11 // windows of a card open at once: size/advance, +1 across a close
	)
	def := &pipeline.Definition{
		Name: "bounded",
		Input: pipeline.Input{
			Topics: []string{"in"}, Format: pipeline.FormatJSON, KeyField: "card",
			EventTime: pipeline.EventTime{Field: "ts", Format: pipeline.TimeEpochMillis},
		},
		Operators: []pipeline.Operator{{Window: &pipeline.Window{
			Type: pipeline.WindowHopping, Size: 10 * time.Second, Advance: time.Second,
			Aggregates: []pipeline.Aggregation{
				{Func: pipeline.AggCount},
				{Func: pipeline.AggSum, Field: "amount"},
				{Func: pipeline.AggMax, Field: "amount"},
				{Func: pipeline.AggCountDistinct, Field: "merchant"},
			},
		}}},
		Output:         pipeline.Output{Topic: "out"},
		ExactlyOnce:    true,
		CommitInterval: time.Second,
		StateDir:       t.TempDir(),
	}
	def.ApplyDefaults()
	def.Input.MaxOutOfOrderness = disorder * time.Millisecond
	if err := def.Validate(); err != nil {
		t.Fatal(err)
	}
	op, err := newWindowOp(0, def, def.Operators[0].Window)
	if err != nil {
		t.Fatal(err)
	}
	// 8 MiB memtables (the default is 64) so that a run of a million records reaches
	// Pebble's steady state of flushes and compactions.
	store, err := state.Open(def.StateDir, state.Options{MemTableSize: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	tk := &task{p: &Processor{cfg: Config{Store: store}, def: def}, partition: 0}
	tk.batch = store.NewBatch(0)
	if err := tk.loadWindows(op); err != nil {
		t.Fatal(err)
	}

	var (
		vals      = make([]windows.Value, 2)
		merchants [50][]byte
		emitted   int64
		changelog int64
		firstDisk uint64
		maxLater  uint64
		start     = time.Now()
	)
	for i := range merchants {
		merchants[i] = fmt.Appendf(nil, "m-%d", i)
	}
	t.Logf("state: records=%d cards=%d window=hopping(10s,1s) txn=%d records", n, cards, perTxn)
	for i := int64(0); i < n; i++ {
		if tk.batch == nil {
			tk.batch = store.NewBatch(0)
		}
		h := mix(uint64(i))
		vals[0] = windows.Value{Num: float64(h%50000) / 100}
		vals[1] = windows.Value{Text: merchants[(h>>20)%50], IsText: true}
		rec := windows.Record{
			Key:       "card-" + strconv.Itoa(int((h>>32)%cards)),
			EventTime: 1_767_225_600_000 + i - int64((h>>40)%disorder),
			Values:    vals,
			Seq:       uint64(i),
		}
		res, err := tk.win.op.Process(rec)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Late) > 0 {
			t.Fatalf("record %d is late: %v", i, res.Late[0])
		}
		emitted += int64(len(res.Emissions))
		if (i+1)%perTxn != 0 && i+1 != n {
			continue
		}
		if err := tk.flush(); err != nil {
			t.Fatal(err)
		}
		changelog += int64(len(tk.batch.Changes()))
		if err := tk.batch.Commit(state.Applied{Input: map[string]int64{"in": i + 1}, Changelog: changelog}); err != nil {
			t.Fatal(err)
		}
		tk.batch.Close()
		tk.batch = nil

		if (i+1)%(n/10) != 0 {
			continue
		}
		entries := 0
		if err := store.Scan(0, func(_, _ []byte) error { entries++; return nil }); err != nil {
			t.Fatal(err)
		}
		open := tk.win.op.OpenWindows()
		disk := store.DiskUsage()
		t.Logf("state: records=%d open_windows=%d stored_entries=%d disk_bytes=%d finals=%d changelog_records=%d elapsed=%s",
			i+1, open, entries, disk, emitted, changelog, time.Since(start).Round(time.Millisecond))
		if open > cards*maxPerKey || entries != open+1 { // +1: the clock
			t.Fatalf("after %d records: %d open windows and %d stored entries; want at most %d open, and one entry per open window plus the clock",
				i+1, open, entries, cards*maxPerKey)
		}
		if i+1 <= n/2 {
			firstDisk = max(firstDisk, disk)
		} else {
			maxLater = max(maxLater, disk)
		}
	}
	if emitted < n/100 {
		t.Fatalf("only %d windows closed over %d records", emitted, n)
	}
	t.Logf("state: max disk_bytes in the first half=%d, in the second half=%d (%.2fx)", firstDisk, maxLater, float64(maxLater)/float64(firstDisk))
	if 2*maxLater > 3*firstDisk {
		t.Fatalf("state grows with the stream: up to %d bytes in the first half of the records, up to %d in the second", firstDisk, maxLater)
	}
}

// mix is SplitMix64's finalizer: a well-spread hash of i.
func mix(i uint64) uint64 {
	z := i + 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
