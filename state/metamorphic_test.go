package state

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// TestMetamorphic is T5 (state-metamorphic): random operation sequences on the state API run
// against the Store under several Pebble option sets and against an in-memory map model.
// Every operation's result goes into a history; the histories must be identical. The seed
// is logged; -seed reproduces a run.
func TestMetamorphic(t *testing.T) {
	seed, fixed := baseSeed(t)
	runs, nOps := 3, 500
	if testing.Short() {
		runs, nOps = 1, 300
	}
	if fixed {
		runs = 1
	}
	sets := 0
	for i := range uint64(runs) {
		seed := seed + i
		ops, want := generateOps(seed, nOps)
		for _, set := range optionSets(seed) {
			sets++
			t.Run(fmt.Sprintf("seed=%d/%s", seed, set.name), func(t *testing.T) {
				got := runOps(t, set.tune, ops)
				compareHistories(t, seed, set.name, ops, got, want)
			})
		}
	}
	if !t.Failed() {
		t.Logf("T5: seed=%d sequences=%d ops=%d runs=%d identical_histories=true", seed, runs, nOps, sets)
	}
}

type optionSet struct {
	name string
	tune func(*pebble.Options)
}

// optionSets returns the Pebble configurations every sequence runs under: defaults, then
// settings that force the paths a default store rarely takes with this little data
// (flushes, L0 pile-ups, compactions, cache misses, value separation), and one drawn from the
// seed.
func optionSets(seed uint64) []optionSet {
	rng := newRand(seed ^ 0x5eed)
	memTable := uint64(32<<10 + rng.IntN(256<<10))
	block := 64 + rng.IntN(4096)
	l0 := 1 + rng.IntN(8)
	return []optionSet{
		{"default", nil},
		{"tiny-memtable", func(o *pebble.Options) {
			o.MemTableSize = 32 << 10 // most commits flush; large values become flushable batches
			o.L0CompactionThreshold = 1
			o.L0CompactionFileThreshold = 1
			o.LBaseMaxBytes = 64 << 10
		}},
		{"small-cache-small-blocks", func(o *pebble.Options) {
			o.CacheSize = 32 << 10
			o.MemTableSize = 64 << 10
			for i := range o.Levels {
				o.Levels[i].BlockSize = 128
				o.Levels[i].IndexBlockSize = 256
			}
		}},
		{"l0-pileup", func(o *pebble.Options) {
			o.MemTableSize = 64 << 10
			o.L0CompactionThreshold = 50
			o.L0StopWritesThreshold = 1000
			o.MemTableStopWritesThreshold = 8
		}},
		{"value-separation", func(o *pebble.Options) {
			o.MemTableSize = 64 << 10
			o.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy {
				return pebble.ValueSeparationPolicy{Enabled: true, MinimumSize: 32, MaxBlobReferenceDepth: 3, TargetGarbageRatio: 0.1}
			}
		}},
		{fmt.Sprintf("random-mem%d-block%d-l0%d", memTable, block, l0), func(o *pebble.Options) {
			o.MemTableSize = memTable
			o.L0CompactionThreshold = l0
			o.L0StopWritesThreshold = l0 * 4
			o.CompactionConcurrencyRange = func() (int, int) { return 1, 3 }
			for i := range o.Levels {
				o.Levels[i].BlockSize = block
			}
		}},
	}
}

// mop is one metamorphic operation. Batch operations name a slot (up to nSlots batches are
// open at once, on any partitions, including the same one).
type mop struct {
	kind    string
	slot    int
	p       int32
	key     []byte
	value   []byte
	applied Applied
	entries []ChangelogEntry
}

const nSlots = 3

func (o mop) String() string {
	switch o.kind {
	case "new":
		return fmt.Sprintf("b%d = NewBatch(%d)", o.slot, o.p)
	case "set":
		return fmt.Sprintf("b%d.Set(%q, %s)", o.slot, o.key, short(o.value))
	case "delete", "get":
		return fmt.Sprintf("b%d.%s(%q)", o.slot, o.kind, o.key)
	case "changes", "close":
		return fmt.Sprintf("b%d.%s()", o.slot, o.kind)
	case "commit":
		return fmt.Sprintf("b%d.Commit(%s)", o.slot, fmtApplied(o.applied))
	case "restore":
		var b strings.Builder
		for _, e := range o.entries {
			fmt.Fprintf(&b, " %d:%q=%s", e.Offset, e.Key, fmtValue(e.Value))
		}
		return fmt.Sprintf("Restore(%d,%s)", o.p, b.String())
	case "wipe", "scan", "applied":
		return fmt.Sprintf("%s(%d)", o.kind, o.p)
	}
	return o.kind // partitions, reopen, flush, compact
}

