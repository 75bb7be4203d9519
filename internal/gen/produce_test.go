package gen_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/internal/gen"
	"github.com/kappa-stream/kappa/internal/kafkatest"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

func TestProduceWritesEveryRecordInOrder(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := kafkatest.New(t)
	const parts = 4
	topic := b.CreateTopic(parts, nil)
	c := gen.Cards{Seed: 5, Cards: 40, Partitions: parts, BadEvery: 50}
	cl := b.Client(gen.ClientOpts()...)

	n, err := c.Produce(ctx, cl, topic, 600)
	if err != nil || n != 600 {
		t.Fatalf("Produce: got %d, %v; want 600, nil", n, err)
	}
	n, err = c.ProduceRange(ctx, cl, topic, 600, 1000)
	if err != nil || n != 400 {
		t.Fatalf("ProduceRange(600, 1000): got %d, %v; want 400, nil", n, err)
	}
	checkTopic(ctx, t, b, topic, &c, 1000)
}

func TestRunProducesAtTheRate(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := kafkatest.New(t)
	topic := b.CreateTopic(3, nil)
	c := gen.Cards{Seed: 9, Partitions: 3, BadEvery: 20}
	cl := b.Client(gen.ClientOpts()...)

	runCtx, stop := context.WithTimeout(ctx, 500*time.Millisecond)
	defer stop()
	n, err := c.Run(runCtx, cl, topic, 0, 2000)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	// About 1000 records in half a second; the bounds only catch a broken pacer.
	if n < 100 || n > 2100 {
		t.Fatalf("Run at 2000/s for 0.5 s: got %d records, want about 1000", n)
	}
	checkTopic(ctx, t, b, topic, &c, n)
}

func TestProduceNeedsTheManualPartitioner(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	b := kafkatest.New(t)
	topic := b.CreateTopic(5, nil)
	c := gen.Cards{Seed: 2, Partitions: 5}
	_, err := c.Produce(ctx, b.Client(), topic, 200) // default partitioner: murmur2
	if !errors.Is(err, gen.ErrWrongPartitioner) {
		t.Fatalf("Produce with the default partitioner: got %v, want ErrWrongPartitioner", err)
	}
}

// checkTopic reads topic back and checks it holds exactly records [0, n) of c, each in its
// partition, in index order per partition.
func checkTopic(ctx context.Context, t *testing.T, b *kafkatest.Broker, topic string, c *gen.Cards, n int64) {
	t.Helper()
	want := map[int32][][2][]byte{}
	for i := range n {
		p, k, v := c.Record(i)
		want[p] = append(want[p], [2][]byte{k, v})
	}
	rd := b.Client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[int32]int{}
	var total int64
	for total < n {
		fs := rd.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d records: %v", total, n, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			total++
			i := got[r.Partition]
			got[r.Partition]++
			if i >= len(want[r.Partition]) {
				t.Fatalf("partition %d: more than the %d records wanted", r.Partition, len(want[r.Partition]))
			}
			w := want[r.Partition][i]
			if int64(i) != r.Offset || !bytes.Equal(r.Key, w[0]) || !bytes.Equal(r.Value, w[1]) {
				t.Fatalf("partition %d offset %d: got %q=%s, want record %d of the partition %q=%s",
					r.Partition, r.Offset, r.Key, r.Value, i, w[0], w[1])
			}
		})
	}
	ends, err := b.Admin().ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatalf("list end offsets: %v", err)
	}
	var end int64
	ends.Each(func(o kadm.ListedOffset) { end += o.Offset })
	if end != n {
		t.Fatalf("topic holds %d records, want %d", end, n)
	}
}
