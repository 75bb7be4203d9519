package state

import (
	"flag"
	"math/rand/v2"
	"testing"
	"time"
)

// seedFlag reproduces a randomized test: go test ./state -run TestMetamorphic -seed N.
var seedFlag = flag.Int64("seed", 0, "seed of the randomized tests (TestMetamorphic, TestCrashPoints); 0 picks one from the clock")

// baseSeed returns the seed given with -seed, or one from the clock, and logs it.
func baseSeed(t *testing.T) (seed uint64, fixed bool) {
	t.Helper()
	if *seedFlag != 0 {
		t.Logf("seed %d (from -seed)", *seedFlag)
		return uint64(*seedFlag), true
	}
	seed = uint64(time.Now().UnixNano()) & (1<<62 - 1)
	t.Logf("seed %d (reproduce with -seed %d)", seed, seed)
	return seed, false
}

func newRand(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)) }
