package processor

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/state"
)

// Regression: a shutdown that began while End was in flight once aborted the transaction
// instead of finishing it (End's context was detached from cancellation only if the
// shutdown came first). The open transaction must get ShutdownTimeout to finish.

// runCanceledAtEnd runs the processor of instance pod-0 until the shutdown signal that
// arrives during the n-th End asking for a commit, and returns it once Run returned.
func runCanceledAtEnd(t *testing.T, def *pipeline.Definition, store *state.Store, k *fakeKafka, n int32, exactlyOnce bool) *running {
	t.Helper()
	var rp atomic.Pointer[running]
	var fired atomic.Bool
	k.setHook(cancelAtEnd(n, &rp, &fired))
	r := start(t, def, store, k.instance("pod-0", exactlyOnce))
	rp.Store(r)
	select {
	case err := <-r.done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("Run did not return")
	}
	if !fired.Load() {
		t.Fatalf("the hook never fired")
	}
	return r
}

// cancelAtEnd returns a hook that cancels the processor's context when the n-th End that
// asks for a commit starts.
func cancelAtEnd(n int32, rp *atomic.Pointer[running], fired *atomic.Bool) func(fakePoint) fakeAction {
	var seen atomic.Int32
	return func(pt fakePoint) fakeAction {
		if pt.Name == "end-start" && pt.Commit && seen.Add(1) == n {
			for rp.Load() == nil {
				time.Sleep(time.Millisecond)
			}
			fired.Store(true)
			rp.Load().cancel() // SIGTERM arrives while End runs
		}
		return fakeContinue
	}
}

// TestShutdownDuringEndCommits: exactly-once; the shutdown signal arrives
// during End. The transaction must be committed, not aborted.
func TestShutdownDuringEndCommits(t *testing.T) {
	def := testDef(t, "shutdown-end", true, "in")
	k := fakeFor(def, 2, fakeConfig{MaxPerPoll: 3, MaxPerTxn: 6})
	w := newWorkload(def)
	w.add(k, rand.New(rand.NewPCG(81, 82)), 40, 0)
	store := openStore(t, vfs.NewMem())
	defer store.Close()
	r := runCanceledAtEnd(t, def, store, k, 3, true)
	s := r.p.Snapshot()
	if s.Aborts != 0 || s.Commits != 3 {
		t.Fatalf("shutdown during the 3rd End: got %d commits and %d aborts, want 3 commits and 0 aborts (the transaction in flight finished)", s.Commits, s.Aborts)
	}
}

// TestShutdownDuringEndAtLeastOnceNoDuplicates: at-least-once; the shutdown signal
// arrives during End; a restart must not duplicate the last cycle's outputs, since the
// shutdown was clean.
func TestShutdownDuringEndAtLeastOnceNoDuplicates(t *testing.T) {
	def := testDef(t, "shutdown-end-alos", false, "in")
	k := fakeFor(def, 1, fakeConfig{MaxPerPoll: 3, MaxPerTxn: 6})
	w := newWorkload(def)
	rng := rand.New(rand.NewPCG(83, 84))
	w.add(k, rng, 30, 0)
	fs := vfs.NewMem()
	store := openStore(t, fs)
	runCanceledAtEnd(t, def, store, k, 2, false)
	k.setHook(nil)
	store.Close()

	store = openStore(t, fs)
	defer store.Close()
	r2 := start(t, def, store, k.instance("pod-0", false))
	waitConsumed(t, k, r2)
	if err := r2.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	// Exact output: a clean shutdown and restart must not duplicate anything.
	checkState(t, store, checkOutputs(t, k, w))
}

// stuckClose is a client whose Close does not return until released, as a group member's
// can while the broker holds a join.
type stuckClose struct {
	Client
	release chan struct{}
	closed  atomic.Bool
}

func (c *stuckClose) Close() {
	<-c.release
	c.Client.Close()
	c.closed.Store(true)
}

// TestShutdownBoundsClose: a client whose Close hangs does not hang the shutdown: Run
// returns once ShutdownTimeout has passed, with the records committed.
func TestShutdownBoundsClose(t *testing.T) {
	def := testDef(t, "stuck-close", true, "in")
	k := fakeFor(def, 1, fakeConfig{})
	w := newWorkload(def)
	w.add(k, rand.New(rand.NewPCG(4, 5)), 50, 0)
	store := openStore(t, vfs.NewMem())
	defer store.Close()
	inst := k.instance("pod-0", true)
	stuck := &stuckClose{release: make(chan struct{})}
	defer close(stuck.release)
	core, logs := observer.New(zapcore.WarnLevel)
	r := startConfig(t, def, store, inst, func(c *Config) {
		c.Logger = zap.New(core)
		c.ShutdownTimeout = 300 * time.Millisecond
		c.NewClient = func(a Assignment) (Client, error) {
			cl, err := inst.NewClient(a)
			stuck.Client = cl
			return stuck, err
		}
	})
	waitConsumed(t, k, r)
	start := time.Now()
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if took := time.Since(start); took > 5*time.Second || stuck.closed.Load() {
		t.Fatalf("Run returned %s after the shutdown, with Close done %v; want it within about the shutdown timeout, Close still stuck", took, stuck.closed.Load())
	}
	checkOutputs(t, k, w)
	// The warning carries the stacks: the hung Close among them.
	warned := logs.FilterMessageSnippet("did not close within the shutdown timeout").All()
	if len(warned) != 1 || !strings.Contains(fmt.Sprint(warned[0].ContextMap()["goroutines"]), "stuckClose).Close") {
		t.Fatalf("got %d close warnings (%v), want one whose goroutines show stuckClose.Close", len(warned), warned)
	}
}
