package drift_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/kappa-stream/kappa/drift"
)

// BenchmarkMonitorAdd measures one record (ns/op, allocs/op) of a steady stream: 10 records
// per second of event time, 10-minute windows every minute, 10-bin lognormal references.
// A window ends every 600 records; its results are the only allocations.
func BenchmarkMonitorAdd(b *testing.B) {
	ref := lognormalBins(b)
	for _, series := range []int{1, 3} {
		b.Run(fmt.Sprintf("series=%d", series), func(b *testing.B) {
			c := drift.Config{Window: 10 * minute, Every: minute, MinRecords: 500}
			for range series {
				c.Series = append(c.Series, ref)
			}
			m := newMonitor(b, c)
			r := rand.New(rand.NewPCG(1, 1))
			values := make([][]float64, 4096)
			for i := range values {
				values[i] = make([]float64, series)
				for j := range values[i] {
					values[i][j] = lognormal(r)
				}
			}
			dst := make([]drift.Result, 0, 8)
			ts := int64(0)
			b.ReportAllocs()
			for b.Loop() {
				dst, _ = m.Add(dst[:0], ts, values[ts/100%4096])
				ts += 100
			}
		})
	}
}
