package source_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/internal/kafkatest"
	"github.com/kappa-stream/kappa/model"
	"github.com/kappa-stream/kappa/source"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

// TestChangelogBoundsWaitsForOpenTransaction: a restore must not start while a previous
// owner's transaction is open on the changelog partition, or it would stop short of records
// that commit a moment later.
func TestChangelogBoundsWaitsForOpenTransaction(t *testing.T) {
	b := kafkatest.New(t)
	topic := b.CreateTopic(1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	// Two committed records, then a transaction left open with one more.
	txn := b.Client(kgo.TransactionalID(kafkatest.Name(t, "txn")), kgo.DefaultProduceTopic(topic))
	produceTxn := func(n int, commit bool) {
		t.Helper()
		if err := txn.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for range n {
			if err := txn.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: []byte("v")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if commit {
			if err := txn.EndTransaction(ctx, kgo.TryCommit); err != nil {
				t.Fatal(err)
			}
		}
	}
	produceTxn(2, true)
	produceTxn(1, false)

	cl, err := source.NewChangelog(topic, kgo.SeedBrokers(b.Addrs...))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	cl.StableTimeout = 300 * time.Millisecond
	if _, _, err := cl.Bounds(ctx, 0); err == nil || !strings.Contains(err.Error(), "transaction open") {
		t.Fatalf("Bounds with a transaction open = %v, want an error naming the open transaction", err)
	}

	cl.StableTimeout = 30 * time.Second
	go func() {
		time.Sleep(300 * time.Millisecond)
		_ = txn.EndTransaction(ctx, kgo.TryCommit)
	}()
	start, end, err := cl.Bounds(ctx, 0)
	if err != nil {
		t.Fatalf("Bounds after the commit: %v", err)
	}
	// Records at 0, 1 (commit marker 2), 3 (commit marker 4): the end is past the second marker.
	if start != 0 || end != 5 {
		t.Fatalf("Bounds = [%d, %d), want [0, 5)", start, end)
	}

	var got []model.Record
	if err := cl.Read(ctx, 0, start, end, func(rs []model.Record) error {
		got = append(got, rs...)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[2].Offset != 3 {
		t.Fatalf("Read returned %d records (last %+v), want the 3 committed data records", len(got), got[len(got)-1].Position)
	}
}