// generateOps draws n operations from seed and returns them with the model's history.
func generateOps(seed uint64, n int) ([]mop, []string) {
	rng := newRand(seed)
	m := newModel()
	ops := make([]mop, 0, n)
	hist := make([]string, 0, n)
	partitions := []int32{0, 1, 2, 7, 1000}
	topics := []string{"orders", "payments", "clicks"}
	for len(ops) < n {
		var o mop
		o.slot = rng.IntN(nSlots)
		o.p = partitions[rng.IntN(len(partitions))]
		sl := m.slots[o.slot]
		switch r := rng.IntN(100); {
		case sl == nil || sl.done && r < 60:
			o.kind = "new"
		case r < 30:
			o.kind, o.key, o.value = "set", randKey(rng), randValue(rng)
		case r < 38:
			o.kind, o.key = "delete", randKey(rng)
		case r < 55:
			o.kind, o.key = "get", randKey(rng)
		case r < 58:
			o.kind = "changes"
		case r < 66:
			o.kind = "commit"
			o.applied = Applied{Input: map[string]int64{}, Changelog: rng.Int64N(1000)}
			for _, tp := range topics[:rng.IntN(len(topics)+1)] {
				o.applied.Input[tp] = rng.Int64N(1 << 40)
			}
			if rng.IntN(20) == 0 {
				o.applied.Changelog = -1 // refused; the batch stays open
			}
		case r < 70:
			o.kind = "close"
		case r < 76:
			o.kind = "restore"
			o.entries = randEntries(rng, m.meta[o.p].Changelog)
		case r < 79:
			o.kind = "wipe"
		case r < 85:
			o.kind = "scan"
		case r < 90:
			o.kind = "applied"
		case r < 92:
			o.kind = "partitions"
		case r < 94:
			o.kind = "reopen"
		case r < 97:
			o.kind = "flush"
		default:
			o.kind = "compact"
		}
		ops = append(ops, o)
		hist = append(hist, m.apply(o))
	}
	return ops, hist
}

func randKey(rng *rand.Rand) []byte {
	switch rng.IntN(20) {
	case 0:
		return []byte{}
	case 1:
		return []byte{0, 0, 0, 1, 0} // looks like a metadata key
	case 2:
		return []byte{0xff, 0xff}
	}
	return fmt.Appendf(nil, "k%02d", rng.IntN(24))
}

func randValue(rng *rand.Rand) []byte {
	var n int
	switch rng.IntN(20) {
	case 0:
		n = 0
	case 1:
		n = 16<<10 + rng.IntN(64<<10) // larger than the tiny memtables
	default:
		n = 1 + rng.IntN(200)
	}
	v := make([]byte, n)
	for i := range v {
		v[i] = byte('a' + rng.IntN(26))
	}
	return v
}

// randEntries draws a restore starting at or after from, sometimes one that Restore must
// refuse (an entry below from, or offsets that do not increase).
func randEntries(rng *rand.Rand, from int64) []ChangelogEntry {
	n := rng.IntN(8)
	off := from + rng.Int64N(3)
	es := make([]ChangelogEntry, 0, n)
	for range n {
		e := ChangelogEntry{Key: randKey(rng), Offset: off}
		if rng.IntN(4) > 0 {
			e.Value = randValue(rng)
		}
		es = append(es, e)
		off += 1 + rng.Int64N(3)
	}
	if n > 0 && rng.IntN(15) == 0 {
		if from > 0 {
			es[0].Offset = from - 1
		} else if n > 1 {
			es[1].Offset = es[0].Offset
		}
	}
	return es
}

// model is the in-memory reference of the Store.
type model struct {
	data  map[int32]map[string]string
	meta  map[int32]Applied
	slots [nSlots]*modelBatch
}

type modelBatch struct {
	p       int32
	writes  map[string]*string // nil: deleted
	changes []string
	done    bool
}

