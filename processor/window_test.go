package processor

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/kappa-stream/kappa/model"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/windows"
)

// windowDef is testDef with a window operator instead of the aggregate.
func windowDef(t testing.TB, name string, w pipeline.Window, ooo time.Duration, inputs ...string) *pipeline.Definition {
	t.Helper()
	d := testDef(t, name, true, inputs...)
	d.Operators = []pipeline.Operator{{Window: &w}}
	d.Input.MaxOutOfOrderness = ooo
	d.ApplyDefaults()
	if err := d.Validate(); err != nil {
		t.Fatalf("test definition is invalid: %v", err)
	}
	return d
}

// testWindows are window operators over the test records: every type, both emit modes,
// every aggregate function.
func testWindows() map[string]pipeline.Window {
	aggs := []pipeline.Aggregation{
		{Func: "count"},
		{Func: "sum", Field: "amount"},
		{Func: "min", Field: "amount"},
		{Func: "max", Field: "amount"},
		{Func: "avg", Field: "amount"},
		{Func: "first", Field: "amount"},
		{Func: "last", Field: "amount"},
		{Func: "count_distinct", Field: "merchant"},
		{Func: "quantile", Field: "amount", Q: 0.9},
	}
	ms := time.Millisecond
	return map[string]pipeline.Window{
		"hopping-final":  {Type: pipeline.WindowHopping, Size: 100 * ms, Advance: 20 * ms, Grace: 10 * ms, Aggregates: aggs},
		"tumbling-final": {Type: pipeline.WindowTumbling, Size: 50 * ms, Aggregates: aggs},
		"session-update": {Type: pipeline.WindowSession, Gap: 15 * ms, Grace: 5 * ms, Emit: pipeline.EmitUpdate, Aggregates: aggs},
		"sliding-final":  {Type: pipeline.WindowSliding, Size: 40 * ms, Grace: 5 * ms, Aggregates: aggs},
	}
}

// windowRecord makes the i-th record of a partition: event times rise by 1-3 ms with up to
// 20 ms of disorder, every 50th is 300 ms behind (late for every test window), every 40th
// is malformed.
func windowRecord(rng *rand.Rand, i int, now *int64) inputRec {
	*now += 1 + rng.Int64N(3)
	r := inputRec{ts: time.UnixMilli(1_764_000_000_000).UTC()}
	if i%40 == 39 {
		r.value, r.bad, r.badField, r.key = []byte(`{"card":"card-1","amount":"x","ts":1}`), ReasonSchema, "amount", []byte("bad")
		return r
	}
	r.aggKey = keyNames[rng.IntN(3)]
	r.key = []byte(r.aggKey)
	r.amount = float64(rng.IntN(20001)-10000) / 100
	r.eventTime = *now - rng.Int64N(20)
	if i%50 == 25 {
		r.eventTime = *now - 300
	}
	merchant := fmt.Sprintf(`"m-%d"`, rng.IntN(5))
	if rng.IntN(4) == 0 {
		merchant = fmt.Sprint(rng.IntN(5)) // count_distinct takes numbers too
	}
	r.value = fmt.Appendf(nil, `{"card":%s,"amount":%s,"ts":%d,"merchant":%s}`,
		jsonText(r.aggKey), fmtFloat(r.amount), 1_764_000_000_000+r.eventTime, merchant)
	return r
}

// windowWorkload writes n records to each partition of the definition's one input topic.
func windowWorkload(k *fakeKafka, def *pipeline.Definition, seed uint64, n int) *workload {
	w := newWorkload(def)
	rng := rand.New(rand.NewPCG(seed, 7))
	for p := range k.cfg.Partitions {
		var now int64
		for i := range n {
			w.write(k, def.Input.Topics[0], p, windowRecord(rng, i, &now))
		}
	}
	return w
}

