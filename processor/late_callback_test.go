package processor

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Regression: when End's context ended during its flush, franz-go returned with produce
// callbacks still in flight, and task.discard wrote t.pendingChangelog without the lock the
// late changelog callbacks hold. Run under -race.

// TestLateProduceCallbackDoesNotRace: the broker is slow to acknowledge, and the shutdown
// signal arrives during End's flush. Run with -race: task.discard and the late changelog
// callbacks must not race on task.pendingChangelog.
func TestLateProduceCallbackDoesNotRace(t *testing.T) {
	def := testDef(t, "late-callbacks", true, "in")
	k := fakeFor(def, 2, fakeConfig{MaxPerPoll: 4, MaxPerTxn: 8, SlowCallbacks: time.Millisecond})
	w := newWorkload(def)
	w.add(k, rand.New(rand.NewPCG(85, 86)), 40, 0)
	store := openStore(t, vfs.NewMem())
	defer store.Close()
	runCanceledAtEnd(t, def, store, k, 2, true)
}
