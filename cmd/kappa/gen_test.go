package main

import (
	"context"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kappa-stream/kappa/internal/kafkatest"
)

// TestGen produces a fixed number of records with `kappa gen` and counts them on the topic
// it created.
func TestGen(t *testing.T) {
	b := kafkatest.New(t)
	topic := kafkatest.Name(t, "gen")
	var stdout, stderr strings.Builder
	err := run(context.Background(), []string{
		"gen", "--brokers", strings.Join(b.Addrs, ","), "--topic", topic,
		"--partitions", "3", "--records", "700",
	}, &stdout, &stderr)
	if err != nil {
		t.Fatalf("gen: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stdout.String(), "kappa gen: 700 records produced") {
		t.Fatalf("stdout: %s", stdout.String())
	}
	ends, err := b.Admin().ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	var sum int64
	parts := 0
	ends.Each(func(o kadm.ListedOffset) { sum += o.Offset; parts++ })
	if sum != 700 || parts != 3 {
		t.Fatalf("topic holds %d records in %d partitions, want 700 in 3", sum, parts)
	}
	if err := run(context.Background(), []string{"gen", "--topic", topic}, &stdout, &stderr); err == nil ||
		!strings.Contains(err.Error(), "--brokers") {
		t.Fatalf("gen without brokers: %v, want the usage error naming --brokers", err)
	}
}
