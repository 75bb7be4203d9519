package processor

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/kappa-stream/kappa/state"
)

// TESTPLAN T4 state-crash-points: the real Processor over the fake Kafka, its state in
// Pebble on a crashable in-memory filesystem. At a named point the instance "crashes": the
// filesystem is cloned as a crash would leave it (unsynced data lost, each unsynced block
// kept with a seeded probability), nothing the instance does afterwards reaches Kafka, and a
// new instance (same instance id, so it fences the old one's open transaction) continues on
// the clone. After every crash the reopened state must be exactly a prefix of the
// changelog, and at the end the committed output and the state must equal the recompute of
// the input: nothing lost, nothing twice.

var (
	crashSeeds = flag.Int("crash.seeds", 50, "number of seeds TestCrashPoints (T4) runs")
	crashSeed  = flag.Int64("crash.seed", -1, "run TestCrashPoints with this seed only (to reproduce a failure)")
)

// crashPoint is a named place to crash at.
type crashPoint struct {
	name  string
	point string // the fake's hook point
	// max is the largest occurrence to crash at (the n-th time the point matches).
	max   int
	match func(pt fakePoint, output string) bool
}

var crashPoints = []crashPoint{
	// Mid-cycle: records were processed into the task's batch (and some outputs produced),
	// End has not been called.
	{"after-state-write", "produce", 12, func(pt fakePoint, out string) bool { return pt.Topic == out }},
	// Everything of the transaction (outputs, changelog) was produced; End has not committed.
	{"after-produce", "end-before", 4, func(pt fakePoint, _ string) bool { return pt.Commit }},
	// Kafka committed the transaction; the processor has not applied its batches.
	{"after-commit-before-apply", "end-after-commit", 4, nil},
	// The batches of a committed transaction were applied (without sync).
	{"after-apply", "allow-rebalance", 4, func(pt fakePoint, _ string) bool { return pt.Commit }},
	// A restore was reading the changelog: some chunks applied, some not.
	{"mid-restore", "changelog-read", 4, nil},
}

const midRestore = 4 // index of mid-restore in crashPoints

// crashPlan is one stage's crash.
type crashPlan struct {
	cp       crashPoint
	n        int    // crash at the n-th match
	unsynced int    // CrashCloneCfg.UnsyncedDataPercent
	rngSeed  uint64 // seed of the clone's RNG
	destroy  bool   // start the stage with the state directory destroyed
}

func (p *crashPlan) String() string {
	if p == nil {
		return "no crash"
	}
	s := fmt.Sprintf("%s #%d unsynced=%d%%", p.cp.name, p.n, p.unsynced)
	if p.destroy {
		s += " (state destroyed first)"
	}
	return s
}

func TestCrashPoints(t *testing.T) {
	seeds := make([]uint64, 0, *crashSeeds)
	if *crashSeed >= 0 {
		seeds = append(seeds, uint64(*crashSeed))
	} else {
		for s := range *crashSeeds {
			seeds = append(seeds, uint64(s))
		}
	}
	var mu sync.Mutex
	fired := map[string]int{}
	var crashes atomic.Int64
	t.Run("seeds", func(t *testing.T) {
		for _, seed := range seeds {
			t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
				t.Parallel()
				got := runCrashSeed(t, seed)
				mu.Lock()
				defer mu.Unlock()
				for name, n := range got {
					fired[name] += n
					crashes.Add(int64(n))
				}
			})
		}
	})
	if t.Failed() {
		return
	}
	var per []string
	for _, cp := range crashPoints {
		per = append(per, fmt.Sprintf("%s=%d", cp.name, fired[cp.name]))
		// Over many seeds every point must have been hit, or the test tests less than it
		// says.
		if len(seeds) >= 20 && fired[cp.name] == 0 {
			t.Errorf("crash point %s never fired over %d seeds", cp.name, len(seeds))
		}
	}
	t.Logf("T4: seeds=%d crash_points=%d crashes=%d ok (%s)", len(seeds), len(crashPoints), crashes.Load(), strings.Join(per, " "))
}

