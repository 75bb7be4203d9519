package state

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math"
	"path"
	"slices"
	"strings"
	"testing"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"
)

// openMem opens a store in "db" on fs, closing it when the test ends unless the test closed
// it already.
func openMem(t testing.TB, fs vfs.FS) *Store {
	t.Helper()
	s, err := Open("db", Options{FS: fs})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return s
}

// commit commits kv (a nil value deletes) into partition p with the given applied position.
func commit(t testing.TB, s *Store, p int32, a Applied, kv ...string) {
	t.Helper()
	b := s.NewBatch(p)
	defer b.Close()
	for i := 0; i < len(kv); i += 2 {
		var err error
		if kv[i+1] == "<del>" {
			err = b.Delete([]byte(kv[i]))
		} else {
			err = b.Set([]byte(kv[i]), []byte(kv[i+1]))
		}
		if err != nil {
			t.Fatalf("partition %d: write %q: %v", p, kv[i], err)
		}
	}
	if err := b.Commit(a); err != nil {
		t.Fatalf("partition %d: Commit: %v", p, err)
	}
}

// scan returns partition p's committed state as a map.
func scan(t testing.TB, s *Store, p int32) map[string]string {
	t.Helper()
	m := map[string]string{}
	var prev []byte
	err := s.Scan(p, func(k, v []byte) error {
		if prev != nil && bytes.Compare(prev, k) >= 0 {
			t.Errorf("partition %d: Scan: key %q after %q, want ascending order", p, k, prev)
		}
		prev = append(prev[:0], k...)
		m[string(k)] = string(v)
		return nil
	})
	if err != nil {
		t.Fatalf("partition %d: Scan: %v", p, err)
	}
	return m
}

func applied(t testing.TB, s *Store, p int32) (Applied, bool) {
	t.Helper()
	a, ok, err := s.Applied(p)
	if err != nil {
		t.Fatalf("partition %d: Applied: %v", p, err)
	}
	return a, ok
}

func equalApplied(a, b Applied) bool {
	return a.Changelog == b.Changelog && maps.Equal(a.Input, b.Input)
}

