package sinks_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/kappa-stream/kappa/internal/kafkatest"
	"github.com/kappa-stream/kappa/sinks"
)

func TestMain(m *testing.M) { kafkatest.Main(m) }

func TestEnsureTopics(t *testing.T) {
	b := kafkatest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	adm := b.Admin()
	in := b.CreateTopic(3, nil)
	base := kafkatest.Name(t, "pipe")
	topics := sinks.Topics{Inputs: []string{in}, Output: base + "-out", Changelog: base + "-changelog", DeadLetter: base + "-dlq"}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = adm.DeleteTopics(ctx, topics.Output, topics.Changelog, topics.DeadLetter)
	})

	for range 2 { // creates, then finds everything in place
		n, err := sinks.EnsureTopics(ctx, adm, topics)
		if err != nil || n != 3 {
			t.Fatalf("EnsureTopics = %d, %v; want 3, nil", n, err)
		}
	}
	// A second client: kadm caches metadata, and the first one saw the topics missing.
	check := b.Admin()
	details, err := check.ListTopics(ctx, topics.Output, topics.Changelog, topics.DeadLetter)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{topics.Output, topics.Changelog, topics.DeadLetter} {
		d, ok := details[name]
		if !ok || d.Err != nil || len(d.Partitions) != 3 {
			t.Errorf("%s: listed=%v err=%v partitions=%d, want 3 partitions", name, ok, d.Err, len(d.Partitions))
		}
	}
	cfgs, err := check.DescribeTopicConfigs(ctx, topics.Changelog)
	if err != nil {
		t.Fatal(err)
	}
	policy := ""
	for _, rc := range cfgs {
		for _, c := range rc.Configs {
			if c.Key == "cleanup.policy" && c.Value != nil {
				policy = *c.Value
			}
		}
	}
	if policy != "compact" {
		t.Errorf("changelog cleanup.policy = %q, want compact", policy)
	}
}

func TestEnsureTopicsRefuses(t *testing.T) {
	b := kafkatest.New(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	adm := b.Admin()
	in := b.CreateTopic(3, nil)
	small := b.CreateTopic(2, nil)
	deleteCompact := "delete"
	notCompacted := b.CreateTopic(3, map[string]*string{"cleanup.policy": &deleteCompact})
	absent := kafkatest.Name(t, "absent") // never created by the test itself
	fresh := func(suffix string) string { return absent + "-" + suffix }

	tests := []struct {
		name   string
		topics sinks.Topics
		want   string
	}{
		{"missing input", sinks.Topics{Inputs: []string{fresh("in")}, Output: fresh("o"), Changelog: fresh("c"), DeadLetter: fresh("d")}, "does not exist"},
		{"inputs not co-partitioned", sinks.Topics{Inputs: []string{in, small}, Output: fresh("o"), Changelog: fresh("c"), DeadLetter: fresh("d")}, "co-partitioned"},
		{"output too small", sinks.Topics{Inputs: []string{in}, Output: small, Changelog: fresh("c"), DeadLetter: fresh("d")}, "output topic"},
		{"changelog partitions differ", sinks.Topics{Inputs: []string{in}, Output: fresh("o"), Changelog: small, DeadLetter: fresh("d")}, "changelog topic"},
		{"changelog not compacted", sinks.Topics{Inputs: []string{in}, Output: fresh("o"), Changelog: notCompacted, DeadLetter: fresh("d")}, "must be compacted"},
		{"dead-letter too small", sinks.Topics{Inputs: []string{in}, Output: fresh("o"), Changelog: fresh("c"), DeadLetter: small}, "dead-letter topic"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				_, _ = adm.DeleteTopics(ctx, fresh("o"), fresh("c"), fresh("d"))
			})
			_, err := sinks.EnsureTopics(ctx, adm, tt.topics)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("EnsureTopics error = %v, want one containing %q", err, tt.want)
			}
		})
	}
}
