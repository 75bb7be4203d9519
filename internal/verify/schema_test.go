package verify

import (
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/internal/gen"
	"github.com/kappa-stream/kappa/pipeline"
)

// poisonSchema parses gen.PoisonSchema as a pipeline file would hold it.
func poisonSchema(t *testing.T) []pipeline.FieldRule {
	t.Helper()
	file := "name: p\ninput:\n  topics: [in]\n  format: json\n  key_field: card_id\n  event_time: {field: ts, format: epoch_millis}\n  schema:\n" +
		"    " + strings.ReplaceAll(strings.TrimSpace(gen.PoisonSchema), "\n", "\n    ") +
		"\noperators: [{aggregate: {field: amount}}]\noutput: {topic: out}\n"
	d, err := pipeline.Parse("p.yaml", []byte(file))
	if err != nil {
		t.Fatalf("gen.PoisonSchema does not parse: %v", err)
	}
	return d.Input.Schema
}

// TestCheckPoison: with gen's poison kinds, a run that dead-letters exactly the malformed
// records with the right reasons passes only when the verifier knows the schema; a wrong
// reason is a mismatch.
func TestCheckPoison(t *testing.T) {
	const n = 3000
	g := &gen.Cards{Seed: 22, Cards: 30, Partitions: 3, BadEvery: 10, Poison: true, HugeBytes: 2000}
	for _, tc := range []struct {
		name     string
		schema   bool
		mutate   func(*pipelineRun)
		pass     bool
		problems string
	}{
		{"with the schema", true, func(*pipelineRun) {}, true, ""},
		{"without the schema", false, func(*pipelineRun) {}, false, "want 4"}, // valid to it: their amounts count
		{"a wrong reason", true, func(r *pipelineRun) {
			d := *r.dlq[0][0]
			d.Headers = append([]kgo.RecordHeader{}, d.Headers...)
			for i := range d.Headers {
				if d.Headers[i].Key == HeaderReason {
					d.Headers[i].Value = []byte("late")
				}
			}
			r.dlq[0][0] = &d
		}, false, `reason "late", want`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testConfig()
			if tc.schema {
				cfg.Schema = poisonSchema(t)
			}
			run := reference(g, "in", "out", "dlq", n)
			tc.mutate(run)
			v := Verdict{Generated: n}
			check(cfg, run.data(), &v)
			v.Complete = true
			if tc.pass {
				if !v.OK() || v.DLQ != g.BadCount(0, n) {
					t.Fatalf("got %s with problems %q, want a pass with dlq=%d", &v, v.Problems, g.BadCount(0, n))
				}
				return
			}
			if v.OK() || len(v.Problems) == 0 || !strings.Contains(strings.Join(v.Problems, "\n"), tc.problems) {
				t.Fatalf("got %s with problems %q, want a FAIL mentioning %q", &v, v.Problems, tc.problems)
			}
		})
	}
}
