package windows

import (
	"errors"
	"flag"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

var seed = flag.Uint64("seed", 0, "seed for the randomized tests; 0 picks one (and logs it)")

func TestStreamTime(t *testing.T) {
	s, err := NewStreamTime(5)
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Watermark(); got != NoWatermark {
		t.Fatalf("watermark before any record: got %d, want NoWatermark", got)
	}
	if s.Closed(Window{Start: MinTime, End: MinTime + 1}, 0) {
		t.Fatal("a window is closed before any record")
	}
	steps := []struct {
		t        int64
		advanced bool
		wm       int64
	}{{10, true, 5}, {7, false, 5}, {12, true, 7}, {12, false, 7}, {-100, false, 7}}
	for _, st := range steps {
		if got := s.Observe(st.t); got != st.advanced {
			t.Fatalf("Observe(%d): got advanced %v, want %v", st.t, got, st.advanced)
		}
		if got := s.Watermark(); got != st.wm {
			t.Fatalf("after %d: got watermark %d, want %d", st.t, got, st.wm)
		}
	}
	if m, ok := s.Max(); !ok || m != 12 {
		t.Fatalf("Max: got %d %v, want 12 true", m, ok)
	}
	w := Window{Start: 0, End: 5}
	if !s.Closed(w, 2) || s.Closed(w, 3) {
		t.Fatalf("at watermark 7: got closed(grace 2)=%v closed(grace 3)=%v, want true false", s.Closed(w, 2), s.Closed(w, 3))
	}
	if s.AdvanceTo(3) {
		t.Fatal("AdvanceTo below the watermark advanced it")
	}
	if !s.AdvanceTo(EndOfInput) || !s.Closed(Window{Start: 0, End: MaxTime}, MaxDuration) {
		t.Fatal("EndOfInput does not close every window")
	}
}

func TestLateFixed(t *testing.T) {
	h, _ := NewHopping(10, 5)
	tests := []struct {
		t, grace, wm int64
		late         bool
		window       Window
	}{
		{t: 4, grace: 0, wm: 9, late: false},
		{t: 4, grace: 0, wm: 10, late: true, window: Window{0, 10}},
		{t: 4, grace: 1, wm: 10, late: false},
		{t: 5, grace: 0, wm: 14, late: false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("t=%d,grace=%d,wm=%d", tt.t, tt.grace, tt.wm), func(t *testing.T) {
			l, late := LateFixed(h, tt.t, tt.grace, tt.wm)
			if late != tt.late {
				t.Fatalf("got late %v, want %v", late, tt.late)
			}
			if late && (l.Window != tt.window || l.Lateness != tt.wm-tt.t || l.Watermark != tt.wm) {
				t.Fatalf("got %v, want window %s lateness %d", l, tt.window, tt.wm-tt.t)
			}
		})
	}
}

func TestProcessRejectsBadRecords(t *testing.T) {
	tu, _ := NewTumbling(10)
	op, err := NewOperator(tu)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := op.Process(Record{Key: "a", EventTime: 1, Values: num(1), Seq: 5}); err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]Record{
		"NaN":      {Key: "a", EventTime: 2, Values: num(math.NaN()), Seq: 6},
		"too late": {Key: "a", EventTime: MaxTime + 1, Values: num(1), Seq: 6},
		"too soon": {Key: "a", EventTime: MinTime - 1, Values: num(1), Seq: 6},
		"same seq": {Key: "a", EventTime: 2, Values: num(1), Seq: 5},
	} {
		if _, err := op.Process(r); !errors.Is(err, ErrInvalidRecord) {
			t.Fatalf("%s: got error %v, want ErrInvalidRecord", name, err)
		}
	}
	if got, err := op.Current("a"); err != nil || len(got) != 1 || got[0].Aggs.Count != 1 {
		t.Fatalf("rejected records changed state: %v", got)
	}
}

func TestNewOperatorRejectsBadOptions(t *testing.T) {
	tu, _ := NewTumbling(10)
	for name, opt := range map[string]Option{
		"negative grace": WithGrace(-1),
		"huge grace":     WithGrace(MaxDuration + 1),
		"negative ooo":   WithOutOfOrderness(-1),
		"bad mode":       WithMode(Mode(7)),
	} {
		if _, err := NewOperator(tu, opt); !errors.Is(err, ErrInvalid) {
			t.Fatalf("%s: got error %v, want ErrInvalid", name, err)
		}
	}
	if _, err := NewOperator(nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("nil definition: got error %v, want ErrInvalid", err)
	}
}

