package kafkatest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/testcontainers/testcontainers-go"
	tckafka "github.com/testcontainers/testcontainers-go/modules/kafka"
)

// ContainerImage is the Kafka image started when KAPPA_TESTCONTAINERS=1. The testcontainers
// Kafka module works only with confluentinc/confluent-local 7.4 or later.
const ContainerImage = "confluentinc/confluent-local:7.5.0"

var container struct {
	once  sync.Once
	addrs []string
	err   error
	c     *tckafka.KafkaContainer
}

// sharedContainer starts the package's Kafka container on first use and returns its
// addresses. One container serves all tests of a test binary; [Main] terminates it.
func sharedContainer() ([]string, error) {
	container.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		if err := dockerHealthy(ctx); err != nil {
			container.err = fmt.Errorf("no Docker engine answers: %w", err)
			return
		}
		c, err := tckafka.Run(ctx, ContainerImage, tckafka.WithClusterID("kappa-test"))
		if err != nil {
			container.err = fmt.Errorf("start %s: %w", ContainerImage, err)
			if c != nil {
				_ = c.Terminate(context.Background())
			}
			return
		}
		container.c = c
		container.addrs, container.err = c.Brokers(ctx)
	})
	return container.addrs, container.err
}

// dockerHealthy reports whether a Docker engine answers, without panicking when none is
// configured.
func dockerHealthy(ctx context.Context) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("docker provider: %v", r)
		}
	}()
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return err
	}
	defer p.Close()
	return p.Health(ctx)
}

// Main runs a package's tests and then stops the Kafka container they shared, if one was
// started, and runs cleanups (for what the package's tests share). Call it from TestMain in
// packages whose tests use [New] or [Real]:
//
//	func TestMain(m *testing.M) { kafkatest.Main(m) }
func Main(m *testing.M, cleanups ...func()) {
	code := m.Run()
	for _, c := range cleanups {
		c()
	}
	if container.c != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if err := container.c.Terminate(ctx); err != nil && !errors.Is(err, context.Canceled) {
			fmt.Fprintf(os.Stderr, "kafkatest: terminate Kafka container: %v\n", err)
		}
		cancel()
	}
	os.Exit(code)
}
