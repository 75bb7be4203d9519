package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func main() {
	brokers := flag.String("brokers", "127.0.0.1:19092", "comma-separated seed brokers")
	timeout := flag.Duration("timeout", 2*time.Minute, "give up after this long")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	if err := wait(ctx, strings.Split(*brokers, ",")); err != nil {
		fmt.Fprintf(os.Stderr, "kafkaprobe: %s did not answer metadata within %s: %v\n", *brokers, *timeout, err)
		os.Exit(1)
	}
}

// wait polls the cluster's metadata until it lists at least one broker.
func wait(ctx context.Context, seeds []string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds...), kgo.RequestRetries(0), kgo.DialTimeout(2*time.Second))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)

	var last error
	for {
		reqCtx, cancel := context.WithTimeout(ctx, 3*time.Second)
		md, err := adm.BrokerMetadata(reqCtx)
		cancel()
		switch {
		case err != nil:
			last = err
		case len(md.Brokers) == 0:
			last = errors.New("metadata lists no brokers yet")
		default:
			return nil
		}
		select {
		case <-ctx.Done():
			return last
		case <-time.After(500 * time.Millisecond):
		}
	}
}