func TestBatchReadYourWrites(t *testing.T) {
	type get struct {
		key  string
		want string // "<none>" when the key must have no value
	}
	tests := []struct {
		name      string
		committed []string // key, value pairs committed before the batch
		ops       []string // key, value pairs; value "<del>" deletes
		gets      []get
	}{
		{name: "empty store", gets: []get{{"a", "<none>"}}},
		{name: "own set", ops: []string{"a", "1"}, gets: []get{{"a", "1"}, {"b", "<none>"}}},
		{name: "committed value", committed: []string{"a", "old"}, gets: []get{{"a", "old"}}},
		{name: "set over committed", committed: []string{"a", "old"}, ops: []string{"a", "new"}, gets: []get{{"a", "new"}}},
		{name: "delete committed", committed: []string{"a", "old"}, ops: []string{"a", "<del>"}, gets: []get{{"a", "<none>"}}},
		{name: "set after delete", committed: []string{"a", "old"}, ops: []string{"a", "<del>", "a", "again"}, gets: []get{{"a", "again"}}},
		{name: "last set wins", ops: []string{"a", "1", "a", "2", "a", "3"}, gets: []get{{"a", "3"}}},
		{name: "empty value", ops: []string{"a", ""}, gets: []get{{"a", ""}}},
		{name: "empty key", ops: []string{"", "v"}, gets: []get{{"", "v"}, {"a", "<none>"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openMem(t, vfs.NewMem())
			if tt.committed != nil {
				commit(t, s, 3, Applied{Changelog: 1}, tt.committed...)
			}
			b := s.NewBatch(3)
			defer b.Close()
			for i := 0; i < len(tt.ops); i += 2 {
				var err error
				if tt.ops[i+1] == "<del>" {
					err = b.Delete([]byte(tt.ops[i]))
				} else {
					err = b.Set([]byte(tt.ops[i]), []byte(tt.ops[i+1]))
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			for _, g := range tt.gets {
				v, ok, err := b.Get([]byte(g.key))
				if err != nil {
					t.Fatalf("Get(%q): %v", g.key, err)
				}
				got := string(v)
				if !ok {
					got = "<none>"
				}
				if got != g.want {
					t.Errorf("Get(%q): got %q, want %q", g.key, got, g.want)
				}
				if ok && v == nil {
					t.Errorf("Get(%q): got a nil value with ok, want a non-nil (possibly empty) slice", g.key)
				}
			}
		})
	}
}

func TestBatchGetReturnsCopy(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	b := s.NewBatch(0)
	defer b.Close()
	val := []byte("value")
	if err := b.Set([]byte("k"), val); err != nil {
		t.Fatal(err)
	}
	val[0] = 'X' // the batch copied it
	v, _, err := b.Get([]byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	v[0] = 'Y' // the caller owns it
	v2, _, err := b.Get([]byte("k"))
	if err != nil {
		t.Fatal(err)
	}
	if string(v2) != "value" {
		t.Errorf("Get after mutating the inputs and a returned value: got %q, want %q", v2, "value")
	}
}

func TestBatchChanges(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	b := s.NewBatch(0)
	defer b.Close()
	key, val := []byte("k1"), []byte("v1")
	mustNil(t, b.Set(key, val))
	key[1], val[1] = '9', '9' // Changes must hold copies
	mustNil(t, b.Delete([]byte("k2")))
	mustNil(t, b.Set([]byte("k3"), nil))
	mustNil(t, b.Set([]byte("k1"), []byte("v1b")))

	want := []ChangelogEntry{
		{Key: []byte("k1"), Value: []byte("v1")},
		{Key: []byte("k2"), Value: nil},
		{Key: []byte("k3"), Value: []byte{}},
		{Key: []byte("k1"), Value: []byte("v1b")},
	}
	check := func(when string) {
		t.Helper()
		got := b.Changes()
		if len(got) != len(want) {
			t.Fatalf("%s: got %d changes, want %d", when, len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if !bytes.Equal(g.Key, w.Key) || !bytes.Equal(g.Value, w.Value) || (g.Value == nil) != (w.Value == nil) || g.Offset != 0 {
				t.Errorf("%s: change %d: got {%q %q tombstone=%v offset=%d}, want {%q %q tombstone=%v offset=0}",
					when, i, g.Key, g.Value, g.Value == nil, g.Offset, w.Key, w.Value, w.Value == nil)
			}
		}
	}
	check("before Commit")
	mustNil(t, b.Commit(Applied{Changelog: 4}))
	check("after Commit")
}

func TestBatchCloseDiscards(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	commit(t, s, 1, Applied{Input: map[string]int64{"in": 5}, Changelog: 2}, "a", "1")

	b := s.NewBatch(1)
	mustNil(t, b.Set([]byte("a"), []byte("2")))
	mustNil(t, b.Set([]byte("b"), []byte("2")))
	b.Close()
	b.Close() // idempotent

	if got, want := scan(t, s, 1), map[string]string{"a": "1"}; !maps.Equal(got, want) {
		t.Errorf("state after Close: got %v, want %v", got, want)
	}
	want := Applied{Input: map[string]int64{"in": 5}, Changelog: 2}
	if got, _ := applied(t, s, 1); !equalApplied(got, want) {
		t.Errorf("Applied after Close: got %+v, want %+v", got, want)
	}
	if err := b.Set([]byte("c"), nil); !errors.Is(err, ErrBatchDone) {
		t.Errorf("Set after Close: got %v, want ErrBatchDone", err)
	}
	if err := b.Commit(Applied{}); !errors.Is(err, ErrBatchDone) {
		t.Errorf("Commit after Close: got %v, want ErrBatchDone", err)
	}
}

func TestBatchCommit(t *testing.T) {
	fs := vfs.NewMem()
	s := openMem(t, fs)
	if _, ok := applied(t, s, 7); ok {
		t.Fatalf("Applied of a new partition: got ok, want no state")
	}
	a1 := Applied{Input: map[string]int64{"orders": 10, "payments": 3}, Changelog: 4}
	commit(t, s, 7, a1, "a", "1", "b", "2")

	b := s.NewBatch(7)
	mustNil(t, b.Set([]byte("a"), []byte("1b")))
	mustNil(t, b.Delete([]byte("b")))
	mustNil(t, b.Set([]byte("c"), []byte("3")))
	// Before Commit neither the data nor the metadata is visible outside the batch.
	if got, want := scan(t, s, 7), map[string]string{"a": "1", "b": "2"}; !maps.Equal(got, want) {
		t.Errorf("state before Commit: got %v, want %v", got, want)
	}
	if got, _ := applied(t, s, 7); !equalApplied(got, a1) {
		t.Errorf("Applied before Commit: got %+v, want %+v", got, a1)
	}
	// An Applied that cannot be stored is refused and leaves the batch usable.
	if err := b.Commit(Applied{Changelog: -1}); !errors.Is(err, ErrInvalidApplied) {
		t.Fatalf("Commit(Changelog -1): got %v, want ErrInvalidApplied", err)
	}
	a2 := Applied{Input: map[string]int64{"orders": 13}, Changelog: 9}
	mustNil(t, b.Commit(a2))
	b.Close() // safe after Commit
	if err := b.Commit(a2); !errors.Is(err, ErrBatchDone) {
		t.Errorf("second Commit: got %v, want ErrBatchDone", err)
	}

	wantState := map[string]string{"a": "1b", "c": "3"}
	check := func(when string) {
		t.Helper()
		if got := scan(t, s, 7); !maps.Equal(got, wantState) {
			t.Errorf("%s: state: got %v, want %v", when, got, wantState)
		}
		got, ok := applied(t, s, 7)
		if !ok || !equalApplied(got, a2) {
			t.Errorf("%s: Applied: got %+v (ok %v), want %+v", when, got, ok, a2)
		}
	}
	check("after Commit")
	mustNil(t, s.Close())
	s = openMem(t, fs)
	check("after reopen")
}

// TestCommitAtomic crashes right after Commit, keeping only synced data plus a random share
// of the rest, many times: data and metadata survive together or not at all.
func TestCommitAtomic(t *testing.T) {
	for seed := range uint64(20) {
		fs := vfs.NewCrashableMem()
		s, err := Open("db", Options{FS: fs})
		mustNil(t, err)
		var kv []string
		for i := range 200 {
			kv = append(kv, fmt.Sprintf("k%03d", i), strings.Repeat("v", 100))
		}
		commit(t, s, 0, Applied{Changelog: 1}, kv...)
		crashed := fs.CrashClone(vfs.CrashCloneCfg{UnsyncedDataPercent: int(seed * 5), RNG: newRand(seed)})
		mustNil(t, s.Close())
		s, err = Open("db", Options{FS: crashed})
		mustNil(t, err)
		n := len(scan(t, s, 0))
		_, ok := applied(t, s, 0)
		if (n == 200) != ok || (n != 0 && n != 200) {
			t.Errorf("seed %d: after crash: %d of 200 keys with metadata present %v, want all with metadata or none without", seed, n, ok)
		}
		mustNil(t, s.Close())
	}
}

func TestWipe(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	for p := range int32(4) {
		commit(t, s, p, Applied{Changelog: int64(p + 1)}, "a", fmt.Sprint(p), "b", "x")
	}
	mustNil(t, s.Wipe(2))
	mustNil(t, s.Wipe(9)) // a partition without state: nothing to do

	for p := range int32(4) {
		got := scan(t, s, p)
		_, ok := applied(t, s, p)
		if p == 2 {
			if len(got) != 0 || ok {
				t.Errorf("partition 2 after Wipe: got %v (metadata %v), want no data and no metadata", got, ok)
			}
			continue
		}
		if want := map[string]string{"a": fmt.Sprint(p), "b": "x"}; !maps.Equal(got, want) || !ok {
			t.Errorf("partition %d after Wipe(2): got %v (metadata %v), want %v with metadata", p, got, ok, want)
		}
	}
	if got, want := mustPartitions(t, s), []int32{0, 1, 3}; !slices.Equal(got, want) {
		t.Errorf("Partitions after Wipe(2): got %v, want %v", got, want)
	}
	// A wiped partition takes new state.
	commit(t, s, 2, Applied{Changelog: 1}, "c", "new")
	if got, want := scan(t, s, 2), map[string]string{"c": "new"}; !maps.Equal(got, want) {
		t.Errorf("partition 2 after Wipe and Commit: got %v, want %v", got, want)
	}
}

func TestPartitions(t *testing.T) {
	tests := []struct {
		name string
		ps   []int32
	}{
		{name: "none"},
		{name: "zero", ps: []int32{0}},
		{name: "dense", ps: []int32{0, 1, 2, 3}},
		{name: "sparse", ps: []int32{5, 255, 256, 65536, 1 << 24}},
		{name: "max", ps: []int32{1, math.MaxInt32}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openMem(t, vfs.NewMem())
			for _, p := range tt.ps {
				commit(t, s, p, Applied{Changelog: 1}, "k", "v", "\xff\xff", "v")
			}
			if got := mustPartitions(t, s); !slices.Equal(got, tt.ps) {
				t.Errorf("Partitions: got %v, want %v", got, tt.ps)
			}
		})
	}
}

func TestRestore(t *testing.T) {
	e := func(off int64, k, v string) ChangelogEntry {
		if v == "<del>" {
			return ChangelogEntry{Key: []byte(k), Offset: off}
		}
		return ChangelogEntry{Key: []byte(k), Value: []byte(v), Offset: off}
	}
	tests := []struct {
		name      string
		committed *Applied // committed before the restore, with data a=old, z=zz
		entries   []ChangelogEntry
		wantErr   error
		want      map[string]string
		wantMeta  *Applied // nil: no metadata
	}{
		{name: "nothing to restore", want: map[string]string{}},
		{
			name:     "into empty",
			entries:  []ChangelogEntry{e(0, "a", "1"), e(1, "b", "2"), e(4, "a", "3")},
			want:     map[string]string{"a": "3", "b": "2"},
			wantMeta: &Applied{Changelog: 5},
		},
		{
			name:     "tombstones",
			entries:  []ChangelogEntry{e(0, "a", "1"), e(1, "b", "2"), e(2, "a", "<del>"), e(3, "c", "<del>"), e(7, "d", "")},
			want:     map[string]string{"b": "2", "d": ""},
			wantMeta: &Applied{Changelog: 8},
		},
		{
			name:      "onto committed state keeps input offsets",
			committed: &Applied{Input: map[string]int64{"in": 40}, Changelog: 10},
			entries:   []ChangelogEntry{e(10, "b", "2"), e(12, "a", "<del>")},
			want:      map[string]string{"b": "2", "z": "zz"},
			wantMeta:  &Applied{Input: map[string]int64{"in": 40}, Changelog: 13},
		},
		{
			name:      "entry older than applied",
			committed: &Applied{Changelog: 10},
			entries:   []ChangelogEntry{e(9, "b", "2")},
			wantErr:   ErrRestoreOrder,
			want:      map[string]string{"a": "old", "z": "zz"},
			wantMeta:  &Applied{Changelog: 10},
		},
		{
			name:     "offsets not increasing",
			entries:  []ChangelogEntry{e(3, "a", "1"), e(3, "b", "2")},
			wantErr:  ErrRestoreOrder,
			want:     map[string]string{},
			wantMeta: nil,
		},
		{
			name:    "negative offset",
			entries: []ChangelogEntry{e(-1, "a", "1")},
			wantErr: ErrRestoreOrder,
			want:    map[string]string{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openMem(t, vfs.NewMem())
			if tt.committed != nil {
				commit(t, s, 4, *tt.committed, "a", "old", "z", "zz")
			}
			commit(t, s, 5, Applied{Changelog: 99}, "a", "other partition")
			err := s.Restore(4, tt.entries)
			if !errors.Is(err, tt.wantErr) || (err != nil) != (tt.wantErr != nil) {
				t.Fatalf("Restore: got error %v, want %v", err, tt.wantErr)
			}
			if got := scan(t, s, 4); !maps.Equal(got, tt.want) {
				t.Errorf("state: got %v, want %v", got, tt.want)
			}
			got, ok := applied(t, s, 4)
			switch {
			case tt.wantMeta == nil && ok:
				t.Errorf("Applied: got %+v, want no metadata", got)
			case tt.wantMeta != nil && (!ok || !equalApplied(got, *tt.wantMeta)):
				t.Errorf("Applied: got %+v (ok %v), want %+v", got, ok, *tt.wantMeta)
			}
			if got, want := scan(t, s, 5), map[string]string{"a": "other partition"}; !maps.Equal(got, want) {
				t.Errorf("other partition: got %v, want %v", got, want)
			}
		})
	}
}

func TestPartitionIsolation(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	// Keys chosen so that a sloppy prefix (no namespace byte, little-endian, or a variable
	// length partition) would let one partition's keys fall inside another's range.
	ps := []int32{0, 1, 255, 256, 0x0100_0000}
	for _, p := range ps {
		commit(t, s, p, Applied{Changelog: int64(p) + 1},
			"same", fmt.Sprint(p), "", "empty-key", "\x00\x00\x00\x01", "x", "\xff\xff\xff\xff", "y")
	}
	for _, p := range ps {
		want := map[string]string{"same": fmt.Sprint(p), "": "empty-key", "\x00\x00\x00\x01": "x", "\xff\xff\xff\xff": "y"}
		if got := scan(t, s, p); !maps.Equal(got, want) {
			t.Errorf("partition %d: got %v, want %v", p, got, want)
		}
		if a, _ := applied(t, s, p); a.Changelog != int64(p)+1 {
			t.Errorf("partition %d: Applied.Changelog: got %d, want %d", p, a.Changelog, int64(p)+1)
		}
		b := s.NewBatch(p)
		v, ok, err := b.Get([]byte("same"))
		b.Close()
		if err != nil || !ok || string(v) != fmt.Sprint(p) {
			t.Errorf("partition %d: Get(same): got %q %v %v, want %q", p, v, ok, err, fmt.Sprint(p))
		}
	}
	if got := scan(t, s, 2); len(got) != 0 {
		t.Errorf("partition 2 (never written): got %v, want nothing", got)
	}
}

func TestClosedStore(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	commit(t, s, 0, Applied{Changelog: 1}, "a", "1")
	open := s.NewBatch(0)
	mustNil(t, open.Set([]byte("b"), []byte("2")))
	mustNil(t, s.Close())

	ops := []struct {
		name string
		err  func() error
	}{
		{"Close", s.Close},
		{"Applied", func() error { _, _, err := s.Applied(0); return err }},
		{"Wipe", func() error { return s.Wipe(0) }},
		{"Partitions", func() error { _, err := s.Partitions(); return err }},
		{"Scan", func() error { return s.Scan(0, func(_, _ []byte) error { return nil }) }},
		{"Restore", func() error { return s.Restore(0, []ChangelogEntry{{Key: []byte("a"), Offset: 5}}) }},
		{"NewBatch.Set", func() error { return s.NewBatch(0).Set([]byte("a"), nil) }},
		{"NewBatch.Get", func() error { _, _, err := s.NewBatch(0).Get([]byte("a")); return err }},
		{"open batch Get", func() error { _, _, err := open.Get([]byte("a")); return err }},
		{"open batch Commit", func() error { return open.Commit(Applied{Changelog: 2}) }},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			if err := op.err(); !errors.Is(err, ErrClosed) {
				t.Errorf("got %v, want ErrClosed", err)
			}
		})
	}
	open.Close()
	if got := s.DiskUsage(); got != 0 {
		t.Errorf("DiskUsage after Close: got %d, want 0", got)
	}
}

func TestInvalidPartition(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	ops := []struct {
		name string
		err  func() error
	}{
		{"Applied", func() error { _, _, err := s.Applied(-1); return err }},
		{"Wipe", func() error { return s.Wipe(-1) }},
		{"Scan", func() error { return s.Scan(-1, func(_, _ []byte) error { return nil }) }},
		{"Restore", func() error { return s.Restore(-1, nil) }},
		{"NewBatch.Set", func() error { return s.NewBatch(-1).Set([]byte("a"), nil) }},
		{"NewBatch.Commit", func() error { return s.NewBatch(-1).Commit(Applied{}) }},
	}
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			if err := op.err(); !errors.Is(err, ErrInvalidPartition) {
				t.Errorf("got %v, want ErrInvalidPartition", err)
			}
		})
	}
}

