package processor

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/state"
)

const dedupHorizon = 100 * time.Second

func dedupDef(t testing.TB, name string, policy pipeline.Policy) *pipeline.Definition {
	t.Helper()
	def := testDef(t, name, true, "in")
	def.Input.Dedup = &pipeline.Dedup{Field: "id", Horizon: dedupHorizon}
	def.OnError.Duplicate = policy
	if err := def.Validate(); err != nil {
		t.Fatal(err)
	}
	return def
}

// dedupModel is the specification of deduplication, per partition, with no expiry: a map
// of every id ever seen.
type dedupModel struct {
	clock   int64
	seen    bool
	first   map[string]int64
	history []dedupEvent // every record offered, in order
}

type dedupEvent struct {
	id string
	t  int64
}

// offer reports whether a record is a duplicate, and remembers it when it is not.
func (m *dedupModel) offer(id string, t int64) bool {
	if !m.seen || t > m.clock {
		m.clock, m.seen = t, true
	}
	cutoff := m.clock - dedupHorizon.Milliseconds()
	if t < cutoff {
		return false
	}
	if at, ok := m.first[id]; ok && at >= cutoff {
		return true
	}
	m.first[id] = t
	return false
}

// dedupStream writes n records to each partition: new events about a second apart, copies
// (some out of order), copies of recent ones (duplicates), copies of events older than the horizon (not recognised),
// and ids used again long after their first use (new events).
func dedupStream(k *fakeKafka, w *workload, rng *rand.Rand, models map[int32]*dedupModel, n int, field string) (dups int) {
	for p := range k.cfg.Partitions {
		m := models[p]
		if m.first == nil {
			m.first = map[string]int64{}
		}
		for range n {
			var id string
			var t int64
			h := m.history
			switch x := rng.IntN(100); {
			case x < 20 && len(h) > 0: // a copy of a recent event, of the last 30
				e := h[len(h)-1-rng.IntN(min(30, len(h)))]
				id, t = e.id, e.t
			case x < 25 && len(h) > 200: // a copy of an event older than the horizon, likely
				e := h[rng.IntN(len(h)-150)]
				id, t = e.id, e.t
			case x < 30 && len(h) > 200: // an id first used just over a horizon ago, for a new event
				id, t = h[len(h)-100-rng.IntN(40)].id, m.clock+rng.Int64N(2000)
			default: // a new event, out of order by up to 5 s
				t = m.clock + 1000
				if rng.IntN(5) == 0 {
					t = m.clock - rng.Int64N(5000)
				}
				if !m.seen {
					t = ts0
				}
				id = fmt.Sprintf("e-%d-%d", p, len(h))
			}
			m.history = append(m.history, dedupEvent{id, t})
			amount := float64(rng.IntN(1000)) / 10
			r := inputRec{
				key:   []byte("card-1"),
				value: fmt.Appendf(nil, `{"card":"card-1","amount":%g,"ts":%d,"id":%q}`, amount, t, id),
				ts:    time.UnixMilli(t),
			}
			if m.offer(id, t) {
				r.bad, r.badField = ReasonDuplicate, field
				dups++
			} else {
				r.aggKey, r.amount, r.eventTime = "card-1", amount, t
			}
			w.write(k, "in", p, r)
		}
	}
	return dups
}

