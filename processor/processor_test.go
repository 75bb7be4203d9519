package processor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/kappa-stream/kappa/model"
)

func TestNewRequiresConfig(t *testing.T) {
	def := testDef(t, "cfg", true, "in")
	store := openStore(t, vfs.NewMem())
	defer store.Close()
	k := fakeFor(def, 1, fakeConfig{})
	inst := k.instance("pod-0", true)
	full := Config{Definition: def, Store: store, NewClient: inst.NewClient, Changelog: inst.Changelog()}

	badDef := *def
	badDef.Output.Topic = "in" // the output may not be an input
	tests := []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"no definition", func(c *Config) { c.Definition = nil }, "Definition is required"},
		{"no store", func(c *Config) { c.Store = nil }, "Store is required"},
		{"no client", func(c *Config) { c.NewClient = nil }, "NewClient is required"},
		{"no changelog", func(c *Config) { c.Changelog = nil }, "Changelog is required"},
		{"invalid definition", func(c *Config) { c.Definition = &badDef }, "invalid pipeline"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := full
			tt.edit(&cfg)
			_, err := New(cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New: got error %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := New(full); err != nil {
		t.Fatalf("New with a full config: got %v, want nil", err)
	}
}

// TestHappyPath runs the processor over generated input and checks every output value
// byte for byte against an independent recompute, the state against the final
// aggregates, the changelog against the state, and the counters.
func TestHappyPath(t *testing.T) {
	for _, tt := range []struct {
		name   string
		inputs []string
		cfg    fakeConfig
	}{
		{"one topic", []string{"in"}, fakeConfig{MaxPerPoll: 3, MaxPerTxn: 7}},
		{"two topics", []string{"in-a", "in-b"}, fakeConfig{MaxPerPoll: 4, MaxPerTxn: 9}},
		{"all at once", []string{"in"}, fakeConfig{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			def := testDef(t, "happy", true, tt.inputs...)
			k := fakeFor(def, 3, tt.cfg)
			w := newWorkload(def)
			rng := rand.New(rand.NewPCG(1, 2))
			w.add(k, rng, 90, 0)
			store := openStore(t, vfs.NewMem())
			defer store.Close()
			r := start(t, def, store, k.instance("pod-0", true))
			waitConsumed(t, k, r)
			// More input while running.
			w.add(k, rng, 30, 0)
			waitConsumed(t, k, r)
			if err := r.stop(t); err != nil {
				t.Fatalf("Run: %v", err)
			}

			finals := checkOutputs(t, k, w)
			checkState(t, store, finals)
			good, _ := w.count()
			s := r.p.Snapshot()
			if s.RecordsIn != int64(good) || s.RecordsOut != int64(good) || s.DeadLetters != 0 || s.Aborts != 0 || s.Restored != 0 {
				t.Fatalf("snapshot: got %+v, want RecordsIn=RecordsOut=%d and no dead letters, aborts or restores", s, good)
			}
			if s.Commits < 2 || s.LastCommit.IsZero() {
				t.Fatalf("snapshot: got %d commits (last %v), want at least 2 and a last commit time", s.Commits, s.LastCommit)
			}
			for p := range k.cfg.Partitions {
				checkStateIsChangelogPrefix(t, k, store, p)
				a, ok, err := store.Applied(p)
				if err != nil || !ok {
					t.Fatalf("partition %d: Applied: %v %v", p, ok, err)
				}
				for _, topic := range def.Input.Topics {
					end, _ := k.endOffset(topic, p)
					if got := a.Input[topic]; got != end {
						t.Fatalf("partition %d: applied input offset of %s: got %d, want %d", p, topic, got, end)
					}
				}
				// The state covers the whole changelog: all but the final commit marker.
				end, lso := k.endOffset(k.cfg.Changelog, p)
				if end != lso || a.Changelog != end-1 {
					t.Fatalf("partition %d: applied changelog offset %d, changelog end %d (LSO %d): want end-1 (the last record before its commit marker)", p, a.Changelog, end, lso)
				}
			}
		})
	}
}

// TestOutputJSON checks the documented output format on a hand-written record.
func TestOutputJSON(t *testing.T) {
	def := testDef(t, "json", true, "in")
	k := fakeFor(def, 1, fakeConfig{})
	k.appendInput("in", 0, []byte("k"), []byte(`{"card":"card-17","amount":2.5,"ts":1764000000123}`), nil, time.UnixMilli(1))
	k.appendInput("in", 0, []byte("k"), []byte(`{"card":"card-17","amount":35,"ts":1764000000456}`), nil, time.UnixMilli(2))
	store := openStore(t, vfs.NewMem())
	defer store.Close()
	r := start(t, def, store, k.instance("pod-0", true))
	waitConsumed(t, k, r)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := []string{
		`{"key":"card-17","count":1,"sum":2.5,"min":2.5,"max":2.5,"event_time":1764000000123,"source":{"topic":"in","partition":0,"offset":0}}`,
		`{"key":"card-17","count":2,"sum":37.5,"min":2.5,"max":35,"event_time":1764000000456,"source":{"topic":"in","partition":0,"offset":1}}`,
	}
	got := k.records(def.Output.Topic, 0)
	if len(got) != len(want) {
		t.Fatalf("got %d outputs, want %d", len(got), len(want))
	}
	for i := range want {
		if string(got[i].Value) != want[i] {
			t.Fatalf("output %d:\n got %s\nwant %s", i, got[i].Value, want[i])
		}
		if !json.Valid(got[i].Value) {
			t.Fatalf("output %d is not valid JSON: %s", i, got[i].Value)
		}
	}
}

// countingHook fails the n-th time (1-based) the point named name matches, once.
func countingHook(name string, n int, match func(fakePoint) bool, act fakeAction) (func(fakePoint) fakeAction, *atomic.Int32) {
	var seen, fired atomic.Int32
	return func(pt fakePoint) fakeAction {
		if pt.Name != name || (match != nil && !match(pt)) {
			return fakeContinue
		}
		if int(seen.Add(1)) == n {
			fired.Add(1)
			return act
		}
		return fakeContinue
	}, &fired
}

// runWithFault runs the processor over fresh input with the hook installed and checks
// that the committed result is exact. It returns the processor and the incarnation.
func runWithFault(t *testing.T, hook func(fakePoint) fakeAction, fired *atomic.Int32) (*Processor, *fakeInstance, int64) {
	t.Helper()
	def := testDef(t, "faults", true, "in")
	k := fakeFor(def, 2, fakeConfig{MaxPerPoll: 2, MaxPerTxn: 5})
	w := newWorkload(def)
	w.add(k, rand.New(rand.NewPCG(7, 7)), 60, 5)
	k.setHook(hook)
	store := openStore(t, vfs.NewMem())
	defer store.Close()
	inst := k.instance("pod-0", true)
	r := start(t, def, store, inst)
	waitConsumed(t, k, r)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if fired.Load() != 1 {
		t.Fatalf("the fault fired %d times, want 1", fired.Load())
	}
	finals := checkOutputs(t, k, w)
	checkState(t, store, finals)
	for p := range k.cfg.Partitions {
		checkStateIsChangelogPrefix(t, k, store, p)
	}
	good, bad := w.count()
	return r.p, inst, int64(good + bad)
}

// TestAbortOnProduceError fails one produce (of an output, a changelog record or a dead
// letter): the processor must ask End to abort, keep the client, process the records again
// from the same state, and commit each output exactly once.
func TestAbortOnProduceError(t *testing.T) {
	for _, tt := range []struct {
		name  string
		topic string // suffix of the topic whose produce fails
		n     int
	}{
		{"output", "-out", 3},
		{"changelog", "-changelog", 2},
		{"dead letter", "-dlq", 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hook, fired := countingHook("produce", tt.n, func(pt fakePoint) bool { return strings.HasSuffix(pt.Topic, tt.topic) }, fakeFail)
			p, inst, total := runWithFault(t, hook, fired)
			s := p.Snapshot()
			if s.Aborts != 1 {
				t.Fatalf("got %d aborts, want 1", s.Aborts)
			}
			if s.RecordsIn <= total {
				t.Fatalf("processed %d records of %d: want the aborted ones processed again", s.RecordsIn, total)
			}
			if n := inst.clientsCreated(); n != 1 {
				t.Fatalf("an abort rebuilt the client: %d clients, want 1", n)
			}
		})
	}
}