func TestScanStopsOnError(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	commit(t, s, 0, Applied{Changelog: 1}, "a", "1", "b", "2", "c", "3")
	stop := errors.New("stop")
	var seen []string
	err := s.Scan(0, func(k, _ []byte) error {
		seen = append(seen, string(k))
		if string(k) == "b" {
			return stop
		}
		return nil
	})
	if err != stop { //nolint:errorlint // Scan returns fn's error as is, not wrapped
		t.Errorf("Scan: got error %v, want fn's error returned as is", err)
	}
	if want := []string{"a", "b"}; !slices.Equal(seen, want) {
		t.Errorf("Scan visited %v, want %v", seen, want)
	}
}

// TestOpenCorrupt damages a closed store the ways T7 and real disks do and checks that Open
// or Applied reports ErrCorrupt (or ErrFormat), and that Destroy then gives an empty store.
func TestOpenCorrupt(t *testing.T) {
	tests := []struct {
		name      string
		damage    func(t *testing.T, fs *vfs.MemFS)
		wantOpen  error // nil: Open succeeds
		wantApply error // checked on partition 1 when Open succeeds
		orWhole   bool  // Open may instead succeed with the state whole or empty
	}{
		{name: "delete MANIFEST", damage: removeFiles("MANIFEST-*"), wantOpen: ErrCorrupt},
		{name: "delete sstable", damage: removeFiles("*.sst"), wantOpen: ErrCorrupt},
		{name: "truncate sstable", damage: rewriteFiles("*.sst", func(b []byte) []byte { return b[:len(b)/2] }), wantOpen: ErrCorrupt},
		{name: "garble sstable", damage: rewriteFiles("*.sst", garble), wantOpen: ErrCorrupt},
		{name: "garble OPTIONS", damage: rewriteFiles("OPTIONS-*", func([]byte) []byte { return []byte("[Options\ngarbage") }), wantOpen: ErrCorrupt},
		// Without its marker Pebble cannot find the MANIFEST and starts a new store from
		// whatever WALs remain. Then the state must be whole or empty (the format header,
		// written first, tells a replay from the beginning from a partial one).
		{name: "delete manifest marker", damage: removeFiles("marker.manifest.*"), wantOpen: ErrCorrupt, orWhole: true},
		{name: "delete everything but the WAL", damage: removeFiles("[^0-9]*"), wantOpen: ErrCorrupt, orWhole: true},
		{name: "delete everything but an sstable", damage: removeFiles("[^0-9]*", "*.log"), wantOpen: ErrCorrupt, orWhole: true},
		{name: "garble metadata value", damage: setRaw(metaKey(1), []byte("garbage value")), wantApply: ErrCorrupt},
		{name: "flip a metadata bit", damage: flipMetaBit(1), wantApply: ErrCorrupt},
		{name: "header newer", damage: setRaw(headerKey, []byte{formatVersion + 1}), wantOpen: ErrFormat},
		{name: "header garbage", damage: setRaw(headerKey, []byte("xx")), wantOpen: ErrCorrupt},
		{name: "header missing", damage: deleteRaw(headerKey), wantOpen: ErrCorrupt},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := vfs.NewMem()
			s, err := Open("db", Options{FS: fs})
			mustNil(t, err)
			for i := range 50 {
				commit(t, s, 1, Applied{Input: map[string]int64{"in": int64(i)}, Changelog: int64(i)}, fmt.Sprint(i), strings.Repeat("v", 200))
			}
			mustNil(t, s.db.Flush())
			mustNil(t, s.Close())
			tt.damage(t, fs)

			s, err = Open("db", Options{FS: fs})
			if tt.orWhole && err == nil {
				n := len(scan(t, s, 1))
				t.Logf("Open succeeded: %d keys", n)
				a, ok := applied(t, s, 1)
				if (n != 0 || ok) && (n != 50 || a.Changelog != 49) {
					t.Errorf("Open succeeded with %d of 50 keys and Applied %+v (ok %v), want all 50 with Changelog 49, or nothing", n, a, ok)
				}
				mustNil(t, s.Close())
			} else if tt.wantOpen != nil {
				if !errors.Is(err, tt.wantOpen) {
					t.Fatalf("Open: got %v, want %v", err, tt.wantOpen)
				}
			} else {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				_, _, err = s.Applied(1)
				if !errors.Is(err, tt.wantApply) {
					t.Errorf("Applied: got %v, want %v", err, tt.wantApply)
				}
				if got, err := s.Partitions(); err != nil || !slices.Equal(got, []int32{1}) {
					t.Errorf("Partitions with damaged metadata: got %v %v, want [1] so recovery finds it", got, err)
				}
				mustNil(t, s.Close())
			}
			mustNil(t, Destroy("db", fs))
			s = openMem(t, fs)
			if got := mustPartitions(t, s); len(got) != 0 {
				t.Errorf("Partitions after Destroy: got %v, want none", got)
			}
		})
	}
}

