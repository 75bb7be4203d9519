package verify

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/internal/gen"
	"github.com/kappa-stream/kappa/pipeline"
)

// windowTestRun builds what a correct window pipeline writes for the given input records
// (from gen, with partitions, offsets and timestamps): window records, dead letters and late
// records, and the group's offsets at the end of the input.
//
// It is a second model of spec section 4, formulated differently from the verifier's
// incremental one so that the two check each other. Per partition, with wm[i] the largest
// event time of the valid records up to record i minus the out-of-orderness:
//   - a window W of a key exists when a record of the key at t in W joins it, i.e.
//     wm[i] < W.end + grace;
//   - W closes at the first record k after its first member with wm[k] >= W.end + grace, with
//     watermark wm[k]; its members are all valid records of the key before k with t in W
//     (before k the watermark is below W's close, so none of them was refused);
//   - emissions are ordered by k, then (end, key, start); a record is late when its latest
//     window is closed at wm[i].
//
// Records are decoded with gen's own account (Txn), not the verifier's decoder: input holds
// records [0, len(input)) of g, each partition's in index order from offset 0 (as
// gen.ProduceRange writes them).
func windowTestRun(g *gen.Cards, w *pipeline.Window, outOfOrder time.Duration, input []*kgo.Record, output, dlq, late string) *pipelineRun {
	size, grace, ooo := w.Size.Milliseconds(), w.Grace.Milliseconds(), outOfOrder.Milliseconds()
	advance := w.Advance.Milliseconds()
	if w.Type == pipeline.WindowTumbling {
		advance = size
	}
	r := &pipelineRun{
		input: input, out: map[int32][]*kgo.Record{}, dlq: map[int32][]*kgo.Record{},
		late: map[int32][]*kgo.Record{}, committed: map[int32]int64{},
	}
	byPart := map[int32][]*kgo.Record{}
	for _, rec := range input {
		byPart[rec.Partition] = append(byPart[rec.Partition], rec)
		r.committed[rec.Partition] = max(r.committed[rec.Partition], rec.Offset+1)
	}
	source := func(rec *kgo.Record) []kgo.RecordHeader {
		return []kgo.RecordHeader{
			{Key: HeaderTopic, Value: []byte(rec.Topic)},
			{Key: HeaderPartition, Value: []byte(strconv.Itoa(int(rec.Partition)))},
			{Key: HeaderOffset, Value: []byte(strconv.FormatInt(rec.Offset, 10))},
			{Key: HeaderTimestamp, Value: []byte(strconv.FormatInt(rec.Timestamp.UnixMilli(), 10))},
		}
	}
	index := map[int32][]int64{} // by partition and offset: the record's index in g
	for i := range int64(len(input)) {
		p, _, _ := g.Record(i)
		index[p] = append(index[p], i)
	}
	for _, p := range sortedKeys(byPart) {
		var vs []testMember
		var wm []int64
		for _, rec := range byPart[p] {
			tx, ok := g.Txn(index[p][rec.Offset])
			if !ok {
				r.dlq[p] = append(r.dlq[p], &kgo.Record{
					Topic: dlq, Partition: p, Key: rec.Key, Value: rec.Value,
					Headers: append([]kgo.RecordHeader{{Key: "kappa.dlq.reason", Value: []byte(gen.KindReason(g.BadKind(index[p][rec.Offset])))}}, source(rec)...),
				})
				continue
			}
			stream := tx.EventTime
			if len(wm) > 0 {
				stream = max(stream, wm[len(wm)-1]+ooo)
			}
			vs = append(vs, testMember{len(vs), rec, tx})
			wm = append(wm, stream-ooo)
		}
		startsOf := func(t int64) (starts []int64) {
			for s := t - t%advance; s > t-size; s -= advance { // event times are positive
				starts = append([]int64{s}, starts...)
			}
			return starts
		}
		type win struct {
			key        string
			start, end int64
		}
		first := map[win]int{} // window -> index of its first member
		for _, v := range vs {
			starts := startsOf(v.tx.EventTime)
			joined := false
			for _, s := range starts {
				w := win{v.tx.Card, s, s + size}
				if wm[v.i] < w.end+grace {
					joined = true
					if _, ok := first[w]; !ok {
						first[w] = v.i
					}
				}
			}
			if !joined {
				s := starts[len(starts)-1]
				h := append(slices.Clone(v.rec.Headers), source(v.rec)...)
				h = append(h,
					kgo.RecordHeader{Key: HeaderLateWindowStart, Value: []byte(strconv.FormatInt(s, 10))},
					kgo.RecordHeader{Key: HeaderLateWindowEnd, Value: []byte(strconv.FormatInt(s+size, 10))},
					kgo.RecordHeader{Key: HeaderLateWatermark, Value: []byte(strconv.FormatInt(wm[v.i], 10))},
					kgo.RecordHeader{Key: HeaderLateLatenessMs, Value: []byte(strconv.FormatInt(wm[v.i]-v.tx.EventTime, 10))},
				)
				r.late[p] = append(r.late[p], &kgo.Record{Topic: late, Partition: p, Key: v.rec.Key, Value: v.rec.Value, Headers: h})
			}
		}
		type emission struct {
			k int
			w win
		}
		var ems []emission
		for w, f := range first {
			k := f + sort.Search(len(wm)-f, func(j int) bool { return wm[f+j] >= w.end+grace })
			if k < len(wm) {
				ems = append(ems, emission{k, w})
			}
		}
		sort.Slice(ems, func(a, b int) bool {
			x, y := ems[a], ems[b]
			if x.k != y.k {
				return x.k < y.k
			}
			if x.w.end != y.w.end {
				return x.w.end < y.w.end
			}
			if x.w.key != y.w.key {
				return x.w.key < y.w.key
			}
			return x.w.start < y.w.start
		})
		for _, e := range ems {
			var ms []testMember
			for _, v := range vs[:e.k] {
				if v.tx.Card == e.w.key && e.w.start <= v.tx.EventTime && v.tx.EventTime < e.w.end {
					ms = append(ms, v)
				}
			}
			var aggs []string
			for _, a := range w.Aggregates {
				aggs = append(aggs, fmt.Sprintf("%q:%s", a.Name(), testAggregate(a.Func, ms)))
			}
			r.out[p] = append(r.out[p], &kgo.Record{
				Topic: output, Partition: p,
				Key: fmt.Appendf(nil, `{"key":%q,"start":%d,"end":%d}`, e.w.key, e.w.start, e.w.end),
				Value: fmt.Appendf(nil, `{"key":%q,"window":{"start":%d,"end":%d},"emit":"final","watermark":%d,"aggregates":{%s}}`,
					e.w.key, e.w.start, e.w.end, wm[e.k], strings.Join(aggs, ",")),
			})
		}
	}
	return r
}