func newModel() *model {
	return &model{data: map[int32]map[string]string{}, meta: map[int32]Applied{}}
}

func (m *model) apply(o mop) string {
	sl := m.slots[o.slot]
	if isBatchOp(o.kind) && o.kind != "new" && sl.done {
		if o.kind == "close" || o.kind == "changes" {
			return m.batchOp(o, sl)
		}
		return "err batch-done"
	}
	switch o.kind {
	case "new":
		m.slots[o.slot] = &modelBatch{p: o.p, writes: map[string]*string{}}
		return "ok"
	case "set", "delete", "get", "changes", "commit", "close":
		return m.batchOp(o, sl)
	case "restore":
		if len(o.entries) == 0 {
			return "ok"
		}
		cur, ok := m.meta[o.p]
		prev := int64(-1)
		if ok {
			prev = cur.Changelog - 1
		}
		for _, e := range o.entries {
			if e.Offset <= prev {
				return "err restore-order"
			}
			prev = e.Offset
		}
		d := m.partition(o.p)
		for _, e := range o.entries {
			if e.Value == nil {
				delete(d, string(e.Key))
			} else {
				d[string(e.Key)] = string(e.Value)
			}
		}
		m.meta[o.p] = Applied{Input: cur.Input, Changelog: prev + 1}
		return "ok"
	case "wipe":
		delete(m.data, o.p)
		delete(m.meta, o.p)
		return "ok"
	case "scan":
		return fmtState(m.data[o.p])
	case "applied":
		a, ok := m.meta[o.p]
		if !ok {
			return "<none>"
		}
		return fmtApplied(a)
	case "partitions":
		return fmt.Sprint(slices.Sorted(maps.Keys(m.meta)))
	case "reopen":
		m.slots = [nSlots]*modelBatch{}
		return "ok"
	case "flush", "compact":
		return "ok"
	}
	panic("unknown op " + o.kind)
}

func (m *model) batchOp(o mop, b *modelBatch) string {
	switch o.kind {
	case "set":
		v := string(o.value)
		b.writes[string(o.key)] = &v
		b.changes = append(b.changes, fmt.Sprintf("%q=%s", o.key, short(o.value)))
		return "ok"
	case "delete":
		b.writes[string(o.key)] = nil
		b.changes = append(b.changes, fmt.Sprintf("%q=<del>", o.key))
		return "ok"
	case "get":
		v, ok := b.writes[string(o.key)]
		if ok {
			if v == nil {
				return "<none>"
			}
			return short([]byte(*v))
		}
		if cv, ok := m.data[b.p][string(o.key)]; ok {
			return short([]byte(cv))
		}
		return "<none>"
	case "changes":
		return strings.Join(b.changes, " ")
	case "commit":
		if validateApplied(o.applied) != nil {
			return "err invalid-applied"
		}
		d := m.partition(b.p)
		for k, v := range b.writes {
			if v == nil {
				delete(d, k)
			} else {
				d[k] = *v
			}
		}
		m.meta[b.p] = o.applied
		b.done = true
		return "ok"
	case "close":
		b.done = true
		return "ok"
	}
	panic("unknown batch op " + o.kind)
}

func (m *model) partition(p int32) map[string]string {
	d, ok := m.data[p]
	if !ok {
		d = map[string]string{}
		m.data[p] = d
	}
	return d
}

func isBatchOp(kind string) bool {
	switch kind {
	case "new", "set", "delete", "get", "changes", "commit", "close":
		return true
	}
	return false
}