func TestOpenErrorsThatAreNotCorruption(t *testing.T) {
	fs := vfs.NewMem()
	s := openMem(t, fs)
	_, err := Open("db", Options{FS: fs})
	if err == nil || errors.Is(err, ErrCorrupt) {
		t.Errorf("second Open of an open store: got %v, want a lock error that is not ErrCorrupt", err)
	}
	if err := Destroy("db", fs); err == nil {
		t.Errorf("Destroy of an open store: got nil, want an error")
	}
	if got := mustPartitions(t, s); len(got) != 0 {
		t.Errorf("Partitions after a refused Destroy: got %v, want none (and no panic)", got)
	}
	if err := Destroy("missing", fs); err != nil {
		t.Errorf("Destroy of a missing directory: got %v, want nil", err)
	}
	if _, err := Open("db2", Options{FS: fs, CacheSize: -1}); err == nil {
		t.Errorf("Open with a negative CacheSize: got nil, want an error")
	}
}

func TestDiskUsage(t *testing.T) {
	s := openMem(t, vfs.NewMem())
	before := s.DiskUsage()
	var kv []string
	for i := range 1000 {
		kv = append(kv, fmt.Sprint(i), strings.Repeat("v", 1000))
	}
	commit(t, s, 0, Applied{Changelog: 1}, kv...)
	mustNil(t, s.db.Flush())
	if after := s.DiskUsage(); after <= before || after < 100_000 {
		t.Errorf("DiskUsage after writing ~1 MB: got %d (before %d), want more than 100000", after, before)
	}
}

