package eostest

import (
	"testing"
	"time"

	"github.com/kappa-stream/kappa/internal/gen"
	"github.com/kappa-stream/kappa/pipeline"
)

// TestEOSWindowsKill9 is T9: a hopping-window pipeline over card transactions with bounded
// disorder and some records injected far beyond grace, run by three instances that are
// killed with kill -9 (inside open transactions: the commit interval is long) and stopped
// with SIGTERM as in T1. Every window the committed input closes must be emitted exactly
// once with exactly the verifier's aggregates and watermark, and the late topic must hold
// exactly the injected late records.
func TestEOSWindowsKill9(t *testing.T) {
	s := sizes(t)
	bin := kappaBinary(t)
	const (
		size, advance, grace = 10 * time.Second, 2 * time.Second, time.Second
		outOfOrder           = 2 * time.Second
	)
	// gen's bound for a record to be certainly late (see gen.Cards): size + grace +
	// out-of-orderness + disorder + (index gap to the partition's previous on-time
	// record) * Step. With 5 partitions that gap is about 5; 500 Steps of margin make a
	// longer one (probability about 0.8^500) irrelevant.
	lateBy := size + grace + outOfOrder + gen.DefaultMaxDisorder + 500*gen.DefaultStep
	cards := gen.Cards{Seed: s.seed, Partitions: 5, Cards: 500, BadEvery: 400, LateEvery: 500, LateBy: lateBy}
	su := newPipelineSetup(t, s, cards, `  - window:
      type: hopping
      size: 10s
      advance: 2s
      grace: 1s
      aggregates:
        - {fn: count}
        - {fn: sum, field: amount}
        - {fn: min, field: amount}
        - {fn: max, field: amount}
`, outOfOrder)
	// The verifier checks the window the pipeline file defines, as the processor parses it.
	def, err := pipeline.Load(su.file)
	if err != nil {
		t.Fatal(err)
	}
	w := def.Operators[0].Window
	if w == nil || w.Size != size || w.Advance != advance || w.Grace != grace || def.Input.MaxOutOfOrderness != outOfOrder {
		t.Fatalf("pipeline window %+v, out-of-orderness %s: not the one lateBy was computed for", w, def.Input.MaxOutOfOrderness)
	}
	su.window = w
	v, generated := su.runUnderFaults(t, s, bin)
	injected := cards.LateCount(0, generated)
	if v.Late != injected {
		t.Fatalf("late=%d, want the %d injected late records", v.Late, injected)
	}
	if v.Emitted == 0 {
		t.Fatal("emitted=0: no window closed; produce more records")
	}
	t.Logf("windows emitted=%d, late=%d of %d injected", v.Emitted, v.Late, injected)
}
