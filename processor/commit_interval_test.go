package processor

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Regression: a cycle once ended after its first non-empty Poll (the poll context was
// canceled before its deadline was checked), so every Poll became its own transaction
// whatever the commit interval. A cycle must span polls until the interval ends.

// TestCommitIntervalSpansPolls: 20 records are waiting and Poll returns one at a time. With a
// 300ms commit interval they should be committed in one transaction (at most two if the
// first poll races the interval), not 20.
func TestCommitIntervalSpansPolls(t *testing.T) {
	def := testDef(t, "interval", true, "in")
	def.CommitInterval = 300 * time.Millisecond
	k := fakeFor(def, 1, fakeConfig{MaxPerPoll: 1})
	w := newWorkload(def)
	w.add(k, rand.New(rand.NewPCG(1, 1)), 20, 0)
	store := openStore(t, vfs.NewMem())
	defer store.Close()
	r := start(t, def, store, k.instance("pod-0", true))
	waitConsumed(t, k, r)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkState(t, store, checkOutputs(t, k, w))
	if got := k.commits(); got > 2 {
		t.Fatalf("20 waiting records, one per Poll, commit interval %s: got %d transactions, want 1 (at most 2)", def.CommitInterval, got)
	}
}