// TestFinalEqualsReference feeds random out-of-order input to every window kind and checks
// that every window emitted in Final mode, and every late record, matches a reference
// computed from the input by brute force; and that emissions come in (end, key, start)
// order within each call.
func TestFinalEqualsReference(t *testing.T) {
	s := *seed
	if s == 0 {
		s = rand.Uint64()
	}
	t.Logf("seed %d (rerun with -seed %d)", s, s)
	rng := rand.New(rand.NewPCG(s, 0))
	tu, _ := NewTumbling(10)
	ho, _ := NewHopping(10, 3)
	for _, def := range []Definition{tu, ho} {
		t.Run(def.String(), func(t *testing.T) {
			for range 50 {
				grace, ooo := rng.Int64N(8), rng.Int64N(8)
				op, err := NewOperator(def, WithGrace(grace), WithOutOfOrderness(ooo))
				if err != nil {
					t.Fatal(err)
				}
				type rec struct {
					key string
					t   int64
					v   float64
					seq uint64
				}
				var recs []rec
				var emitted []Emission
				late := map[uint64]bool{}
				for i := range 200 {
					r := rec{key: fmt.Sprint("k", rng.IntN(3)), t: int64(i/2) + rng.Int64N(12) - 6, v: float64(rng.IntN(100)), seq: uint64(i + 1)}
					recs = append(recs, r)
					res, err := op.Process(Record{Key: r.key, EventTime: r.t, Values: num(r.v), Seq: r.seq})
					if err != nil {
						t.Fatal(err)
					}
					checkOrder(t, res.Emissions)
					emitted = append(emitted, res.Emissions...)
					for _, l := range res.Late {
						late[l.Record.Seq] = true
					}
				}
				res, err := op.AdvanceWatermark(EndOfInput)
				if err != nil {
					t.Fatal(err)
				}
				checkOrder(t, res.Emissions)
				emitted = append(emitted, res.Emissions...)
				if op.OpenWindows() != 0 {
					t.Fatalf("%d windows open after EndOfInput", op.OpenWindows())
				}
				// Reference: recompute late records from the watermark before each record,
				// then every window from the records that were not late.
				want := map[string]Acc{}
				var maxT int64 = math.MinInt64
				for _, r := range recs {
					maxT = max(maxT, r.t)
					wm := maxT - ooo
					var ws []Window
					if h, ok := def.(Hopping); ok {
						ws = h.Assign(r.t, nil)
					} else {
						ws = def.(Tumbling).Assign(r.t, nil)
					}
					anyOpen := false
					for _, w := range ws {
						if wm < w.End+grace {
							anyOpen = true
							a := want[r.key+w.String()]
							a.Add(r.t, r.seq, r.v)
							want[r.key+w.String()] = a
						}
					}
					if anyOpen == late[r.seq] {
						t.Fatalf("record %+v: got late %v, want %v", r, late[r.seq], !anyOpen)
					}
				}
				got := map[string]Acc{}
				for _, e := range emitted {
					k := e.Key + e.Window.String()
					if _, dup := got[k]; dup {
						t.Fatalf("window %s emitted twice", k)
					}
					if e.Aggs.Count != e.Aggs.Acc[0].Count {
						t.Fatalf("window %s: count %d, accumulator count %d", k, e.Aggs.Count, e.Aggs.Acc[0].Count)
					}
					got[k] = e.Aggs.Acc[0]
				}
				if len(got) != len(want) {
					t.Fatalf("got %d windows, want %d", len(got), len(want))
				}
				for k, a := range want {
					if got[k] != a {
						t.Fatalf("window %s: got %v, want %v", k, got[k], a)
					}
				}
			}
		})
	}
}

func checkOrder(t *testing.T, es []Emission) {
	t.Helper()
	var finals []Emission
	for _, e := range es {
		if e.Kind == KindFinal {
			finals = append(finals, e)
		}
	}
	sorted := slices.Clone(finals)
	sortEmissions(sorted)
	if !slices.Equal(finals, sorted) {
		t.Fatalf("emissions out of order: %v", finals)
	}
}

// TestSessionsMatchReference checks session merging against a brute-force grouping when
// nothing closes before the end.
func TestSessionsMatchReference(t *testing.T) {
	s := *seed
	if s == 0 {
		s = rand.Uint64()
	}
	t.Logf("seed %d (rerun with -seed %d)", s, s)
	rng := rand.New(rand.NewPCG(s, 1))
	for range 100 {
		gap := 1 + rng.Int64N(6)
		def, _ := NewSession(gap)
		op, _ := NewOperator(def, WithOutOfOrderness(MaxDuration))
		var ts []int64
		for i := range 30 {
			tt := rng.Int64N(100)
			ts = append(ts, tt)
			if _, err := op.Process(Record{Key: "k", EventTime: tt, Values: num(1), Seq: uint64(i + 1)}); err != nil {
				t.Fatal(err)
			}
		}
		slices.Sort(ts)
		var want []Window
		for _, tt := range ts {
			if n := len(want); n > 0 && tt-(want[n-1].End-1) <= gap {
				want[n-1].End = tt + 1
				continue
			}
			want = append(want, Window{Start: tt, End: tt + 1})
		}
		var got []Window
		res, err := op.AdvanceWatermark(EndOfInput)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range res.Emissions {
			got = append(got, e.Window)
		}
		if !slices.Equal(got, want) {
			t.Fatalf("gap %d, times %v: got sessions %v, want %v", gap, ts, got, want)
		}
	}
}

// num is the values of a record with the single number v.
func num(v float64) []Value { return []Value{{Num: v}} }