// testMember is a valid input record of a partition.
type testMember struct {
	i   int // index among the partition's valid records
	rec *kgo.Record
	tx  gen.Txn
}

// testAggregate computes one aggregate of the amounts of ms, which are in offset order.
func testAggregate(fn pipeline.AggFunc, ms []testMember) string {
	amounts := make([]float64, len(ms))
	for j, m := range ms {
		amounts[j] = m.tx.Amount
	}
	f := func(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
	sum := amounts[0]
	for _, a := range amounts[1:] {
		sum += a
	}
	byTime := slices.Clone(ms)
	slices.SortStableFunc(byTime, func(a, b testMember) int { return int(a.tx.EventTime - b.tx.EventTime) }) // stable: ties by offset
	switch fn {
	case pipeline.AggCount:
		return strconv.Itoa(len(ms))
	case pipeline.AggSum:
		return f(sum)
	case pipeline.AggMin:
		return f(slices.Min(amounts))
	case pipeline.AggMax:
		return f(slices.Max(amounts))
	case pipeline.AggAvg:
		return f(sum / float64(len(ms)))
	case pipeline.AggFirst:
		return f(byTime[0].tx.Amount)
	case pipeline.AggLast:
		return f(byTime[len(byTime)-1].tx.Amount)
	}
	panic("unknown aggregate " + string(fn))
}

// testInput returns records [0, n) of g as a pipeline reads them: per partition from offset
// 0, with distinct timestamps.
func testInput(g *gen.Cards, topic string, n int64) []*kgo.Record {
	var recs []*kgo.Record
	next := map[int32]int64{}
	for i := range n {
		p, k, v := g.Record(i)
		recs = append(recs, &kgo.Record{
			Topic: topic, Partition: p, Offset: next[p], Key: k, Value: v,
			Timestamp: time.UnixMilli(1_800_000_000_000 + i),
		})
		next[p]++
	}
	return recs
}