// TestReprocessedAfterAbort checks that an aborted transaction's records are processed
// again (the counters count them twice) and that End's report of an abort without error
// keeps the client.
func TestReprocessedAfterAbort(t *testing.T) {
	hook, fired := countingHook("end-before", 2, nil, fakeAbort)
	p, inst, total := runWithFault(t, hook, fired)
	s := p.Snapshot()
	if s.Aborts != 1 {
		t.Fatalf("got %d aborts, want 1", s.Aborts)
	}
	if s.RecordsIn <= total {
		t.Fatalf("processed %d records of %d: want the aborted ones processed again", s.RecordsIn, total)
	}
	if n := inst.clientsCreated(); n != 1 {
		t.Fatalf("an abort rebuilt the client: %d clients, want 1", n)
	}
}

// TestUnknownOutcome: End returns an error, after committing or without committing. The
// processor must rebuild its client and its state from the changelog, and the output must
// still be exact.
func TestUnknownOutcome(t *testing.T) {
	for _, tt := range []struct {
		name        string
		point       string
		wantRestore bool
	}{
		{"committed", "end-after-commit", true},
		{"not committed", "end-before", false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			hook, fired := countingHook(tt.point, 3, nil, fakeFail)
			p, inst, _ := runWithFault(t, hook, fired)
			if n := inst.clientsCreated(); n != 2 {
				t.Fatalf("got %d clients, want 2 (the failed one rebuilt once)", n)
			}
			s := p.Snapshot()
			if tt.wantRestore && s.Restored == 0 {
				t.Fatalf("restored %d changelog records, want the committed transaction's (more than 0)", s.Restored)
			}
			if !tt.wantRestore && s.Restored != 0 {
				t.Fatalf("restored %d changelog records, want 0 (nothing committed that the state lacks)", s.Restored)
			}
		})
	}
}