// runOps runs ops on a fresh Store with the given tuning and returns its history.
func runOps(t *testing.T, tune func(*pebble.Options), ops []mop) []string {
	fs := vfs.NewMem()
	opts := Options{FS: fs, tune: tune}
	s, err := Open("db", opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer func() {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	}()
	var slots [nSlots]*Batch
	hist := make([]string, 0, len(ops))
	for _, o := range ops {
		var res string
		b := slots[o.slot]
		switch o.kind {
		case "new":
			if b != nil {
				b.Close()
			}
			slots[o.slot] = s.NewBatch(o.p)
			res = "ok"
		case "set":
			res = errResult(b.Set(o.key, o.value))
		case "delete":
			res = errResult(b.Delete(o.key))
		case "get":
			v, ok, err := b.Get(o.key)
			switch {
			case err != nil:
				res = errResult(err)
			case !ok:
				res = "<none>"
			default:
				res = short(v)
			}
		case "changes":
			var parts []string
			for _, c := range b.Changes() {
				if c.Value == nil {
					parts = append(parts, fmt.Sprintf("%q=<del>", c.Key))
				} else {
					parts = append(parts, fmt.Sprintf("%q=%s", c.Key, short(c.Value)))
				}
			}
			res = strings.Join(parts, " ")
		case "commit":
			res = errResult(b.Commit(o.applied))
		case "close":
			b.Close()
			res = "ok"
		case "restore":
			res = errResult(s.Restore(o.p, o.entries))
		case "wipe":
			res = errResult(s.Wipe(o.p))
		case "scan":
			st := map[string]string{}
			err := s.Scan(o.p, func(k, v []byte) error { st[string(k)] = string(v); return nil })
			res = fmtState(st)
			if err != nil {
				res = errResult(err)
			}
		case "applied":
			a, ok, err := s.Applied(o.p)
			switch {
			case err != nil:
				res = errResult(err)
			case !ok:
				res = "<none>"
			default:
				res = fmtApplied(a)
			}
		case "partitions":
			ps, err := s.Partitions()
			res = fmt.Sprint(ps)
			if err != nil {
				res = errResult(err)
			}
			if ps == nil && err == nil {
				res = "[]"
			}
		case "reopen":
			for i, b := range slots {
				if b != nil {
					b.Close()
				}
				slots[i] = nil
			}
			if err := s.Close(); err != nil {
				t.Fatalf("reopen: Close: %v", err)
			}
			if s, err = Open("db", opts); err != nil {
				t.Fatalf("reopen: Open: %v", err)
			}
			res = "ok"
		case "flush":
			res = errResult(s.db.Flush())
		case "compact":
			res = errResult(s.db.Compact(context.Background(), []byte{0}, []byte{0xff, 0xff}, false))
		}
		hist = append(hist, res)
	}
	for _, b := range slots {
		if b != nil {
			b.Close()
		}
	}
	return hist
}

func compareHistories(t *testing.T, seed uint64, set string, ops []mop, got, want []string) {
	t.Helper()
	for i := range want {
		if got[i] == want[i] {
			continue
		}
		var ctx strings.Builder
		for j := max(0, i-12); j <= i; j++ {
			fmt.Fprintf(&ctx, "\n  %4d %v -> %s", j, ops[j], want[j])
		}
		t.Fatalf("seed %d, option set %s: histories differ at op %d: %v\n  got  %s\n  want %s\nops leading here (model results):%s\nreproduce: go test ./state -run 'TestMetamorphic' -seed %d",
			seed, set, i, ops[i], got[i], want[i], ctx.String(), seed)
	}
}

// errResult renders an error for the history: the sentinels the model predicts by name,
// anything else verbatim (which never matches the model).
func errResult(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrRestoreOrder):
		return "err restore-order"
	case errors.Is(err, ErrInvalidApplied):
		return "err invalid-applied"
	case errors.Is(err, ErrBatchDone):
		return "err batch-done"
	}
	return "unexpected error: " + err.Error()
}

func fmtState(m map[string]string) string {
	var b strings.Builder
	b.WriteString("{")
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, "%q=%s ", k, short([]byte(m[k])))
	}
	b.WriteString("}")
	return b.String()
}

func fmtApplied(a Applied) string {
	var b strings.Builder
	fmt.Fprintf(&b, "changelog=%d", a.Changelog)
	for _, k := range slices.Sorted(maps.Keys(a.Input)) {
		fmt.Fprintf(&b, " %s=%d", k, a.Input[k])
	}
	return b.String()
}

func fmtValue(v []byte) string {
	if v == nil {
		return "<del>"
	}
	return short(v)
}

// short renders a value compactly: long values by length and a checksum-like digest.
func short(v []byte) string {
	if len(v) <= 24 {
		return fmt.Sprintf("%q", v)
	}
	var h uint32 = 2166136261
	for _, c := range v {
		h = (h ^ uint32(c)) * 16777619
	}
	return fmt.Sprintf("%q...(%d bytes, fnv %08x)", v[:8], len(v), h)
}
