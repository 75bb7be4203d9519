package processor

import (
	"math/rand/v2"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// Regression: Poll errors were once never reported (the poll context was canceled before
// it was checked), so a client whose Poll kept failing was never rebuilt and the processor
// spun. A Poll error must rebuild the client, after the retry backoff.

// TestPollErrorRebuildsClient: one Poll fails; the processor should rebuild the client.
func TestPollErrorRebuildsClient(t *testing.T) {
	hook, fired := countingHook("poll", 4, nil, fakeFail)
	_, inst, _ := runWithFault(t, hook, fired)
	if n := inst.clientsCreated(); n != 2 {
		t.Fatalf("got %d clients, want 2 (the client whose Poll failed is rebuilt)", n)
	}
}

// TestPollAlwaysFailingClientBacksOff: the first client's Poll fails every time (as a
// closed or broken client's does); the processor should give it up and build a new one.
// (It once polled the broken client forever and consumed nothing.)
func TestPollAlwaysFailingClientBacksOff(t *testing.T) {
	def := testDef(t, "pollfail", true, "in")
	k := fakeFor(def, 1, fakeConfig{})
	w := newWorkload(def)
	w.add(k, rand.New(rand.NewPCG(1, 1)), 10, 0)
	inst := k.instance("pod-0", true)
	var polls atomic.Int64
	k.setHook(func(pt fakePoint) fakeAction {
		if pt.Name == "poll" && inst.clientsCreated() == 1 {
			polls.Add(1)
			return fakeFail
		}
		return fakeContinue
	})
	store := openStore(t, vfs.NewMem())
	defer store.Close()
	r := start(t, def, store, inst)
	deadline := time.Now().Add(3 * time.Second)
	for !k.allConsumed() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	consumed := k.allConsumed()
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !consumed {
		t.Fatalf("after 3s: %d failed polls on the first client, %d clients created, input not consumed (committed:%s); want the client rebuilt after its first failed poll",
			polls.Load(), inst.clientsCreated(), k.progress())
	}
}
