package models

import (
	"math"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kappa-stream/kappa/score"
)

// Readers Load and score while the watcher swaps models under them: every read gets a
// whole model whose version is its own (a score is never labelled with the other model's
// version). Run with -race.
func TestHolderConcurrentSwaps(t *testing.T) {
	const swaps = 40
	want := map[string]float64{} // version -> score of x
	x := []float64{0.3, -1.2, 0.8, math.NaN(), 40}
	for _, data := range [][]byte{v1, v2} {
		m, err := score.Parse("test", data)
		if err != nil {
			t.Fatal(err)
		}
		want[Version(data)] = m.Predict(x, nil)[0]
	}

	w, _ := newFileWatcher(t, v1, FileConfig{Interval: time.Millisecond})
	h := w.Holder()
	run(t, w)

	var (
		stop  atomic.Bool
		reads atomic.Int64
		wg    sync.WaitGroup
		seen  sync.Map // versions readers saw
	)
	for range 4 {
		wg.Go(func() {
			out := make([]float64, 0, 1)
			for !stop.Load() {
				v := h.Load()
				got := v.Model.Predict(x, out[:0])[0]
				if got != want[v.Version] {
					t.Errorf("model of version %s scored %v, want %v: a model and another's version", v.Version, got, want[v.Version])
					return
				}
				seen.Store(v.Version, true)
				reads.Add(1)
			}
		})
	}
	for i := range swaps {
		data := [][]byte{v2, v1}[i%2]
		replaceFile(t, w.path, data)
		eventually(t, "the swap", func() bool { return h.Load().Version == Version(data) })
	}
	stop.Store(true)
	wg.Wait()
	n := 0
	seen.Range(func(any, any) bool { n++; return true })
	if n != 2 {
		t.Errorf("readers saw %d versions, want 2", n)
	}
	t.Logf("%d swaps, %d reads", swaps, reads.Load())
}