// windowExpect runs each partition's input through an in-memory windows.Operator and
// returns the output and late records the processor must produce, by partition. The
// processor must give the same bytes whatever its batching, commit intervals, restarts and
// aborts.
func windowExpect(t testing.TB, def *pipeline.Definition, w *workload, partitions int32) (outs, lates map[int32][]string) {
	t.Helper()
	op, err := newWindowOp(0, def, def.Operators[0].Window)
	if err != nil {
		t.Fatal(err)
	}
	outs, lates = map[int32][]string{}, map[int32][]string{}
	r := &run{p: &Processor{def: def}}
	for p := range partitions {
		o, err := windows.NewOperator(op.def, op.opts...)
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range w.recs[topicPartition{def.Input.Topics[0], p}] {
			if in.bad != "" {
				continue
			}
			ev, err := newDecoder(def, op.fields...).decode(in.value)
			if err != nil {
				t.Fatalf("%s: %v", in.pos, err)
			}
			res, err := o.Process(windows.Record{Key: string(ev.key), EventTime: ev.eventTime, Values: ev.values, Seq: uint64(in.pos.Offset)})
			if err != nil {
				t.Fatal(err)
			}
			for i := range res.Emissions {
				o := r.windowOutput(op, p, &res.Emissions[i])
				outs[p] = append(outs[p], fmt.Sprintf("%s => %s", o.Key, o.Value))
			}
			for _, l := range res.Late {
				lates[p] = append(lates[p], fmt.Sprintf("%d %s", in.pos.Offset, l.Lateness))
			}
		}
	}
	return outs, lates
}

// windowGot reads what the processor committed: outputs and late records by partition.
func windowGot(t testing.TB, k *fakeKafka, def *pipeline.Definition) (outs, lates map[int32][]string) {
	t.Helper()
	outs, lates = map[int32][]string{}, map[int32][]string{}
	for p := range k.cfg.Partitions {
		for _, o := range k.records(def.Output.Topic, p) {
			outs[p] = append(outs[p], fmt.Sprintf("%s => %s", o.Key, o.Value))
		}
		for _, l := range k.records(def.LateTopic(), p) {
			h := func(k string) string { v, _ := headerValue(l.Headers, k); return v }
			pos, err := headerPosition(l.Headers)
			if err != nil {
				t.Fatalf("late record %d of partition %d: %v", l.Offset, p, err)
			}
			lates[p] = append(lates[p], fmt.Sprintf("%d window=[%s,%s) wm=%s lateness=%s", pos.Offset,
				h(HeaderLateWindowStart), h(HeaderLateWindowEnd), h(HeaderLateWatermark), h(HeaderLateLateness)))
		}
	}
	return outs, lates
}

func diffLines(t testing.TB, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Fatalf("%s: %d records, want %d; first difference at %d:\n got: %s\nwant: %s", what, len(got), len(want), i, g, w)
		}
	}
}

// TestWindowsMetamorphic runs the same input through every test window under different
// poll sizes, transaction sizes, commit intervals, restarts and aborted transactions: the
// committed outputs and late records must be byte for byte those of one in-memory
// Operator per partition, and the state must hold only the windows still open.
func TestWindowsMetamorphic(t *testing.T) {
	variants := []struct {
		name     string
		cfg      fakeConfig
		commit   time.Duration
		restarts int
		abortPct int
	}{
		{"one txn per record", fakeConfig{MaxPerPoll: 1, MaxPerTxn: 1}, time.Millisecond, 0, 0},
		{"small polls", fakeConfig{MaxPerPoll: 3, MaxPerTxn: 17}, 5 * time.Millisecond, 0, 0},
		{"all at once", fakeConfig{}, 50 * time.Millisecond, 0, 0},
		{"restarts", fakeConfig{MaxPerPoll: 7, MaxPerTxn: 40}, 2 * time.Millisecond, 3, 0},
		{"aborts", fakeConfig{MaxPerPoll: 5, MaxPerTxn: 25, ReuseBuffers: true}, 2 * time.Millisecond, 1, 20},
	}
	for name, win := range testWindows() {
		t.Run(name, func(t *testing.T) {
			def := windowDef(t, "win", win, 30*time.Millisecond, "in")
			var wantOut, wantLate map[int32][]string
			for _, v := range variants {
				t.Run(v.name, func(t *testing.T) {
					def := *def
					def.CommitInterval = v.commit
					k := fakeFor(&def, 3, v.cfg)
					w := windowWorkload(k, &def, 42, 400)
					if wantOut == nil {
						wantOut, wantLate = windowExpect(t, &def, w, 3)
					}
					var aborts atomic.Int32
					if v.abortPct > 0 {
						rng := rand.New(rand.NewPCG(9, 9))
						var mu sync.Mutex
						k.setHook(func(pt fakePoint) fakeAction {
							if pt.Name != "end-before" {
								return fakeContinue
							}
							mu.Lock()
							defer mu.Unlock()
							if rng.IntN(100) < v.abortPct {
								aborts.Add(1)
								return fakeAbort
							}
							return fakeContinue
						})
					}
					fs := vfs.NewMem()
					store := openStore(t, fs)
					r := start(t, &def, store, k.instance("pod-0", true))
					for range v.restarts {
						time.Sleep(15 * time.Millisecond)
						if err := r.stop(t); err != nil {
							t.Fatalf("Run: %v", err)
						}
						r = start(t, &def, store, k.instance("pod-0", true))
					}
					waitConsumed(t, k, r)
					if err := r.stop(t); err != nil {
						t.Fatalf("Run: %v", err)
					}
					gotOut, gotLate := windowGot(t, k, &def)
					for p := range int32(3) {
						diffLines(t, fmt.Sprintf("partition %d outputs", p), gotOut[p], wantOut[p])
						diffLines(t, fmt.Sprintf("partition %d late records", p), gotLate[p], wantLate[p])
						checkStateIsChangelogPrefix(t, k, store, p)
						checkWindowState(t, store, &def, w, p)
					}
					if v.abortPct > 0 && aborts.Load() == 0 {
						t.Fatalf("no transaction was aborted; the variant tests nothing")
					}
					if err := store.Close(); err != nil {
						t.Fatal(err)
					}
				})
			}
			var late int
			for _, ls := range wantLate {
				late += len(ls)
			}
			if late == 0 {
				t.Fatalf("no late records in the workload")
			}
		})
	}
}

