package verify

import (
	"fmt"
	"strconv"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/internal/gen"
)

// pipelineRun is what a correct card-totals pipeline writes for records [0, n) of a
// generator: per partition, in input offset order, the output and dead-letter records, and
// the offsets the group commits. It is built from the generator's own account of each record
// (gen.Cards.Txn), not from the verifier's decoder, so the two check each other.
type pipelineRun struct {
	input          []*kgo.Record // the input records, with partitions and offsets
	out, dlq, late map[int32][]*kgo.Record
	committed      map[int32]int64
}

// reference assumes records [0, n) were produced in index order with gen's partitioning, so
// each partition holds its records in index order from offset 0 (as gen.ProduceRange does).
func reference(c *gen.Cards, input, output, dlq string, n int64) *pipelineRun {
	r := &pipelineRun{out: map[int32][]*kgo.Record{}, dlq: map[int32][]*kgo.Record{}, committed: map[int32]int64{}}
	type agg struct {
		count         int
		sum, min, max float64
	}
	aggs := map[string]*agg{} // by partition and card
	for i := range n {
		p, key, value := c.Record(i)
		off := r.committed[p]
		r.committed[p]++
		r.input = append(r.input, &kgo.Record{Topic: input, Partition: p, Offset: off, Key: key, Value: value})
		// A copy (Cards.DupEvery) is record orig again: a dead letter of its kind when orig
		// is malformed, else a duplicate one (the pipeline deduplicates; see TestCheckDedup).
		src := i
		orig, dup := c.Dup(i)
		if dup {
			src = orig
		}
		tx, ok := c.Txn(src)
		if !ok || dup {
			reason := "duplicate"
			if !ok {
				reason = gen.KindReason(c.BadKind(src))
			}
			r.dlq[p] = append(r.dlq[p], &kgo.Record{Topic: dlq, Partition: p, Key: key, Value: value, Headers: []kgo.RecordHeader{
				{Key: "kappa.dlq.reason", Value: []byte(reason)},
				{Key: HeaderTopic, Value: []byte(input)},
				{Key: HeaderPartition, Value: []byte(strconv.Itoa(int(p)))},
				{Key: HeaderOffset, Value: []byte(strconv.FormatInt(off, 10))},
			}})
			continue
		}
		id := fmt.Sprint(p, "/", tx.Card)
		a := aggs[id]
		if a == nil {
			a = &agg{min: tx.Amount, max: tx.Amount}
			aggs[id] = a
		}
		a.count++
		a.sum += tx.Amount
		a.min, a.max = min(a.min, tx.Amount), max(a.max, tx.Amount)
		r.out[p] = append(r.out[p], &kgo.Record{
			Topic: output, Partition: p, Key: key,
			Value: outputJSON(tx.Card, a.count, a.sum, a.min, a.max, tx.EventTime, input, p, off),
		})
	}
	return r
}

func outputJSON(key string, count int, sum, mn, mx float64, eventTime int64, topic string, p int32, off int64) []byte {
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	return fmt.Appendf(nil, `{"key":%q,"count":%d,"sum":%s,"min":%s,"max":%s,"event_time":%d,"source":{"topic":%q,"partition":%d,"offset":%d}}`,
		key, count, f(sum), f(mn), f(mx), eventTime, topic, p, off)
}

// data returns the run as the verifier would read it: output offsets assigned in order.
func (r *pipelineRun) data() *data {
	d := &data{input: map[int32][]*kgo.Record{}, output: map[int32][]*kgo.Record{}, dlq: map[int32][]*kgo.Record{}, committed: map[int32]int64{}}
	for _, rec := range r.input {
		if rec.Offset < r.committed[rec.Partition] {
			d.input[rec.Partition] = append(d.input[rec.Partition], rec)
		}
	}
	for p, c := range r.committed {
		d.committed[p] = c
	}
	number := func(dst, src map[int32][]*kgo.Record) {
		for p, rs := range src {
			for i, rec := range rs {
				cp := *rec
				cp.Offset = int64(i)
				dst[p] = append(dst[p], &cp)
			}
		}
	}
	number(d.output, r.out)
	number(d.dlq, r.dlq)
	if r.late != nil {
		d.late = map[int32][]*kgo.Record{}
		number(d.late, r.late)
	}
	return d
}

// Mutations of a correct run, each a bug the verifier must catch.

func duplicateOutput(r *pipelineRun) {
	rs := r.out[0]
	r.out[0] = append(rs, rs[len(rs)/2]) // redelivered later, as after a lost commit
}

func loseOutput(r *pipelineRun) {
	rs := r.out[1]
	r.out[1] = append(rs[:3:3], rs[4:]...)
}

func swapOutputs(r *pipelineRun) {
	rs := r.out[2]
	rs[5], rs[6] = rs[6], rs[5]
}

func wrongSum(r *pipelineRun) {
	rec := r.out[0][7]
	cp := *rec
	// Rewrite the sum, keeping every other field.
	var key string
	var count int
	var sum, mn, mx float64
	var et, off int64
	var topic string
	var p int32
	if _, err := fmt.Sscanf(string(rec.Value), `{"key":%q,"count":%d,"sum":%g,"min":%g,"max":%g,"event_time":%d,"source":{"topic":%q,"partition":%d,"offset":%d}}`,
		&key, &count, &sum, &mn, &mx, &et, &topic, &p, &off); err != nil {
		panic(fmt.Sprintf("parse %s: %v", rec.Value, err))
	}
	cp.Value = outputJSON(key, count, sum+0.01, mn, mx, et, topic, p, off)
	r.out[0][7] = &cp
}

func commitBehind(r *pipelineRun) { r.committed[0] -= 3 }