// TestLogging checks that Pebble's logs reach the injected logger and that a healthy store
// says nothing at Info or above.
func TestLogging(t *testing.T) {
	core, logs := observer.New(zapcore.DebugLevel)
	fs := vfs.NewMem()
	s, err := Open("db", Options{FS: fs, Logger: zap.New(core)})
	mustNil(t, err)
	commit(t, s, 0, Applied{Changelog: 1}, "a", "1")
	mustNil(t, s.db.Flush())
	mustNil(t, s.Close())

	if n := logs.FilterLevelExact(zapcore.DebugLevel).FilterLoggerName("pebble").Len(); n == 0 {
		t.Errorf("Pebble debug lines: got none, want the flush and WAL events")
	}
	for _, e := range logs.All() {
		if e.Level >= zapcore.InfoLevel {
			t.Errorf("healthy store logged at %v: %q, want nothing at Info or above", e.Level, e.Message)
		}
	}
}

func mustNil(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func mustPartitions(t testing.TB, s *Store) []int32 {
	t.Helper()
	ps, err := s.Partitions()
	if err != nil {
		t.Fatalf("Partitions: %v", err)
	}
	return ps
}

// Store damage for TestOpenCorrupt.

func removeFiles(patterns ...string) func(*testing.T, *vfs.MemFS) {
	return func(t *testing.T, fs *vfs.MemFS) {
		for _, pattern := range patterns {
			n := 0
			for _, name := range listDB(t, fs) {
				if ok, _ := path.Match(pattern, name); ok && name != "LOCK" {
					mustNil(t, fs.Remove(fs.PathJoin("db", name)))
					n++
				}
			}
			if n == 0 {
				t.Fatalf("no file matches %q in %v", pattern, listDB(t, fs))
			}
		}
	}
}

func rewriteFiles(pattern string, f func([]byte) []byte) func(*testing.T, *vfs.MemFS) {
	return func(t *testing.T, fs *vfs.MemFS) {
		n := 0
		for _, name := range listDB(t, fs) {
			if ok, _ := path.Match(pattern, name); !ok {
				continue
			}
			path := fs.PathJoin("db", name)
			data, err := fs.UnsafeGetFileDataBuffer(path)
			mustNil(t, err)
			data = f(slices.Clone(data))
			file, err := fs.Create(path, vfs.WriteCategoryUnspecified)
			mustNil(t, err)
			_, err = file.Write(data)
			mustNil(t, errors.Join(err, file.Close()))
			n++
		}
		if n == 0 {
			t.Fatalf("no file matches %q", pattern)
		}
	}
}

func garble(b []byte) []byte {
	for i := 0; i < len(b); i += 7 {
		b[i] ^= 0xff
	}
	return b
}

func listDB(t *testing.T, fs *vfs.MemFS) []string {
	names, err := fs.List("db")
	mustNil(t, err)
	return names
}

// setRaw writes a raw key behind the Store's back, as a bug or a bit flip would.
func setRaw(key, value []byte) func(*testing.T, *vfs.MemFS) {
	return func(t *testing.T, fs *vfs.MemFS) {
		s := openMem(t, fs)
		mustNil(t, s.db.Set(key, value, nil))
		mustNil(t, s.Close())
	}
}

func deleteRaw(key []byte) func(*testing.T, *vfs.MemFS) {
	return func(t *testing.T, fs *vfs.MemFS) {
		s := openMem(t, fs)
		mustNil(t, s.db.Delete(key, nil))
		mustNil(t, s.Close())
	}
}

func flipMetaBit(p int32) func(*testing.T, *vfs.MemFS) {
	return func(t *testing.T, fs *vfs.MemFS) {
		s := openMem(t, fs)
		v, closer, err := s.db.Get(metaKey(p))
		mustNil(t, err)
		v = slices.Clone(v)
		mustNil(t, closer.Close())
		v[3] ^= 0x10
		mustNil(t, s.db.Set(metaKey(p), v, nil))
		mustNil(t, s.Close())
	}
}

func TestBatchRange(t *testing.T) {
	tests := []struct {
		name      string
		committed []string // key, value pairs committed before the batch
		ops       []string // key, value pairs; value "<del>" deletes
		lo, hi    string   // hi "<end>": nil, the end of the partition
		limit     int
		want      string // key=value, space-separated
	}{
		{name: "empty", lo: "a", hi: "<end>"},
		{name: "committed only", committed: []string{"a", "1", "b", "2", "c", "3"}, lo: "a", hi: "c", want: "a=1 b=2"},
		{
			name: "batch over committed", committed: []string{"a", "1", "b", "2"}, ops: []string{"b", "20", "bb", "new", "a", "<del>"},
			lo: "", hi: "<end>", want: "b=20 bb=new",
		},
		{name: "bounds", committed: []string{"a", "1", "b", "2", "c", "3"}, lo: "b", hi: "<end>", want: "b=2 c=3"},
		{name: "limit", committed: []string{"a", "1", "b", "2", "c", "3"}, lo: "", hi: "<end>", limit: 2, want: "a=1 b=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openMem(t, vfs.NewMem())
			if tt.committed != nil {
				commit(t, s, 3, Applied{Changelog: 1}, tt.committed...)
			}
			commit(t, s, 4, Applied{Changelog: 1}, "a", "other partition")
			b := s.NewBatch(3)
			defer b.Close()
			for i := 0; i < len(tt.ops); i += 2 {
				var err error
				if tt.ops[i+1] == "<del>" {
					err = b.Delete([]byte(tt.ops[i]))
				} else {
					err = b.Set([]byte(tt.ops[i]), []byte(tt.ops[i+1]))
				}
				if err != nil {
					t.Fatal(err)
				}
			}
			var hi []byte
			if tt.hi != "<end>" {
				hi = []byte(tt.hi)
			}
			var got []string
			err := b.Range([]byte(tt.lo), hi, tt.limit, func(k, v []byte) error {
				got = append(got, string(k)+"="+string(v))
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if g := strings.Join(got, " "); g != tt.want {
				t.Errorf("Range: got %q, want %q", g, tt.want)
			}
		})
	}
	t.Run("fn error", func(t *testing.T) {
		s := openMem(t, vfs.NewMem())
		commit(t, s, 3, Applied{Changelog: 1}, "a", "1", "b", "2")
		b := s.NewBatch(3)
		defer b.Close()
		stop := errors.New("stop")
		n := 0
		if err := b.Range(nil, nil, 0, func(_, _ []byte) error { n++; return stop }); !errors.Is(err, stop) || n != 1 {
			t.Errorf("Range: got %v after %d keys, want the callback's error after 1", err, n)
		}
	})
}
