package kafkatest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Environment variables that choose the broker.
const (
	// EnvBrokers names a running cluster, as comma-separated host:port seeds.
	EnvBrokers = "KAFKA_BROKERS"
	// EnvTestcontainers set to 1 opts in to a Kafka container when a Docker engine answers.
	EnvTestcontainers = "KAPPA_TESTCONTAINERS"
	// EnvRequireReal set to 1 makes a missing real broker a failure instead of a skip or a
	// fallback to the in-process cluster.
	EnvRequireReal = "KAPPA_REQUIRE_REAL_KAFKA"
)

// Kind says what kind of cluster a [Broker] is.
type Kind string

// The kinds of cluster a test can get.
const (
	InProcess      Kind = "in-process" // franz-go kfake, inside the test binary
	External       Kind = "external"   // a real cluster named by KAFKA_BROKERS
	Testcontainers Kind = "testcontainers"
)

// Broker is a Kafka cluster for one test. Its topics and clients are cleaned up when the test
// ends.
type Broker struct {
	// Kind says where the cluster runs.
	Kind Kind
	// Addrs are the seed brokers, host:port.
	Addrs []string
	// ClientOpts are added to every client the Broker makes ([Broker.Client],
	// [Broker.Admin], [Broker.CreateTopic]): the TLS and SASL options of a secured
	// in-process broker.
	ClientOpts []kgo.Opt

	t       testing.TB
	cluster *kfake.Cluster // nil unless Kind is InProcess
}

// New returns the cluster the environment names (see the package doc) and logs which one it
// is. It fails the test if KAPPA_REQUIRE_REAL_KAFKA=1 and no real cluster is named.
func New(t testing.TB) *Broker {
	t.Helper()
	if b := realBroker(t); b != nil {
		return b
	}
	if requireReal() {
		t.Fatalf("kafkatest: %s=1 but no real broker is given: set %s (make kafka-up prints it) or %s=1 with a Docker engine",
			EnvRequireReal, EnvBrokers, EnvTestcontainers)
	}
	return NewInProcess(t)
}

// Real returns a real Kafka cluster (KAFKA_BROKERS, or a testcontainers Kafka when opted
// in). Without one it skips the test, printing why, or fails it when
// KAPPA_REQUIRE_REAL_KAFKA=1.
func Real(t testing.TB) *Broker {
	t.Helper()
	if b := realBroker(t); b != nil {
		return b
	}
	reason := fmt.Sprintf("needs a real Kafka broker: set %s=host:port (make kafka-up starts one) or %s=1 with a Docker engine",
		EnvBrokers, EnvTestcontainers)
	if requireReal() {
		t.Fatalf("kafkatest: %s=1 and this test %s", EnvRequireReal, reason)
	}
	t.Skip("kafkatest: skipped: this test " + reason)
	return nil
}

// NewInProcess returns a new single-node in-process kfake cluster, whatever the environment
// says. Use it for tests that need broker controls only kfake has (fault injection,
// on-demand compaction).
func NewInProcess(t testing.TB, opts ...kfake.Opt) *Broker {
	t.Helper()
	logger := &kfakeLogger{t: t}
	t.Cleanup(logger.stop) // registered first, so it runs after the cluster has closed
	base := []kfake.Opt{
		kfake.NumBrokers(1),
		kfake.GroupMinSessionTimeout(100 * time.Millisecond),
		kfake.WithLogger(logger),
	}
	c, err := kfake.NewCluster(append(base, opts...)...)
	if err != nil {
		t.Fatalf("kafkatest: start in-process cluster: %v", err)
	}
	t.Cleanup(c.Close)
	b := &Broker{Kind: InProcess, Addrs: c.ListenAddrs(), t: t, cluster: c}
	t.Logf("kafkatest: broker kind=%s addrs=%s", b.Kind, strings.Join(b.Addrs, ","))
	return b
}

