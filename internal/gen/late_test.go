package gen_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/kappa-stream/kappa/internal/gen"
)

// windowModel is the least a test needs of spec section 4 to tell whether a record is late:
// per partition, the stream time is the largest event time of the well-formed records so
// far (in index order, which is offset order in each partition) and the watermark trails it
// by outOfOrder; a record is late when its latest hopping window has closed, watermark >=
// end + grace.
type windowModel struct {
	size, advance, grace, outOfOrder int64 // ms
}

// late returns, for every late-injected record among [0, n), whether the model finds it
// late, and the index gap to the latest earlier record of its partition that is well-formed
// and not late-injected (the record that bounds the stream time from below), or -1 if none.
func (m windowModel) late(c *gen.Cards, n int64) (late map[int64]bool, gap map[int64]int64) {
	late, gap = map[int64]bool{}, map[int64]int64{}
	stream := map[int32]int64{}
	seen := map[int32]bool{}
	anchor := map[int32]int64{}
	for i := range n {
		p, _, _ := c.Record(i)
		tx, ok := c.Txn(i)
		if !ok {
			continue
		}
		if !seen[p] || tx.EventTime > stream[p] {
			stream[p], seen[p] = tx.EventTime, true
		}
		if !c.Late(i) {
			anchor[p] = i + 1 // +1: zero means none
			continue
		}
		start := tx.EventTime - ((tx.EventTime%m.advance)+m.advance)%m.advance
		late[i] = stream[p]-m.outOfOrder >= start+m.size+m.grace
		gap[i] = i - (anchor[p] - 1)
		if anchor[p] == 0 {
			gap[i] = -1
		}
	}
	return late, gap
}

func TestLateInjection(t *testing.T) {
	const n = 30000
	w := windowModel{size: 10000, advance: 2000, grace: 1000, outOfOrder: 2000}
	step, disorder := 10*time.Millisecond, 2*time.Second
	// The documented bound with one Step: size + grace + out-of-orderness + MaxDisorder + Step.
	bound := time.Duration(w.size+w.grace+w.outOfOrder)*time.Millisecond + disorder + step
	for _, tc := range []struct {
		name       string
		partitions int32
		badEvery   int
		lateBy     time.Duration
		allLate    bool // every injected record is late in the model
		noneLate   bool
	}{
		{"one partition at the bound", 1, 0, bound, true, false},
		{"five partitions with a margin", 5, 97, bound + 200*step, true, false},
		// Between the two bounds, the disorder decides.
		{"between the bounds", 5, 97, 12 * time.Second, false, false},
		// Below size - advance + grace + out-of-orderness - MaxDisorder + Step: none.
		{"too little", 5, 0, 8 * time.Second, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := gen.Cards{
				Seed: 41, Partitions: tc.partitions, Cards: 100, BadEvery: tc.badEvery, Step: step,
				MaxDisorder: disorder, LateEvery: 97, LateBy: tc.lateBy,
			}
			onTime := c
			onTime.LateEvery, onTime.LateBy = 0, 0
			start := gen.DefaultStart.UnixMilli()
			var injected int64
			for i := range int64(n) {
				tx, ok := c.Txn(i)
				want, _ := onTime.Txn(i)
				shifted := want
				shifted.EventTime -= tc.lateBy.Milliseconds()
				late := c.Late(i)
				switch {
				case late != (ok && i%97 == 48 && shifted.EventTime >= start):
					t.Fatalf("record %d: Late=%v, want it exactly for well-formed records 48 mod 97 after the warm-up (event time %d, start %d)",
						i, late, shifted.EventTime, start)
				case late && tx != shifted:
					t.Fatalf("record %d: got %+v, want %+v: only the event time moves back by LateBy", i, tx, shifted)
				case !late && tx != want:
					t.Fatalf("record %d: got %+v, want %+v as without late injection", i, tx, want)
				}
				if late {
					injected++
				}
			}
			if got := c.LateCount(0, n); got != injected || injected == 0 {
				t.Fatalf("LateCount(0, %d): got %d, want %d (and more than 0)", n, got, injected)
			}
			for _, r := range [][2]int64{{0, 48}, {0, 49}, {1000, 5000}, {4899, 4900}, {4900, 4899}, {-5, 145}} {
				var want int64
				for i := max(r[0], 0); i < r[1]; i++ {
					if c.Late(i) {
						want++
					}
				}
				if got := c.LateCount(r[0], r[1]); got != want {
					t.Fatalf("LateCount(%d, %d): got %d, want %d", r[0], r[1], got, want)
				}
			}

			late, gap := w.late(&c, n)
			var nLate int64
			for i, isLate := range late {
				if isLate {
					nLate++
				}
				need := bound + time.Duration(gap[i]-1)*step // the documented bound for this record
				if gap[i] > 0 && tc.lateBy >= need && !isLate {
					t.Errorf("record %d: LateBy %s >= the bound %s (gap %d) but the model finds it on time", i, tc.lateBy, need, gap[i])
				}
			}
			t.Logf("injected %d, late in the model %d", injected, nLate)
			switch {
			case tc.allLate && nLate != injected:
				t.Errorf("got %d late of %d injected, want all", nLate, injected)
			case tc.noneLate && nLate != 0:
				t.Errorf("got %d late of %d injected, want none", nLate, injected)
			case !tc.allLate && !tc.noneLate && (nLate == 0 || nLate == injected):
				t.Errorf("got %d late of %d injected, want some but not all between the bounds", nLate, injected)
			}
		})
	}
}

func ExampleCards_Late() {
	c := gen.Cards{Seed: 1, LateEvery: 500, LateBy: time.Minute}
	// Record 250 is a candidate, but a minute before its event time is before Start.
	fmt.Println(c.Late(250), c.Late(6250), c.LateCount(0, 10000))
	// Output: false true 8
}
