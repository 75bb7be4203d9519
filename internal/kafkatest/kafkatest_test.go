package kafkatest_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/kappa-stream/kappa/internal/kafkatest"
)

func TestNewPicksTheBrokerFromTheEnvironment(t *testing.T) {
	t.Run("KAFKA_BROKERS names an external cluster", func(t *testing.T) {
		t.Setenv(kafkatest.EnvBrokers, "10.1.2.3:9092,10.1.2.4:9092")
		t.Setenv(kafkatest.EnvTestcontainers, "")
		b := kafkatest.New(t) // records the addresses; dials nothing
		if b.Kind != kafkatest.External {
			t.Fatalf("kind: got %s, want %s", b.Kind, kafkatest.External)
		}
		if got, want := strings.Join(b.Addrs, ","), "10.1.2.3:9092,10.1.2.4:9092"; got != want {
			t.Fatalf("addrs: got %s, want %s", got, want)
		}
	})
	t.Run("nothing set gives an in-process cluster", func(t *testing.T) {
		t.Setenv(kafkatest.EnvBrokers, "")
		t.Setenv(kafkatest.EnvTestcontainers, "")
		t.Setenv(kafkatest.EnvRequireReal, "")
		b := kafkatest.New(t)
		if b.Kind != kafkatest.InProcess || len(b.Addrs) != 1 {
			t.Fatalf("got kind %s with %d addrs, want %s with 1", b.Kind, len(b.Addrs), kafkatest.InProcess)
		}
		if b.Cluster() == nil {
			t.Fatal("Cluster: got nil for an in-process broker")
		}
	})
}

func TestNameIsUniqueAndKafkaSafe(t *testing.T) {
	valid := regexp.MustCompile(`^[a-zA-Z0-9._-]{1,249}$`)
	seen := map[string]bool{}
	for range 100 {
		n := kafkatest.Name(t, "topic")
		if !valid.MatchString(n) {
			t.Fatalf("name %q is not a valid Kafka topic name", n)
		}
		if seen[n] {
			t.Fatalf("name %q returned twice", n)
		}
		seen[n] = true
	}
	t.Run("odd characters / and spaces", func(t *testing.T) {
		if n := kafkatest.Name(t, "group"); !valid.MatchString(n) {
			t.Fatalf("name %q is not a valid Kafka topic name", n)
		}
	})
}
