package kafkatest_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/internal/kafkatest"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

// TestSmokeExactlyOnceCopy proves a broker supports what Kappa's commit protocol needs:
// topics, a transactional GroupTransactSession reading read_committed, aborts that rewind,
// and a read_committed reader that sees every copied record exactly once.
func TestSmokeExactlyOnceCopy(t *testing.T) {
	modes := []struct {
		name   string
		broker func(t *testing.T) *kafkatest.Broker
	}{
		{"in-process", func(t *testing.T) *kafkatest.Broker { return kafkatest.NewInProcess(t) }},
		{"real", func(t *testing.T) *kafkatest.Broker { return kafkatest.Real(t) }},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			b := m.broker(t)
			testExactlyOnceCopy(t, b)
		})
	}
}

func testExactlyOnceCopy(t *testing.T, b *kafkatest.Broker) {
	const (
		partitions = 3
		n          = 600
	)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	in := b.CreateTopic(partitions, nil)
	out := b.CreateTopic(partitions, nil)

	// Produce n keyed records with values 0..n-1.
	prod := b.Client(kgo.DefaultProduceTopic(in))
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Key: []byte("k" + strconv.Itoa(i%17)), Value: []byte(strconv.Itoa(i))}
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce input: %v", err)
	}

	// Copy in -> out with a transactional session. The first transaction aborts on purpose:
	// its outputs must never be visible and its records must be copied again.
	sess, err := kgo.NewGroupTransactSession(
		kgo.SeedBrokers(b.Addrs...),
		kgo.TransactionalID(kafkatest.Name(t, "txn")),
		kgo.TransactionTimeout(20*time.Second),
		kgo.ConsumerGroup(b.Group()),
		kgo.ConsumeTopics(in),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.Balancers(kgo.CooperativeStickyBalancer()),
		kgo.DefaultProduceTopic(out),
	)
	if err != nil {
		t.Fatalf("new session: %v", err)
	}
	defer sess.Close()

	copied, aborted := 0, 0
	for copied < n {
		fs := sess.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("copied %d of %d records before the deadline: %v", copied, n, err)
		}
		fs.EachError(func(topic string, p int32, err error) {
			t.Logf("fetch error %s/%d: %v", topic, p, err)
		})
		if fs.NumRecords() == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			t.Fatalf("begin: %v", err)
		}
		e := kgo.AbortingFirstErrPromise(sess.Client())
		fs.EachRecord(func(r *kgo.Record) {
			sess.Produce(ctx, &kgo.Record{Key: r.Key, Value: r.Value, Partition: r.Partition}, e.Promise())
		})
		try := kgo.TransactionEndTry(e.Err() == nil)
		abortOnPurpose := aborted == 0
		if abortOnPurpose {
			try = kgo.TryAbort
		}
		committed, err := sess.End(ctx, try)
		if err != nil {
			t.Fatalf("end transaction: %v", err)
		}
		switch {
		case committed:
			copied += fs.NumRecords()
		case abortOnPurpose:
			aborted += fs.NumRecords()
		default:
			t.Logf("transaction of %d records aborted by the session; they are fetched again", fs.NumRecords())
		}
	}
	if copied != n {
		t.Fatalf("committed copies of %d records, want %d", copied, n)
	}
	t.Logf("copied %d records in committed transactions after aborting %d on purpose", copied, aborted)

	// Read the output read_committed: every value exactly once, nothing from the abort.
	rd := b.Client(
		kgo.ConsumeTopics(out),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	)
	seen := make(map[string]int, n)
	total := 0
	for total < n {
		fs := rd.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("read %d of %d output records before the deadline: %v", total, n, err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)]++
			total++
		})
	}
	// Anything still in flight would be a duplicate; give it a moment to show up.
	extra, cancelExtra := context.WithTimeout(ctx, time.Second)
	rd.PollFetches(extra).EachRecord(func(r *kgo.Record) {
		seen[string(r.Value)]++
		total++
	})
	cancelExtra()

	for i := range n {
		v := strconv.Itoa(i)
		if c := seen[v]; c != 1 {
			t.Errorf("value %s: got %d copies, want 1", v, c)
		}
	}
	if total != n {
		t.Errorf("got %d output records, want %d", total, n)
	}
	t.Logf("smoke: broker=%s addrs=%s records=%d exactly_once=%v", b.Kind, strings.Join(b.Addrs, ","), n, !t.Failed())
}
