package eostest

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/internal/gen"
	"github.com/kappa-stream/kappa/pipeline"
)

// TestEOSPoisonPills is T8: three instances run the card-totals pipeline with schema rules
// (gen.PoisonSchema) while 1% of the input is malformed, of every kind of gen.BadKinds and
// gen.PoisonKinds (10 MiB values among them), and instances are killed with kill -9 and
// stopped with SIGTERM as in T1. No instance may crash on a record; the dead-letter topic
// must hold exactly the malformed records, each once with its source position and reason
// (the verdict's dlq= equals the injected count), and every good record's output exact.
func TestEOSPoisonPills(t *testing.T) {
	s := sizes(t)
	bin := kappaBinary(t)
	cards := gen.Cards{Seed: s.seed, Partitions: 5, Cards: 500, BadEvery: 100, Poison: true}
	const maxRecord = 16 << 20 // room for a 10 MiB value and its dead-letter headers
	limit := strconv.Itoa(maxRecord)
	schema := "  schema:\n    " + strings.ReplaceAll(strings.TrimSpace(gen.PoisonSchema), "\n", "\n    ") + "\n"
	su := newPipelineSetupWith(t, s, cards, "  - aggregate: {field: amount}\n", 5*time.Second, setupExtra{
		topicConfigs: map[string]*string{"max.message.bytes": &limit},
		input:        schema,
	})
	def, err := pipeline.Load(su.file)
	if err != nil {
		t.Fatal(err)
	}
	if len(def.Input.Schema) == 0 {
		t.Fatal("the pipeline has no schema rules")
	}
	su.schema = def.Input.Schema
	su.produceOpts = []kgo.Opt{kgo.ProducerBatchMaxBytes(maxRecord)}
	su.verifyOpts = []kgo.Opt{kgo.FetchMaxPartitionBytes(maxRecord), kgo.FetchMaxBytes(2 * maxRecord)}

	v, generated := su.runUnderFaults(t, s, bin)

	injected := cards.BadCount(0, generated)
	kinds := map[string]int{}
	for i := range generated {
		if k := cards.BadKind(i); k >= 0 {
			kinds[gen.KindName(k)]++
		}
	}
	if v.DLQ != injected || v.Duplicates != 0 || v.Lost != 0 {
		t.Fatalf("dlq=%d duplicates=%d lost=%d, want dlq=%d (the injected malformed records) duplicates=0 lost=0", v.DLQ, v.Duplicates, v.Lost, injected)
	}
	t.Logf("poison pills: dlq=%d of %d injected, by kind %v", v.DLQ, injected, kinds)
}
