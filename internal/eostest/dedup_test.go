package eostest

import (
	"testing"
	"time"

	"github.com/kappa-stream/kappa/internal/gen"
	"github.com/kappa-stream/kappa/pipeline"
)

// TestEOSDuplicates: three instances run the card-totals pipeline with input.dedup while 2%
// of the input are copies of records sent 100 records earlier (as a producer's retries
// would send them), with kill -9, SIGTERM and wiped state as in T1. The ids live in each
// partition's state and its changelog, so every copy must be recognised whatever the
// faults: the dead-letter topic holds exactly the copies (reason duplicate) and the
// malformed records, and every other record's aggregate is exact (the verifier keeps
// every id itself, with no expiry).
func TestEOSDuplicates(t *testing.T) {
	s := sizes(t)
	bin := kappaBinary(t)
	cards := gen.Cards{Seed: s.seed, Partitions: 5, Cards: 500, BadEvery: 400, IDField: "txn_id", DupEvery: 49}
	su := newPipelineSetupWith(t, s, cards, "  - aggregate: {field: amount}\n", 5*time.Second, setupExtra{
		input: "  dedup: {field: txn_id, horizon: 1h}\n",
		tail:  "on_error: {duplicate: dlq}\n",
	})
	def, err := pipeline.Load(su.file)
	if err != nil {
		t.Fatal(err)
	}
	if def.Input.Dedup == nil {
		t.Fatal("the pipeline does not deduplicate")
	}
	su.dedup = def.Input.Dedup

	v, generated := su.runUnderFaults(t, s, bin)

	var malformed, copies int64
	for i := range generated {
		src := i
		orig, dup := cards.Dup(i)
		if dup {
			src = orig
		}
		switch {
		case cards.Bad(src):
			malformed++
		case dup:
			copies++
		}
	}
	if v.DLQ != malformed+copies || v.Duplicates != 0 || v.Lost != 0 {
		t.Fatalf("dlq=%d duplicates=%d lost=%d, want dlq=%d (%d copies and %d malformed records) duplicates=0 lost=0",
			v.DLQ, v.Duplicates, v.Lost, malformed+copies, copies, malformed)
	}
	t.Logf("dedup: dlq=%d: %d copies of %d generated records and %d malformed", v.DLQ, copies, generated, malformed)
}