// checkWindowState checks that the committed state of partition p holds exactly the
// entries an in-memory Operator fed the same input still holds: closed windows are gone.
func checkWindowState(t testing.TB, store interface {
	Scan(int32, func(k, v []byte) error) error
}, def *pipeline.Definition, w *workload, p int32,
) {
	t.Helper()
	op, err := newWindowOp(0, def, def.Operators[0].Window)
	if err != nil {
		t.Fatal(err)
	}
	mem := windows.MemStore{}
	o, err := windows.NewOperator(op.def, append(op.opts, windows.WithStore(mem))...)
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range w.recs[topicPartition{def.Input.Topics[0], p}] {
		if in.bad != "" {
			continue
		}
		ev, _ := newDecoder(def, op.fields...).decode(in.value)
		if _, err := o.Process(windows.Record{Key: string(ev.key), EventTime: ev.eventTime, Values: ev.values, Seq: uint64(in.pos.Offset)}); err != nil {
			t.Fatal(err)
		}
	}
	var want []string
	for e, a := range mem {
		want = append(want, fmt.Sprintf("%x=%x", windows.AppendEntryKey(nil, e), op.spec.AppendAggs(nil, a)))
	}
	slices.Sort(want)
	var got []string
	var clock []byte
	err = store.Scan(p, func(k, v []byte) error {
		switch {
		case len(k) >= 2 && k[0] == 0 && k[1] == windowEntryTag:
			got = append(got, fmt.Sprintf("%x=%x", k[2:], v))
		case len(k) == 2 && k[0] == 0 && k[1] == windowClockTag:
			clock = slices.Clone(v)
		default:
			return fmt.Errorf("unexpected state key %x", k)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("partition %d: state holds %d window entries, want the %d still open:\n got: %s\nwant: %s",
			p, len(got), len(want), strings.Join(got, " "), strings.Join(want, " "))
	}
	if string(clock) != string(windows.AppendClock(nil, o.Clock())) {
		t.Fatalf("partition %d: stored clock %x, want %x", p, clock, windows.AppendClock(nil, o.Clock()))
	}
}

// TestWindowOutputJSON checks the documented output and late-record formats on
// hand-written records.
func TestWindowOutputJSON(t *testing.T) {
	ms := time.Millisecond
	def := windowDef(t, "json", pipeline.Window{
		Type: pipeline.WindowTumbling, Size: 1000 * ms, Grace: 100 * ms,
		Aggregates: []pipeline.Aggregation{
			{Func: "count"},
			{Func: "sum", Field: "amount"},
			{Func: "max", Field: "amount", As: "biggest"},
			{Func: "count_distinct", Field: "merchant"},
			{Func: "avg", Field: "amount"},
		},
	}, 0, "in")
	k := fakeFor(def, 1, fakeConfig{})
	base := int64(1_764_000_000_000)
	in := []string{
		fmt.Sprintf(`{"card":"c<1>","amount":12.5,"ts":%d,"merchant":"m-1"}`, base+10),
		fmt.Sprintf(`{"card":"c<1>","amount":0.1,"ts":%d,"merchant":"m-2"}`, base+20),
		fmt.Sprintf(`{"card":"c<1>","amount":0.2,"ts":%d,"merchant":"m-1"}`, base+999),
		fmt.Sprintf(`{"card":"c<1>","amount":1,"ts":%d,"merchant":"m-1"}`, base+1100), // closes [base, base+1000)
		fmt.Sprintf(`{"card":"c<1>","amount":2,"ts":%d,"merchant":"m-1"}`, base+5),    // late
	}
	hdr := []model.Header{{Key: "trace", Value: []byte("t-1")}}
	for _, v := range in {
		k.appendInput("in", 0, []byte("c<1>"), []byte(v), hdr, time.UnixMilli(base))
	}
	store := openStore(t, vfs.NewMem())
	defer store.Close()
	r := start(t, def, store, k.instance("pod-0", true))
	waitConsumed(t, k, r)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	outs := k.records(def.Output.Topic, 0)
	if len(outs) != 1 {
		t.Fatalf("got %d outputs, want 1", len(outs))
	}
	wantKey := `{"key":"c\u003c1\u003e","start":1764000000000,"end":1764000001000}`
	wantValue := `{"key":"c\u003c1\u003e","window":{"start":1764000000000,"end":1764000001000},"emit":"final","watermark":1764000001100,` +
		`"aggregates":{"count":3,"sum_amount":12.799999999999999,"biggest":12.5,"count_distinct_merchant":2,"avg_amount":4.266666666666667}}`
	if string(outs[0].Key) != wantKey || string(outs[0].Value) != wantValue {
		t.Fatalf("output:\n got %s => %s\nwant %s => %s", outs[0].Key, outs[0].Value, wantKey, wantValue)
	}
	lates := k.records(def.LateTopic(), 0)
	if len(lates) != 1 {
		t.Fatalf("got %d late records, want 1", len(lates))
	}
	l := lates[0]
	if string(l.Key) != "c<1>" || string(l.Value) != in[4] {
		t.Fatalf("late record: got %s => %s, want the input unchanged", l.Key, l.Value)
	}
	got := fmtHeaders(l.Headers)
	want := `trace="t-1" kappa.late.window.start="1764000000000" kappa.late.window.end="1764000001000" kappa.late.watermark="1764000001100" ` +
		`kappa.late.lateness_ms="1095" kappa.source.topic="in" kappa.source.partition="0" kappa.source.offset="4" kappa.source.timestamp="1764000000000"`
	if got != want {
		t.Fatalf("late headers:\n got %s\nwant %s", got, want)
	}
	if s := r.p.Snapshot(); s.Late != 1 || s.RecordsOut != 1 {
		t.Fatalf("snapshot: %+v, want Late=1 RecordsOut=1", s)
	}
}

// TestWindowStaleStateDeleted plants in the state a window that the partition's watermark
// closed long ago, as a changelog whose tombstone compaction removed would restore it: the
// processor deletes it when it loads the partition and never emits it.
func TestWindowStaleStateDeleted(t *testing.T) {
	def := windowDef(t, "stale", testWindows()["hopping-final"], 30*time.Millisecond, "in")
	k := fakeFor(def, 1, fakeConfig{MaxPerPoll: 10, MaxPerTxn: 50})
	w := windowWorkload(k, def, 5, 300)

	store := openStore(t, vfs.NewMem())
	defer store.Close()
	// The first records, so that the partition has a clock, then the planted window.
	r := start(t, def, store, k.instance("pod-0", true))
	waitConsumed(t, k, r)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	op, err := newWindowOp(0, def, def.Operators[0].Window)
	if err != nil {
		t.Fatal(err)
	}
	ghost := windows.Entry{Key: "ghost", Window: windows.Window{Start: 0, End: 100}, CloseAt: 110}
	a := op.spec.NewAggs()
	a.Count = 1
	applied, _, err := store.Applied(0)
	if err != nil {
		t.Fatal(err)
	}
	b := store.NewBatch(0)
	if err := b.Set(windows.AppendEntryKey([]byte{0, windowEntryTag}, ghost), op.spec.AppendAggs(nil, a)); err != nil {
		t.Fatal(err)
	}
	if err := b.Commit(applied); err != nil {
		t.Fatal(err)
	}

	// More input: the task loads the partition (finding the ghost) and goes on.
	var now int64 = 10_000
	rng := rand.New(rand.NewPCG(6, 6))
	for i := range 100 {
		w.write(k, "in", 0, windowRecord(rng, i, &now))
	}
	wantOut, wantLate := windowExpect(t, def, w, 1)
	r = start(t, def, store, k.instance("pod-0", true))
	waitConsumed(t, k, r)
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	gotOut, gotLate := windowGot(t, k, def)
	diffLines(t, "outputs", gotOut[0], wantOut[0])
	diffLines(t, "late records", gotLate[0], wantLate[0])
	checkWindowState(t, store, def, w, 0)
}

// TestBoundedRun runs a bounded input (a replay's) to its end: Run returns by itself, every
// window is closed and written with the watermark at the end of input, and with a warm-up,
// records before the range and windows ending before it write nothing while the windows
// after it hold the warm-up records.
func TestBoundedRun(t *testing.T) {
	def := windowDef(t, "bounded", testWindows()["hopping-final"], 30*time.Millisecond, "in")
	for _, warm := range []bool{false, true} {
		t.Run(fmt.Sprintf("warm-up=%v", warm), func(t *testing.T) {
			k := fakeFor(def, 2, fakeConfig{MaxPerPoll: 11, MaxPerTxn: 50, Bounded: true})
			w := windowWorkload(k, def, 31, 300)
			wantOut, wantLate := windowExpect(t, def, w, 2)
			// The expected end-of-input flush: every window still open, by (end, key, start).
			op, err := newWindowOp(0, def, def.Operators[0].Window)
			if err != nil {
				t.Fatal(err)
			}
			rr := &run{p: &Processor{def: def}}
			var warmUp *WarmUp
			if warm {
				warmUp = &WarmUp{Start: map[int32]int64{0: 100, 1: 100}, MinWindowEnd: 1_764_000_000_000 + 400}
			}
			for p := range int32(2) {
				o, _ := windows.NewOperator(op.def, op.opts...)
				var outs, lates []string
				for _, in := range w.recs[topicPartition{"in", p}] {
					if in.bad != "" {
						continue
					}
					ev, _ := newDecoder(def, op.fields...).decode(in.value)
					res, err := o.Process(windows.Record{Key: string(ev.key), EventTime: ev.eventTime, Values: ev.values, Seq: uint64(in.pos.Offset)})
					if err != nil {
						t.Fatal(err)
					}
					quiet := warmUp != nil && in.pos.Offset < warmUp.Start[p]
					for i := range res.Emissions {
						e := &res.Emissions[i]
						if warmUp != nil && e.Window.End < warmUp.MinWindowEnd {
							continue
						}
						out := rr.windowOutput(op, p, e)
						outs = append(outs, fmt.Sprintf("%s => %s", out.Key, out.Value))
					}
					for _, l := range res.Late {
						if !quiet {
							lates = append(lates, fmt.Sprintf("%d %s", in.pos.Offset, l.Lateness))
						}
					}
				}
				res, err := o.AdvanceWatermark(windows.EndOfInput)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Emissions) == 0 {
					t.Fatalf("partition %d: no window open at the end; the test tests nothing", p)
				}
				for i := range res.Emissions {
					out := rr.windowOutput(op, p, &res.Emissions[i])
					outs = append(outs, fmt.Sprintf("%s => %s", out.Key, out.Value))
				}
				if !warm && (len(outs) <= len(wantOut[p]) || len(lates) != len(wantLate[p])) {
					t.Fatalf("partition %d: the reference disagrees with windowExpect", p)
				}
				wantOut[p], wantLate[p] = outs, lates
			}

			store := openStore(t, vfs.NewMem())
			defer store.Close()
			r := startConfig(t, def, store, k.instance("pod-0", true), func(c *Config) { c.WarmUp = warmUp })
			select {
			case err := <-r.done:
				if err != nil {
					t.Fatalf("Run: %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("Run did not return at the end of the input")
			}
			gotOut, gotLate := windowGot(t, k, def)
			for p := range int32(2) {
				diffLines(t, fmt.Sprintf("partition %d outputs", p), gotOut[p], wantOut[p])
				diffLines(t, fmt.Sprintf("partition %d late records", p), gotLate[p], wantLate[p])
			}
			if warm {
				for p := range int32(2) {
					for _, d := range k.records(def.DeadLetterTopic(), p) {
						if pos, _ := headerPosition(d.Headers); pos.Offset < 100 {
							t.Fatalf("a warm-up record went to the dead-letter topic: offset %d", pos.Offset)
						}
					}
				}
			}
		})
	}
}