// TestChangelogErrorRetries fails the changelog bounds lookup of the first restore: the
// client is rebuilt and the restore tried again.
func TestChangelogErrorRetries(t *testing.T) {
	var seen, fired atomic.Int32
	hook := func(pt fakePoint) fakeAction {
		if pt.Name == "changelog-bounds" && seen.Add(1) == 1 {
			fired.Add(1)
			return fakeFail
		}
		return fakeContinue
	}
	_, inst, _ := runWithFault(t, hook, &fired)
	if n := inst.clientsCreated(); n != 2 {
		t.Fatalf("got %d clients, want 2", n)
	}
}

// TestFencedStops: another incarnation with the same instance id fences this one in the
// middle of a transaction; Run must stop with model.ErrFenced and commit nothing.
func TestFencedStops(t *testing.T) {
	def := testDef(t, "fenced", true, "in")
	k := fakeFor(def, 1, fakeConfig{MaxPerTxn: 3})
	w := newWorkload(def)
	w.add(k, rand.New(rand.NewPCG(3, 3)), 20, 0)
	store := openStore(t, vfs.NewMem())
	defer store.Close()
	var once sync.Once
	var other Client
	defer func() {
		if other != nil {
			other.Close()
		}
	}()
	k.setHook(func(pt fakePoint) fakeAction {
		if pt.Name == "end-before" {
			// Another incarnation with the same instance id takes over.
			once.Do(func() {
				var err error
				if other, err = k.instance("pod-0", true).NewClient(nopAssignment{}); err != nil {
					t.Errorf("NewClient: %v", err)
				}
			})
		}
		return fakeContinue
	})
	r := start(t, def, store, k.instance("pod-0", true))
	select {
	case err := <-r.done:
		if !errors.Is(err, model.ErrFenced) {
			t.Fatalf("Run: got %v, want an error wrapping model.ErrFenced", err)
		}
	case <-time.After(10 * time.Second):
		r.cancel()
		t.Fatalf("Run did not stop after the instance was fenced")
	}
	if got := k.records(def.Output.Topic, 0); len(got) != 0 {
		t.Fatalf("a fenced transaction committed %d outputs, want 0", len(got))
	}
}

type nopAssignment struct{}

func (nopAssignment) Assigned([]int32) {}
func (nopAssignment) Revoked([]int32)  {}