// TestDedup runs a stream with duplicates through three incarnations of the processor, the
// second on an empty store (its state restored from the changelog): exactly the duplicates
// go to the dead-letter topic, with the event id's field, the good records' outputs are
// exact, the metric counts the duplicates, and the ids out of the horizon are deleted.
func TestDedup(t *testing.T) {
	def := dedupDef(t, "dedup", pipeline.PolicyDLQ)
	k := fakeFor(def, 2, fakeConfig{MaxPerPoll: 7, MaxPerTxn: 40})
	w := newWorkload(def)
	rng := rand.New(rand.NewPCG(7, 8))
	models := map[int32]*dedupModel{0: {}, 1: {}}
	dups := 0
	var last *running
	var lastStore *state.Store
	var reg *prometheus.Registry
	for i, fresh := range []bool{true, true, false} {
		dups += dedupStream(k, w, rng, models, 400, "id")
		if fresh {
			if lastStore != nil {
				lastStore.Close()
			}
			lastStore = openStore(t, vfs.NewMem())
		}
		reg = prometheus.NewRegistry()
		last = startConfig(t, def, lastStore, k.instance(fmt.Sprintf("pod-%d", i), true), func(c *Config) { c.Registerer = reg })
		waitConsumed(t, k, last)
		if err := last.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
	}
	defer lastStore.Close()
	if dups < 100 {
		t.Fatalf("the stream has %d duplicates; want a test with more", dups)
	}
	checkOutputs(t, k, w)

	// The last incarnation counted the duplicates of the last third.
	var lastDups int
	for p := range int32(2) {
		for _, r := range w.recs[topicPartition{"in", p}][800:] {
			if r.bad == ReasonDuplicate {
				lastDups++
			}
		}
	}
	if got := testutil.ToFloat64(last.p.metrics.duplicates.WithLabelValues("in")); int(got) != lastDups {
		t.Errorf("kappa_processor_duplicates_total: got %v, want %d", got, lastDups)
	}

	// Expiry: the state holds the ids of about a horizon of event time, not all of them.
	for p := range int32(2) {
		ids, index := 0, 0
		err := lastStore.Scan(p, func(key, _ []byte) error {
			switch {
			case bytes.HasPrefix(key, []byte{dedupPrefix, dedupIDTag}):
				ids++
			case bytes.HasPrefix(key, []byte{dedupPrefix, dedupTimeTag}):
				index++
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		m := models[p]
		live := 0
		for _, at := range m.first {
			if at >= m.clock-dedupHorizon.Milliseconds() {
				live++
			}
		}
		// The last transaction's records may add ids after the last expiry; with 40
		// records a transaction, at most that many.
		if ids < live || ids > live+40 || index != ids {
			t.Errorf("partition %d: state holds %d ids and %d expiry keys; want %d to %d of each (the ids within the horizon), of %d ids seen",
				p, ids, index, live, live+40, len(m.first))
		}
	}
}

// TestDedupPolicies: skip drops duplicates and counts them; fail stops at the first one
// with an error naming it, before committing it.
func TestDedupPolicies(t *testing.T) {
	t.Run("skip", func(t *testing.T) {
		def := dedupDef(t, "dedup-skip", "") // the default
		k := fakeFor(def, 1, fakeConfig{MaxPerPoll: 5, MaxPerTxn: 20})
		w := newWorkload(def)
		dups := dedupStream(k, w, rand.New(rand.NewPCG(1, 2)), map[int32]*dedupModel{0: {}}, 300, "id")
		// Skipped duplicates have no dead letter: drop them from what the check expects.
		for tp, rs := range w.recs {
			good := rs[:0]
			for _, r := range rs {
				if r.bad == "" {
					good = append(good, r)
				}
			}
			w.recs[tp] = good
		}
		store := openStore(t, vfs.NewMem())
		defer store.Close()
		r := start(t, def, store, k.instance("pod-0", true))
		waitConsumed(t, k, r)
		if err := r.stop(t); err != nil {
			t.Fatalf("Run: %v", err)
		}
		checkOutputs(t, k, w)
		if got := testutil.ToFloat64(r.p.metrics.skipped.WithLabelValues(ReasonDuplicate)); int(got) != dups {
			t.Errorf("skipped{reason=duplicate}: got %v, want %d", got, dups)
		}
		if got := testutil.ToFloat64(r.p.metrics.duplicates.WithLabelValues("in")); int(got) != dups {
			t.Errorf("duplicates: got %v, want %d", got, dups)
		}
	})
	t.Run("fail", func(t *testing.T) {
		def := dedupDef(t, "dedup-fail", pipeline.PolicyFail)
		k := fakeFor(def, 1, fakeConfig{})
		w := newWorkload(def)
		for i, id := range []string{"a", "b", "a"} {
			w.write(k, "in", 0, inputRec{
				key: []byte("card-1"), ts: time.UnixMilli(ts0),
				value: fmt.Appendf(nil, `{"card":"card-1","amount":1,"ts":%d,"id":%q}`, ts0+int64(i), id),
			})
		}
		store := openStore(t, vfs.NewMem())
		defer store.Close()
		r := start(t, def, store, k.instance("pod-0", true))
		var err error
		select {
		case err = <-r.done:
		case <-time.After(20 * time.Second):
			t.Fatal("Run did not stop at the duplicate")
		}
		var re *RecordError
		if !errors.As(err, &re) || re.Position.Offset != 2 || re.Err.Reason != ReasonDuplicate {
			t.Fatalf("Run: got %v, want a RecordError at offset 2 for a duplicate", err)
		}
		if msg := err.Error(); !strings.Contains(msg, `event id "a" was already seen`) || !strings.Contains(msg, "on_error.duplicate") {
			t.Errorf("error: got %q, want it to name the id and on_error.duplicate", msg)
		}
		if got := k.records(def.Output.Topic, 0); len(got) != 0 {
			t.Errorf("outputs: got %d committed, want none (the transaction holding the duplicate aborts)", len(got))
		}
	})
}

// BenchmarkDedup measures the dedup check of one record against Pebble on disk: a new id one
// millisecond after the previous one (a 60-second horizon holds 60,000 ids), committed every
// 10,000 records with the expiry of the ids the clock put out of the horizon.
func BenchmarkDedup(b *testing.B) {
	// The default cache and memtables, as kappa run has them.
	store, err := state.Open(b.TempDir(), state.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	d := &deduper{field: "id", horizon: 60_000}
	tk := &task{p: &Processor{cfg: Config{Store: store}}, partition: 0}
	var ev event
	var n, changelog int64
	commit := func() {
		if err := tk.flushDedup(d); err != nil {
			b.Fatal(err)
		}
		changelog += int64(len(tk.batch.Changes()))
		if err := tk.batch.Commit(state.Applied{Input: map[string]int64{"in": n}, Changelog: changelog}); err != nil {
			b.Fatal(err)
		}
		tk.batch = nil
	}
	b.ReportAllocs()
	for b.Loop() {
		if tk.batch == nil {
			tk.batch = store.NewBatch(0)
		}
		ev.eventTime = ts0 + n
		ev.id = fmt.Appendf(ev.id[:0], "e-%d", n)
		if dup, _, err := tk.duplicate(d, &ev); err != nil || dup {
			b.Fatalf("record %d: duplicate %v, error %v", n, dup, err)
		}
		n++
		if n%10_000 == 0 {
			commit()
		}
	}
	if tk.batch != nil {
		commit()
	}
}
