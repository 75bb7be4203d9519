package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/internal/gen"
)

// runGen produces generated card transactions to a Kafka topic, as `kappa demo` does to its
// embedded broker: for the docker-compose stack and for trying a pipeline on a real cluster.
func runGen(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("gen", stderr)
	brokers := fs.String("brokers", os.Getenv("KAPPA_BROKERS"), "Kafka seed brokers, host:port[,host:port] (default $KAPPA_BROKERS)")
	topic := fs.String("topic", "transactions", "topic to produce to; created with --partitions when missing")
	partitions := fs.Int("partitions", 4, "partitions of the topic when it is created")
	rate := fs.Int("rate", 2000, "card transactions per second")
	cards := fs.Int("cards", gen.DefaultCards, "distinct cards")
	fraud := fs.Int("fraud", 5, "cards compromised at any time, the fraud pattern examples/fraud/model.json learned (0: none)")
	badEvery := fs.Int("bad-every", 500, "make one record in this many malformed (0: none)")
	records := fs.Int64("records", 0, "produce this many records as fast as the broker takes them, then stop (0: --rate per second until interrupted)")
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	switch {
	case *brokers == "":
		return usageError{"gen: --brokers host:port is required (or set KAPPA_BROKERS)"}
	case *rate <= 0:
		return usageError{fmt.Sprintf("gen: --rate %d: want more than 0", *rate)}
	case *partitions <= 0:
		return usageError{fmt.Sprintf("gen: --partitions %d: want more than 0", *partitions)}
	case *fraud < 0:
		return usageError{fmt.Sprintf("gen: --fraud %d: want 0 or more compromised cards", *fraud)}
	case *records < 0:
		return usageError{fmt.Sprintf("gen: --records %d: want 0 or more", *records)}
	}
	cl, err := kgo.NewClient(append(gen.ClientOpts(), kgo.SeedBrokers(strings.Split(*brokers, ",")...))...)
	if err != nil {
		return fmt.Errorf("gen: kafka client: %w", err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	if err := createIfMissing(ctx, adm, *topic, int32(*partitions)); err != nil {
		return err
	}
	// The partition count the topic has, which may differ from --partitions if it existed.
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	details, err := adm.ListTopics(tctx, *topic)
	cancel()
	if err != nil {
		return fmt.Errorf("gen: describe %s: %w", *topic, err)
	}
	n := int32(len(details[*topic].Partitions))
	if n == 0 {
		return fmt.Errorf("gen: topic %s has no partitions", *topic)
	}
	c := gen.Cards{
		Seed: uint64(time.Now().UnixNano()), Partitions: n, Cards: *cards, BadEvery: *badEvery,
		Start: time.Now(), Step: time.Second / time.Duration(*rate),
	}
	if *fraud > 0 {
		c.Fraud = gen.Fraud{Compromised: *fraud}
	}
	fmt.Fprintf(stdout, "kappa gen: %d transactions/s over %d cards to %s (%d partitions) at %s\n", *rate, *cards, *topic, n, *brokers)
	var sent int64
	if *records > 0 {
		sent, err = c.ProduceRange(ctx, cl, *topic, 0, *records)
	} else {
		sent, err = c.Run(ctx, cl, *topic, 0, *rate)
	}
	fmt.Fprintf(stdout, "kappa gen: %d records produced\n", sent)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("gen: %w", err)
	}
	return nil
}