// TestRevokeAssign moves partitions between two instances with their own stores while
// input keeps coming, then back: each partition's output stays exact, and an instance that
// gets a partition back restores what the other one committed meanwhile.
func TestRevokeAssign(t *testing.T) {
	def := testDef(t, "moves", true, "in")
	k := fakeFor(def, 3, fakeConfig{MaxPerPoll: 2, MaxPerTxn: 6})
	k.setTarget(map[string][]int32{"a": {0, 1, 2}})
	w := newWorkload(def)
	rng := rand.New(rand.NewPCG(11, 12))
	storeA, storeB := openStore(t, vfs.NewMem()), openStore(t, vfs.NewMem())
	defer storeA.Close()
	defer storeB.Close()
	a := start(t, def, storeA, k.instance("a", true))
	b := start(t, def, storeB, k.instance("b", true))

	steps := []map[string][]int32{
		{"a": {0, 1}, "b": {2}},
		{"a": {0}, "b": {1, 2}},
		{"a": {0, 1, 2}},
		{"b": {0, 1, 2}},
		{"a": {0, 2}, "b": {1}},
	}
	w.add(k, rng, 30, 5)
	waitConsumed(t, k, a)
	for i, target := range steps {
		setTarget(t, k, target)
		w.add(k, rng, 30, 5)
		waitConsumed(t, k, a)
		for p := range k.cfg.Partitions {
			checkStateIsChangelogPrefix(t, k, storeA, p)
			checkStateIsChangelogPrefix(t, k, storeB, p)
		}
		if t.Failed() {
			t.Fatalf("after step %d", i)
		}
	}
	if err := a.stop(t); err != nil {
		t.Fatalf("Run a: %v", err)
	}
	if err := b.stop(t); err != nil {
		t.Fatalf("Run b: %v", err)
	}
	finals := checkOutputs(t, k, w)
	// The last owners hold the final state of their partitions.
	checkState(t, storeA, map[int32]map[string]agg{0: finals[0], 2: finals[2]})
	checkState(t, storeB, map[int32]map[string]agg{1: finals[1]})
	if a.p.Snapshot().Restored == 0 || b.p.Snapshot().Restored == 0 {
		t.Fatalf("restored a=%d b=%d changelog records: want both > 0 (each got partitions back that the other had advanced)",
			a.p.Snapshot().Restored, b.p.Snapshot().Restored)
	}
}

// setTarget moves partitions and waits until the members took them.
func setTarget(t *testing.T, k *fakeKafka, target map[string][]int32) {
	t.Helper()
	k.setTarget(target)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := k.waitAssigned(ctx, target); err != nil {
		t.Fatal(err)
	}
}

