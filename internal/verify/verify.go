package verify

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Run verifies a finished run of the pipeline that cfg names:
//
//  1. It waits, up to cfg.WaitTimeout, until the group's committed offsets reach the end of
//     every input partition and no transaction is open on the input, output, dead-letter or
//     changelog partitions (last stable offset equal to the high watermark, and no pending
//     transactional offset commit). If a transaction is still open then, it returns an
//     error wrapping ErrOpenTransaction. If only the group is behind, it goes on with what
//     was committed and the verdict fails, naming the partitions behind.
//  2. It reads read_committed the input up to the committed offsets, and all of the output
//     and dead-letter topics (and of the late topic of a window pipeline).
//  3. It recomputes every expected output: in each input partition, in offset order, a
//     valid record yields one output record in the same partition number of the output
//     topic carrying the running count, sum, min and max of its key in that partition; an
//     invalid one yields one dead-letter record with the source position in its headers.
//  4. It counts the differences into the Verdict.
//
// For a window pipeline (cfg.Window set), step 3 instead runs the verifier's own simulation
// of spec windows-wiring.md, section 4, over each partition's committed input: every window
// it closes must be in the output topic exactly once, in the same partition number, with
// the record key and value of section 2 byte for byte (aggregates bit-exact, the watermark
// that closed it), in the order the simulation closes them; every record it classifies as
// late must be in the late topic exactly once, with the headers of section 3. Windows still
// open at the end of the committed input are not expected. The verdict counts: emitted =
// window records read; duplicates = a (key, window) emitted more than once; lost = closed
// windows not emitted, late records missing from the late topic, invalid records without a
// dead letter; window_mismatches = window records that differ from the simulation or that it
// did not close, and late records that are duplicated, not late, or wrong; late = records
// read from the late topic; reordered and aborted_reads as for the aggregate pipeline.
//
// The returned Verdict has the figures known so far even with an error; it is OK only when
// the error is nil and every check passed. Print it with String.
func Run(ctx context.Context, cfg Config) (Verdict, error) {
	v := Verdict{Generated: cfg.Generated, Faults: maps.Clone(cfg.Faults), MaxRecovery: cfg.MaxRecovery}
	if err := cfg.Validate(); err != nil {
		return v, err
	}
	cfg = cfg.withDefaults()
	// Metadata is refreshed at each look: a topic the pipeline creates while the verifier
	// waits must not stay cached as missing.
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(cfg.Brokers...), kgo.MetadataMinAge(10 * time.Millisecond)}, cfg.ClientOpts...)...)
	if err != nil {
		return v, fmt.Errorf("verify: admin client: %w", err)
	}
	defer cl.Close()

	s, err := settle(ctx, kadm.NewClient(cl), &cfg, &v)
	if err != nil {
		v.closeProblems()
		return v, err
	}

	d := &data{committed: map[int32]int64{}}
	spans := map[string]map[int32]span{cfg.Input: {}}
	for p, end := range s.input.end {
		start := s.input.start[p]
		c, ok := s.committed[p]
		if !ok {
			continue
		}
		if c > end {
			v.problemf("group %s committed offset %d on %s/%d, beyond its end %d", cfg.Group, c, cfg.Input, p, end)
		}
		d.committed[p] = c
		spans[cfg.Input][p] = span{start, min(c, end)}
	}
	for t, b := range s.others {
		if t != cfg.Output && t != cfg.DeadLetter && t != cfg.Late {
			continue // the changelog is only checked for open transactions
		}
		spans[t] = map[int32]span{}
		for p, end := range b.end {
			spans[t][p] = span{b.start[p], min(end, b.stable[p])}
		}
	}
	recs, err := read(ctx, &cfg, spans, cfg.WaitTimeout)
	if err != nil {
		v.closeProblems()
		return v, err
	}
	d.input, d.output = recs[cfg.Input], recs[cfg.Output]
	if cfg.DeadLetter != "" {
		d.dlq = recs[cfg.DeadLetter]
	}
	if cfg.Late != "" {
		d.late = recs[cfg.Late]
	}
	check(&cfg, d, &v)
	v.Complete = true
	v.closeProblems()
	return v, nil
}