// runCrashSeed runs one seed: stages of input, each run by a new instance on the state the
// previous one left, most of them crashing at a planned point; then a final instance that
// runs to the end. It returns the crashes that happened, by point.
func runCrashSeed(t *testing.T, seed uint64) map[string]int {
	rng := rand.New(rand.NewPCG(seed, 0x7434))
	def := testDef(t, "t4", true, "in")
	k := fakeFor(def, 1+rng.Int32N(3), fakeConfig{
		MaxPerPoll:     1 + rng.IntN(4),
		MaxPerTxn:      2 + rng.IntN(8),
		ChangelogChunk: 1 + rng.IntN(3),
	})
	w := newWorkload(def)
	fs := vfs.NewCrashableMem()
	fired := map[string]int{}
	var history []string
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d: %s; reproduce with: go test ./processor -run 'TestCrashPoints' -crash.seed=%d -v",
				seed, strings.Join(history, "; "), seed)
		}
	})

	stages := 3 + rng.IntN(3)
	for stage := 0; stage <= stages; stage++ {
		final := stage == stages
		if final {
			// One record per partition, so that every task starts and restores.
			for p := range k.cfg.Partitions {
				w.write(k, "in", p, genRecord(rng, 0))
			}
		} else {
			w.add(k, rng, 8+rng.IntN(20), 5)
		}
		var plan *crashPlan
		if !final && rng.IntN(6) != 0 {
			i := rng.IntN(len(crashPoints))
			if i == midRestore && stage == 0 {
				i = rng.IntN(midRestore) // nothing to restore yet
			}
			cp := crashPoints[i]
			plan = &crashPlan{
				cp:       cp,
				n:        1 + rng.IntN(cp.max),
				unsynced: []int{0, 0, 10, 50, 90, 100}[rng.IntN(6)],
				rngSeed:  rng.Uint64(),
				destroy:  i == midRestore && rng.IntN(2) == 0,
			}
		}
		if plan != nil && plan.destroy {
			if err := state.Destroy(testStateDir, fs); err != nil {
				t.Fatalf("stage %d: destroy state: %v", stage, err)
			}
		}

		// Some stages also see faults that are not crashes: failed produces, aborts, and
		// unknown outcomes of commits.
		var noise *rand.Rand
		if !final && rng.IntN(3) == 0 {
			noise = rand.New(rand.NewPCG(rng.Uint64(), 2))
		}

		store := openStore(t, fs)
		inst := k.instance("pod-0", true)
		crashed := make(chan *vfs.MemFS, 1)
		if plan != nil || noise != nil {
			var seen int
			var once sync.Once
			out := def.Output.Topic
			// Hooks of one instance run on its processor's goroutine (the changelog
			// reader's too), so seen and noise need no lock.
			k.setHook(func(pt fakePoint) fakeAction {
				if pt.Instance != inst {
					return fakeContinue
				}
				if plan == nil || pt.Name != plan.cp.point || (plan.cp.match != nil && !plan.cp.match(pt, out)) {
					if noise == nil {
						return fakeContinue
					}
					switch {
					case pt.Name == "produce" && noise.IntN(100) < 3:
						return fakeFail
					case pt.Name == "end-before" && pt.Commit && noise.IntN(100) < 8:
						return fakeAbort
					case pt.Name == "end-after-commit" && noise.IntN(100) < 8:
						return fakeFail
					}
					return fakeContinue
				}
				seen++
				if seen != plan.n {
					return fakeContinue
				}
				act := fakeContinue
				once.Do(func() {
					crashed <- fs.CrashClone(vfs.CrashCloneCfg{
						UnsyncedDataPercent: plan.unsynced,
						RNG:                 rand.New(rand.NewPCG(plan.rngSeed, 1)),
					})
					act = fakeCrash
				})
				return act
			})
		}
		r := start(t, def, store, inst)

		var clone *vfs.MemFS
		deadline := time.After(20 * time.Second)
	wait:
		for {
			select {
			case clone = <-crashed:
				break wait
			case err := <-r.done:
				r.done <- err
				// After the crash the processor fails to rebuild its client and Run returns:
				// when both are ready, select may pick this case first.
				select {
				case clone = <-crashed:
					break wait
				default:
				}
				t.Fatalf("stage %d (%s): Run returned %v before the input was consumed; committed:%s", stage, plan, err, k.progress())
			case <-deadline:
				t.Fatalf("stage %d (%s): input not consumed after 20s; committed:%s", stage, plan, k.progress())
			case <-time.After(2 * time.Millisecond):
				if k.allConsumed() {
					break wait
				}
			}
		}
		err := r.stop(t)
		k.setHook(nil)
		if clone == nil && err != nil {
			t.Fatalf("stage %d (%s): Run: %v", stage, plan, err)
		}
		if cerr := store.Close(); cerr != nil && clone == nil {
			t.Fatalf("stage %d: close state: %v", stage, cerr)
		}
		noiseNote := ""
		if noise != nil {
			noiseNote = " with faults"
		}
		if clone == nil {
			history = append(history, fmt.Sprintf("stage %d%s: %s (did not fire)", stage, noiseNote, plan))
			if plan == nil {
				history[len(history)-1] = fmt.Sprintf("stage %d%s: no crash", stage, noiseNote)
			}
			continue
		}
		fired[plan.cp.name]++
		history = append(history, fmt.Sprintf("stage %d%s: crashed %s", stage, noiseNote, plan))
		fs = clone
		// The state a crash leaves is a prefix of Kafka's changelog, never ahead of it.
		s := openStore(t, fs)
		for p := range k.cfg.Partitions {
			checkStateIsChangelogPrefix(t, k, s, p)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("close state: %v", err)
		}
	}

	if !k.allConsumed() {
		t.Fatalf("input not consumed at the end; committed:%s", k.progress())
	}
	finals := checkOutputs(t, k, w)
	s := openStore(t, fs)
	defer s.Close()
	checkState(t, s, finals)
	for p := range k.cfg.Partitions {
		checkStateIsChangelogPrefix(t, k, s, p)
	}
	return fired
}