// TestRevokeBetweenCycles revokes a partition from a single instance and gives it back: the
// task is dropped and restarted, with nothing to restore.
func TestRevokeBetweenCycles(t *testing.T) {
	def := testDef(t, "revoke", true, "in")
	k := fakeFor(def, 2, fakeConfig{MaxPerPoll: 2, MaxPerTxn: 4})
	k.setTarget(map[string][]int32{"a": {0, 1}})
	w := newWorkload(def)
	rng := rand.New(rand.NewPCG(5, 6))
	store := openStore(t, vfs.NewMem())
	defer store.Close()
	r := start(t, def, store, k.instance("a", true))
	w.add(k, rng, 20, 0)
	waitConsumed(t, k, r)
	setTarget(t, k, map[string][]int32{"a": {0}})
	// Partition 1 gets input nobody consumes while it is unassigned.
	for range 5 {
		w.write(k, "in", 1, genRecord(rng, 0))
		w.write(k, "in", 0, genRecord(rng, 0))
	}
	deadline := time.Now().Add(10 * time.Second)
	for k.committedOffset("in", 0) != int64(len(w.recs[topicPartition{"in", 0}])) {
		if time.Now().After(deadline) {
			t.Fatalf("partition 0 not consumed: %s", k.progress())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if k.allConsumed() {
		t.Fatalf("partition 1 was consumed while revoked: %s", k.progress())
	}
	k.setTarget(map[string][]int32{"a": {0, 1}})
	waitConsumed(t, k, r)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkState(t, store, checkOutputs(t, k, w))
	if s := r.p.Snapshot(); s.Restored != 0 {
		t.Fatalf("restored %d records, want 0 (the state of partition 1 was current)", s.Restored)
	}
}

// TestDeadLetters sends malformed records: each goes once, unchanged, with the reason and
// source headers, to the same partition of the dead-letter topic.
func TestDeadLetters(t *testing.T) {
	def := testDef(t, "dlq", true, "in")
	k := fakeFor(def, 2, fakeConfig{MaxPerPoll: 3, MaxPerTxn: 8})
	w := newWorkload(def)
	w.add(k, rand.New(rand.NewPCG(21, 22)), 120, 30)
	// One bad record of every kind, with a header to keep.
	for i, v := range []struct{ value, reason, field string }{
		{`{"card":`, ReasonDecode, ""},
		{"\xff\xfe", ReasonDecode, ""},
		{`"just a string"`, ReasonDecode, ""},
		{`{"card":"x","amount":true,"ts":1764000000000}`, ReasonSchema, "amount"},
		{`{"card":"","amount":1,"ts":1764000000000}`, ReasonSchema, "card"},
		{`{"card":"x","amount":1,"ts":-5}`, ReasonSchema, "ts"},
		{`{"card":{"a":1},"amount":1,"ts":1764000000000}`, ReasonSchema, "card"},
	} {
		w.write(k, "in", int32(i%2), inputRec{
			key: []byte(fmt.Sprintf("bad-%d", i)), value: []byte(v.value), bad: v.reason, badField: v.field,
			headers: []model.Header{{Key: "origin", Value: []byte("test")}},
			ts:      time.UnixMilli(1_764_000_000_000 + int64(i)),
		})
	}
	store := openStore(t, vfs.NewMem())
	defer store.Close()
	r := start(t, def, store, k.instance("pod-0", true))
	waitConsumed(t, k, r)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkState(t, store, checkOutputs(t, k, w))
	good, bad := w.count()
	if s := r.p.Snapshot(); s.DeadLetters != int64(bad) || s.RecordsOut != int64(good) {
		t.Fatalf("snapshot: got %d dead letters and %d outputs, want %d and %d", s.DeadLetters, s.RecordsOut, bad, good)
	}
	if bad < 20 {
		t.Fatalf("the workload has only %d bad records", bad)
	}
}

// TestAtLeastOnce runs with exactly_once false: outputs are exact without faults; with a
// failed produce the cycle's records are processed again, so nothing is lost.
func TestAtLeastOnce(t *testing.T) {
	t.Run("no faults", func(t *testing.T) {
		def := testDef(t, "alos", false, "in")
		k := fakeFor(def, 2, fakeConfig{MaxPerPoll: 3, MaxPerTxn: 7})
		w := newWorkload(def)
		w.add(k, rand.New(rand.NewPCG(31, 32)), 80, 5)
		store := openStore(t, vfs.NewMem())
		defer store.Close()
		r := start(t, def, store, k.instance("pod-0", false))
		waitConsumed(t, k, r)
		if err := r.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
		checkState(t, store, checkOutputs(t, k, w))
		for p := range k.cfg.Partitions {
			end, lso := k.endOffset(k.cfg.Changelog, p)
			if end != lso || len(k.records(k.cfg.Changelog, p)) != int(end) {
				t.Fatalf("partition %d: at-least-once changelog has markers or open records (end %d, LSO %d)", p, end, lso)
			}
			checkStateIsChangelogPrefix(t, k, store, p)
		}
	})
	t.Run("produce error", func(t *testing.T) {
		def := testDef(t, "alos", false, "in")
		k := fakeFor(def, 2, fakeConfig{MaxPerPoll: 3, MaxPerTxn: 7})
		w := newWorkload(def)
		w.add(k, rand.New(rand.NewPCG(33, 34)), 80, 0)
		hook, fired := countingHook("produce", 20, func(pt fakePoint) bool { return pt.Topic == def.Output.Topic }, fakeFail)
		k.setHook(hook)
		store := openStore(t, vfs.NewMem())
		defer store.Close()
		inst := k.instance("pod-0", false)
		r := start(t, def, store, inst)
		waitConsumed(t, k, r)
		if err := r.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
		if fired.Load() != 1 {
			t.Fatalf("fault fired %d times, want 1", fired.Load())
		}
		if n := inst.clientsCreated(); n < 2 {
			t.Fatalf("got %d clients, want the client rebuilt after the failed cycle", n)
		}
		// Every input has at least one output; some have two.
		for p := range k.cfg.Partitions {
			seen := map[int64]int{}
			for _, o := range k.records(def.Output.Topic, p) {
				src, err := outputSource(o.Value)
				if err != nil {
					t.Fatal(err)
				}
				seen[src.Offset]++
			}
			for _, rec := range w.recs[topicPartition{"in", p}] {
				if seen[rec.pos.Offset] == 0 {
					t.Fatalf("input %s has no output: lost", rec.pos)
				}
			}
		}
	})
}

// TestShutdownFinishesTransaction cancels the context in the middle of a transaction: Run
// must commit it (with a live context) and apply the state, so that a restart on the same
// store restores nothing and the output is exact.
func TestShutdownFinishesTransaction(t *testing.T) {
	def := testDef(t, "shutdown", true, "in")
	k := fakeFor(def, 2, fakeConfig{MaxPerPoll: 4, MaxPerTxn: 10})
	w := newWorkload(def)
	rng := rand.New(rand.NewPCG(41, 42))
	w.add(k, rng, 40, 5)
	fs := vfs.NewMem()
	store := openStore(t, fs)
	var rp atomic.Pointer[running]
	var cancelled atomic.Bool
	var produced atomic.Int32
	k.setHook(func(pt fakePoint) fakeAction {
		if pt.Name == "produce" && pt.Topic == def.Output.Topic && produced.Add(1) == 13 {
			cancelled.Store(true)
			for rp.Load() == nil { // start has not returned yet
				time.Sleep(time.Millisecond)
			}
			rp.Load().cancel() // mid-transaction
		}
		return fakeContinue
	})
	r := start(t, def, store, k.instance("pod-0", true))
	rp.Store(r)
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Run did not return after its context was cancelled")
	}
	if !cancelled.Load() {
		t.Fatalf("the hook never cancelled")
	}
	s := r.p.Snapshot()
	if s.Aborts != 0 {
		t.Fatalf("shutdown aborted %d transactions, want 0", s.Aborts)
	}
	// Everything polled was committed: each partition's committed offset is where its
	// outputs stop, and the outputs so far are exact.
	processed := 0
	for p := range k.cfg.Partitions {
		processed += len(k.records(def.Output.Topic, p)) + len(k.records(DeadLetterTopic(def), p))
		end, lso := k.endOffset(k.cfg.Changelog, p)
		if end != lso {
			t.Fatalf("partition %d: a transaction is still open on the changelog after Run returned", p)
		}
	}
	if int64(processed) != s.RecordsIn {
		t.Fatalf("committed %d outputs and dead letters, processed %d records: the last transaction was not committed", processed, s.RecordsIn)
	}
	k.setHook(nil)
	if err := store.Close(); err != nil {
		t.Fatalf("close store: %v", err)
	}

	// Restart on the same directory: nothing to restore.
	store = openStore(t, fs)
	defer store.Close()
	w.add(k, rng, 20, 5)
	r2 := start(t, def, store, k.instance("pod-0", true))
	waitConsumed(t, k, r2)
	if err := r2.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := r2.p.Snapshot().Restored; got != 0 {
		t.Fatalf("restart restored %d changelog records, want 0", got)
	}
	checkState(t, store, checkOutputs(t, k, w))
}

// TestRestart stops a processor cleanly and starts another on the same state directory
// (nothing to restore) or on an empty one (everything restored from the changelog).
func TestRestart(t *testing.T) {
	for _, tt := range []struct {
		name  string
		empty bool
	}{
		{"same state", false},
		{"empty state", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			def := testDef(t, "restart", true, "in")
			k := fakeFor(def, 3, fakeConfig{MaxPerPoll: 3, MaxPerTxn: 6, ChangelogChunk: 4})
			w := newWorkload(def)
			rng := rand.New(rand.NewPCG(51, 52))
			w.add(k, rng, 60, 5)
			fs := vfs.NewMem()
			store := openStore(t, fs)
			r := start(t, def, store, k.instance("pod-0", true))
			waitConsumed(t, k, r)
			if err := r.stop(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if err := store.Close(); err != nil {
				t.Fatal(err)
			}
			if tt.empty {
				fs = vfs.NewMem()
			}
			var want int64
			for p := range k.cfg.Partitions {
				want += int64(len(k.records(k.cfg.Changelog, p)))
			}
			if !tt.empty {
				want = 0
			}

			store = openStore(t, fs)
			defer store.Close()
			// Readiness is false while a partition restores.
			var rp atomic.Pointer[running]
			var readyWhileRestoring, reads atomic.Int32
			k.setHook(func(pt fakePoint) fakeAction {
				if pt.Name == "changelog-read" {
					reads.Add(1)
					for rp.Load() == nil { // start has not returned yet
						time.Sleep(time.Millisecond)
					}
					if rp.Load().p.Ready() == nil {
						readyWhileRestoring.Add(1)
					}
				}
				return fakeContinue
			})
			w.add(k, rng, 30, 5)
			r2 := start(t, def, store, k.instance("pod-0", true))
			rp.Store(r2)
			waitConsumed(t, k, r2)
			if err := r2.p.Ready(); err != nil {
				t.Fatalf("Ready after the restore: %v", err)
			}
			if err := r2.stop(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if got := r2.p.Snapshot().Restored; got != want {
				t.Fatalf("restored %d changelog records, want %d", got, want)
			}
			if n := readyWhileRestoring.Load(); n != 0 {
				t.Fatalf("Ready returned nil %d times during the restore", n)
			}
			if tt.empty && reads.Load() < 3 {
				t.Fatalf("the restore read %d chunks, want several", reads.Load())
			}
			checkState(t, store, checkOutputs(t, k, w))
			if err := r2.p.Ready(); err == nil {
				t.Fatalf("Ready after Run returned: got nil, want an error (not connected)")
			}
		})
	}
}

// TestFakeKafkaContract checks the fake itself: offsets, markers, read_committed views,
// rewinds and committed offsets.
func TestFakeKafkaContract(t *testing.T) {
	k := newFakeKafka(fakeConfig{Inputs: []string{"in"}, Output: "out", Changelog: "cl", DeadLetter: "dlq", Partitions: 1, ChangelogChunk: 2})
	for i := range 4 {
		k.appendInput("in", 0, nil, []byte{byte('a' + i)}, nil, time.Time{})
	}
	inst := k.instance("x", true)
	var events []string
	cl, err := inst.NewClient(assignFuncs{
		assigned: func(ps []int32) { events = append(events, fmt.Sprint("assigned", ps)) },
		revoked:  func(ps []int32) { events = append(events, fmt.Sprint("revoked", ps)) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx := context.Background()
	poll := func() []model.Record {
		t.Helper()
		pctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		defer cancel()
		recs, err := cl.Poll(pctx)
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatal(err)
		}
		return recs
	}
	produce := func(topic string) (off int64) {
		done := make(chan struct{})
		cl.Produce(&model.Output{Topic: topic, Value: []byte("v")}, func(o int64, err error) {
			if err != nil {
				t.Errorf("produce: %v", err)
			}
			off = o
			close(done)
		})
		<-done
		return off
	}
	if recs := poll(); len(recs) != 4 || recs[0].Offset != 0 || recs[3].Offset != 3 {
		t.Fatalf("poll: got %v, want offsets 0..3", recs)
	}
	if fmt.Sprint(events) != "[assigned[0]]" {
		t.Fatalf("events: got %v", events)
	}
	// An aborted transaction: its records take offsets but are never readable.
	if err := cl.Begin(); err != nil {
		t.Fatal(err)
	}
	if off := produce("cl"); off != 0 {
		t.Fatalf("first changelog offset: got %d, want 0", off)
	}
	if _, lso := k.endOffset("cl", 0); lso != 0 {
		t.Fatalf("LSO during the transaction: got %d, want 0", lso)
	}
	if ok, err := cl.End(ctx, false); ok || err != nil {
		t.Fatalf("End(abort): got %v %v", ok, err)
	}
	if k.committedOffset("in", 0) != 0 {
		t.Fatalf("abort committed offsets")
	}
	cl.AllowRebalance()
	if recs := poll(); len(recs) != 4 || recs[0].Offset != 0 {
		t.Fatalf("poll after abort: got %d records, want the 4 again from offset 0", len(recs))
	}
	if err := cl.Begin(); err != nil {
		t.Fatal(err)
	}
	// offset 0: aborted record, 1: abort marker.
	if a, b := produce("cl"), produce("cl"); a != 2 || b != 3 {
		t.Fatalf("changelog offsets after an abort: got %d %d, want 2 3", a, b)
	}
	if ok, err := cl.End(ctx, true); !ok || err != nil {
		t.Fatalf("End(commit): got %v %v", ok, err)
	}
	if got := k.committedOffset("in", 0); got != 4 {
		t.Fatalf("committed offset: got %d, want 4", got)
	}
	end, lso := k.endOffset("cl", 0)
	if end != 5 || lso != 5 {
		t.Fatalf("changelog end/LSO: got %d/%d, want 5/5 (2 aborted-txn offsets, 2 records, 1 marker)", end, lso)
	}
	var chunks [][]int64
	err = inst.Changelog().Read(ctx, 0, 0, 5, func(recs []model.Record) error {
		var offs []int64
		for _, r := range recs {
			offs = append(offs, r.Offset)
		}
		chunks = append(chunks, offs)
		return nil
	})
	if err != nil || fmt.Sprint(chunks) != "[[2 3]]" {
		t.Fatalf("Read: got %v %v, want [[2 3]]", chunks, err)
	}
	if lo, hi, err := inst.Changelog().Bounds(ctx, 0); lo != 0 || hi != 5 || err != nil {
		t.Fatalf("Bounds: got %d %d %v, want 0 5", lo, hi, err)
	}
	// A new incarnation fences this one.
	other, err := k.instance("x", true).NewClient(nopAssignment{})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := cl.Begin(); !errors.Is(err, model.ErrFenced) {
		t.Fatalf("Begin of a fenced client: got %v, want ErrFenced", err)
	}
}

type assignFuncs struct{ assigned, revoked func([]int32) }

func (a assignFuncs) Assigned(ps []int32) { a.assigned(ps) }
func (a assignFuncs) Revoked(ps []int32)  { a.revoked(ps) }

// compile-time checks that the fake implements the processor's interfaces.
var (
	_ Client    = (*fakeClient)(nil)
	_ Changelog = (*fakeChangelog)(nil)
)

// TestRestoreResumes fails a restore after two chunks: the rebuilt client's restore must go
// on from the first record not yet applied: no record skipped, none read twice.
func TestRestoreResumes(t *testing.T) {
	def := testDef(t, "resume", true, "in")
	k := fakeFor(def, 1, fakeConfig{ChangelogChunk: 2})
	w := newWorkload(def)
	rng := rand.New(rand.NewPCG(61, 62))
	// Distinct keys in one transaction: the changelog is 20 consecutive records, and a
	// record skipped by the restore leaves its key missing.
	for i := range 20 {
		r := genRecord(rng, 0)
		r.aggKey = fmt.Sprintf("u-%02d", i)
		r.key = []byte(r.aggKey)
		r.value = fmt.Appendf(nil, `{"card":%q,"amount":%s,"ts":%d}`, r.aggKey, fmtFloat(r.amount), r.eventTime)
		w.write(k, "in", 0, r)
	}
	first := openStore(t, vfs.NewMem())
	r1 := start(t, def, first, k.instance("pod-0", true))
	waitConsumed(t, k, r1)
	if err := r1.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	first.Close()
	if n := len(k.records(k.cfg.Changelog, 0)); n != 20 {
		t.Fatalf("changelog has %d records, want 20 (one transaction)", n)
	}

	var mu sync.Mutex
	var starts []int64 // first offset of each Read call
	var failedAt int64 = -1
	k.setHook(func(pt fakePoint) fakeAction {
		if pt.Name != "changelog-read" {
			return fakeContinue
		}
		mu.Lock()
		defer mu.Unlock()
		if pt.Chunk == 0 {
			starts = append(starts, pt.Offset)
		}
		if len(starts) == 1 && pt.Chunk == 2 {
			failedAt = pt.Offset
			return fakeFail
		}
		return fakeContinue
	})
	store := openStore(t, vfs.NewMem()) // empty: restore everything
	defer store.Close()
	w.write(k, "in", 0, genRecord(rng, 0))
	inst := k.instance("pod-0", true)
	r2 := start(t, def, store, inst)
	waitConsumed(t, k, r2)
	if err := r2.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(starts) != 2 || failedAt < 0 || starts[1] != failedAt {
		t.Fatalf("restore reads started at offsets %v, the first failed at chunk offset %d: want a second read starting exactly there", starts, failedAt)
	}
	if n := inst.clientsCreated(); n != 2 {
		t.Fatalf("got %d clients, want 2", n)
	}
	checkState(t, store, checkOutputs(t, k, w))
}

// TestStateAheadOfChangelog runs on a store whose state came from another Kafka (the
// changelog was recreated): the state is ahead of the changelog's end, so the partition is
// wiped and counted from nothing.
func TestStateAheadOfChangelog(t *testing.T) {
	def := testDef(t, "ahead", true, "in")
	fs := vfs.NewMem()
	rng := rand.New(rand.NewPCG(71, 72))
	run := func(k *fakeKafka) *Processor {
		t.Helper()
		store := openStore(t, fs)
		defer store.Close()
		r := start(t, def, store, k.instance("pod-0", true))
		waitConsumed(t, k, r)
		if err := r.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
		return r.p
	}
	old := fakeFor(def, 2, fakeConfig{MaxPerTxn: 5})
	newWorkload(def).add(old, rng, 40, 0)
	run(old)

	k := fakeFor(def, 2, fakeConfig{MaxPerTxn: 5})
	w := newWorkload(def)
	w.add(k, rng, 40, 0)
	p := run(k)
	if s := p.Snapshot(); s.Restored != 0 {
		t.Fatalf("restored %d records from an empty changelog", s.Restored)
	}
	store := openStore(t, fs)
	defer store.Close()
	checkState(t, store, checkOutputs(t, k, w))
}