// TestRestartAnywhere runs random input through every window kind and mode twice: once
// straight, once restarting the operator from its encoded store and clock at random points,
// as the processor does after a crash. Every emission and late record must be the same.
func TestRestartAnywhere(t *testing.T) {
	s := *seed
	if s == 0 {
		s = rand.Uint64()
	}
	t.Logf("seed %d (rerun with -seed %d)", s, s)
	rng := rand.New(rand.NewPCG(s, 2))
	tu, _ := NewTumbling(10)
	ho, _ := NewHopping(10, 3)
	sl, _ := NewSliding(7)
	se, _ := NewSession(4)
	spec, err := NewSpec([]Aggregation{
		{Name: "n", Func: FuncCount},
		{Name: "s", Func: FuncSum},
		{Name: "f", Func: FuncFirst},
		{Name: "d", Func: FuncCountDistinct, Field: 1},
		{Name: "q", Func: FuncQuantile, Q: 0.9},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, def := range []Definition{tu, ho, sl, se} {
		for _, mode := range []Mode{Final, Update} {
			t.Run(def.String()+"/"+mode.String(), func(t *testing.T) {
				for range 20 {
					opts := []Option{WithGrace(rng.Int64N(5)), WithOutOfOrderness(rng.Int64N(5)), WithMode(mode), WithSpec(spec)}
					recs := make([]Record, 150)
					for i := range recs {
						recs[i] = Record{
							Key: fmt.Sprint("k", rng.IntN(3)), EventTime: int64(i/3) + rng.Int64N(10) - 5, Seq: uint64(i + 1),
							Values: []Value{{Num: float64(rng.IntN(50))}, {Text: []byte{byte('a' + rng.IntN(4))}, IsText: true}},
						}
					}
					run := func(restartP float64) []string {
						store := MemStore{}
						op, err := NewOperator(def, append(opts, WithStore(store))...)
						if err != nil {
							t.Fatal(err)
						}
						var out []string
						for _, r := range recs {
							if rng.Float64() < restartP {
								next := MemStore{}
								o2, err := NewOperator(def, append(opts, WithStore(next))...)
								if err != nil {
									t.Fatal(err)
								}
								if err := o2.SetClock(op.Clock()); err != nil {
									t.Fatal(err)
								}
								for e, a := range store {
									dec, err := spec.DecodeAggs(spec.AppendAggs(nil, a))
									if err != nil {
										t.Fatal(err)
									}
									next[e] = dec
									if stale, err := o2.Load(e); err != nil || stale {
										t.Fatalf("load %s: stale %v, %v", e, stale, err)
									}
								}
								op, store = o2, next
							}
							res, err := op.Process(r)
							if err != nil {
								t.Fatal(err)
							}
							out = appendResult(out, res)
						}
						res, err := op.AdvanceWatermark(EndOfInput)
						if err != nil {
							t.Fatal(err)
						}
						if len(store) != 0 {
							t.Fatalf("%d entries left after EndOfInput", len(store))
						}
						return appendResult(out, res)
					}
					straight, restarted := run(0), run(0.2)
					if !slices.Equal(straight, restarted) {
						t.Fatalf("restarts changed the results:\nstraight:  %q\nrestarted: %q", straight, restarted)
					}
				}
			})
		}
	}
}

func appendResult(out []string, res Result) []string {
	for _, l := range res.Late {
		out = append(out, l.String())
	}
	for _, e := range res.Emissions {
		out = append(out, e.String())
	}
	return out
}

// TestLoadStale restarts an operator from entries that include windows its restored clock
// has closed, as when a compacted changelog lost their tombstones: Load reports them as
// stale, and they are never emitted again.
func TestLoadStale(t *testing.T) {
	def, _ := NewTumbling(10)
	store := MemStore{}
	op, err := NewOperator(def, WithStore(store))
	if err != nil {
		t.Fatal(err)
	}
	for i, tt := range []int64{1, 5, 12} {
		if _, err := op.Process(Record{Key: "k", EventTime: tt, Values: num(1), Seq: uint64(i + 1)}); err != nil {
			t.Fatal(err)
		}
	}
	old := maps.Clone(store) // [10,20) (12 closed [0,10)), before the next record closes it
	res, err := op.Process(Record{Key: "k", EventTime: 25, Values: num(1), Seq: 4})
	if err != nil || len(res.Emissions) != 1 {
		t.Fatalf("closing [10,20): %v, %v", res.Emissions, err)
	}
	o2, err := NewOperator(def)
	if err != nil {
		t.Fatal(err)
	}
	if err := o2.SetClock(op.Clock()); err != nil {
		t.Fatal(err)
	}
	var stale []string
	for e := range old {
		s, err := o2.Load(e)
		if err != nil {
			t.Fatal(err)
		}
		if s {
			stale = append(stale, e.Window.String())
		}
	}
	slices.Sort(stale)
	if want := []string{"[10,20)"}; !slices.Equal(stale, want) {
		t.Fatalf("stale entries %v, want %v", stale, want)
	}
	res, err = o2.AdvanceWatermark(EndOfInput)
	if err != nil || len(res.Emissions) != 0 {
		t.Fatalf("stale windows emitted again: %v, %v", res.Emissions, err)
	}
}
