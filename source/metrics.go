package source

import (
	"fmt"
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the source's metrics. Create them once per process: clients are rebuilt after
// failures, metrics are not.
type Metrics struct {
	lag *prometheus.GaugeVec

	mu     sync.Mutex
	lagNow map[lagKey]int64
}

type lagKey struct {
	topic     string
	partition int32
}

// NewMetrics registers the source's metrics on reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "kappa_source_consumer_lag_records",
			Help: "Records in the partition after the last one fetched (high watermark minus next offset), as of the last fetch.",
		}, []string{"topic", "partition"}),
		lagNow: map[lagKey]int64{},
	}
	if err := reg.Register(m.lag); err != nil {
		return nil, fmt.Errorf("source: register metrics: %w", err)
	}
	return m, nil
}

func (m *Metrics) setLag(topic string, partition int32, lag int64) {
	m.lag.WithLabelValues(topic, strconv.Itoa(int(partition))).Set(float64(lag))
	m.mu.Lock()
	m.lagNow[lagKey{topic, partition}] = lag
	m.mu.Unlock()
}

// Lag returns the sum of the last lag seen on each partition.
func (m *Metrics) Lag() int64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var sum int64
	for _, l := range m.lagNow {
		sum += l
	}
	return sum
}