// realBroker returns the real cluster the environment names, or nil.
func realBroker(t testing.TB) *Broker {
	t.Helper()
	if v := strings.TrimSpace(os.Getenv(EnvBrokers)); v != "" {
		b := &Broker{Kind: External, Addrs: strings.Split(v, ","), t: t}
		t.Logf("kafkatest: broker kind=%s addrs=%s (from %s)", b.Kind, v, EnvBrokers)
		return b
	}
	if os.Getenv(EnvTestcontainers) == "1" {
		addrs, err := sharedContainer()
		if err != nil {
			if requireReal() {
				t.Fatalf("kafkatest: %s=1 but the Kafka container is not available: %v", EnvTestcontainers, err)
			}
			t.Logf("kafkatest: %s=1 but the Kafka container is not available, falling back: %v", EnvTestcontainers, err)
			return nil
		}
		b := &Broker{Kind: Testcontainers, Addrs: addrs, t: t}
		t.Logf("kafkatest: broker kind=%s addrs=%s", b.Kind, strings.Join(addrs, ","))
		return b
	}
	return nil
}

func requireReal() bool { return os.Getenv(EnvRequireReal) == "1" }

// Cluster returns the in-process kfake cluster, for tests that drive its controls. It fails
// the test when the broker is not in-process.
func (b *Broker) Cluster() *kfake.Cluster {
	b.t.Helper()
	if b.cluster == nil {
		b.t.Fatalf("kafkatest: Cluster needs an in-process broker; this one is %s", b.Kind)
	}
	return b.cluster
}

// Client returns a client seeded with the broker's addresses plus opts, closed when the test
// ends.
func (b *Broker) Client(opts ...kgo.Opt) *kgo.Client {
	b.t.Helper()
	base := append([]kgo.Opt{kgo.SeedBrokers(b.Addrs...)}, b.ClientOpts...)
	cl, err := kgo.NewClient(append(base, opts...)...)
	if err != nil {
		b.t.Fatalf("kafkatest: new client: %v", err)
	}
	b.t.Cleanup(cl.Close)
	return cl
}

// Admin returns an admin client for the broker, closed when the test ends.
func (b *Broker) Admin() *kadm.Client {
	b.t.Helper()
	return kadm.NewClient(b.Client())
}

// CreateTopic creates a topic with a name unique to this test run, the given partition count
// and configs (nil for the broker's defaults), and deletes it when the test ends. It returns
// the topic's name.
func (b *Broker) CreateTopic(partitions int32, configs map[string]*string) string {
	b.t.Helper()
	name := Name(b.t, "topic")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm := b.Admin()
	resp, err := adm.CreateTopic(ctx, partitions, -1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		b.t.Fatalf("kafkatest: create topic %s: %v", name, err)
	}
	b.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := adm.DeleteTopics(ctx, name); err != nil {
			b.t.Logf("kafkatest: delete topic %s: %v", name, err)
		}
	})
	return name
}

// Group returns a consumer group name unique to this test run.
func (b *Broker) Group() string {
	b.t.Helper()
	return Name(b.t, "group")
}

var unsafeName = regexp.MustCompile(`[^a-zA-Z0-9._-]+`)

// Name returns a Kafka-safe name unique to this test run: the test's name, a kind and a
// random suffix, so reruns and parallel tests never share topics, groups or transactional
// ids on a long-lived broker.
func Name(t testing.TB, kind string) string {
	t.Helper()
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		t.Fatalf("kafkatest: random name suffix: %v", err)
	}
	base := unsafeName.ReplaceAllString(t.Name(), "_")
	if len(base) > 180 {
		base = base[:180]
	}
	return fmt.Sprintf("%s.%s.%s", base, kind, hex.EncodeToString(r[:]))
}

// kfakeLogger sends the in-process cluster's warnings and errors to the test log, and drops
// them once the test has ended (testing panics on a log after a test completes).
type kfakeLogger struct {
	t       testing.TB
	mu      sync.Mutex
	stopped bool
}

func (l *kfakeLogger) Logf(level kfake.LogLevel, msg string, args ...any) {
	if level > kfake.LogLevelWarn {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.stopped {
		l.t.Logf("kfake: "+msg, args...)
	}
}

func (l *kfakeLogger) stop() {
	l.mu.Lock()
	l.stopped = true
	l.mu.Unlock()
}
