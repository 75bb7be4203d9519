package drift_test

import (
	"fmt"
	"math"

	"github.com/kappa-stream/kappa/drift"
)

// A reference made from the values 0 to 99 in 4 bins, then the reference file.
func ExampleProfiler() {
	p, err := drift.NewProfiler([]string{"amount"}, false, 4, 1000)
	if err != nil {
		panic(err)
	}
	for i := range 100 {
		p.AddFeature(0, float64(i))
	}
	p.AddFeature(0, math.NaN()) // a record without the amount
	ref, err := p.Reference("fraud", "example values")
	if err != nil {
		panic(err)
	}
	data, err := ref.Marshal()
	if err != nil {
		panic(err)
	}
	fmt.Print(string(data))
	// Output:
	// {
	//   "version": 1,
	//   "pipeline": "fraud",
	//   "source": "example values",
	//   "features": {
	//     "amount": {
	//       "edges": [
	//         25,
	//         50,
	//         75
	//       ],
	//       "proportions": [
	//         0.24752475247524752,
	//         0.24752475247524752,
	//         0.24752475247524752,
	//         0.24752475247524752,
	//         0.009900990099009901
	//       ],
	//       "records": 101
	//     }
	//   }
	// }
}

// The PSI of 2-minute windows every minute against a reference of two equal halves, for
// a record every 10 s: the values move to the upper half from minute 2. The first window
// holds only the first minute's records.
func ExampleMonitor() {
	const minute = 60_000
	ref := &drift.Bins{Edges: []float64{10}, Proportions: []float64{0.5, 0.5, 0}}
	m, err := drift.NewMonitor(drift.Config{Series: []*drift.Bins{ref}, Window: 2 * minute, Every: minute, MinRecords: 4})
	if err != nil {
		panic(err)
	}
	var results []drift.Result
	for t := int64(0); t <= 5*minute; t += 10_000 {
		v := 5.0 // alternately below and above the edge, then only above
		if t/10_000%2 == 1 || t >= 2*minute {
			v = 15
		}
		results, _ = m.Add(results, t, []float64{v})
	}
	for _, r := range results {
		fmt.Printf("[%d, %d) min: %d records, counts %v, PSI %.3f\n", r.Start/minute, r.End/minute, r.Records, r.Counts, r.PSI)
	}
	// Output:
	// [-1, 1) min: 6 records, counts [3 3 0], PSI 0.000
	// [0, 2) min: 12 records, counts [6 6 0], PSI 0.000
	// [1, 3) min: 12 records, counts [3 9 0], PSI 0.275
	// [2, 4) min: 12 records, counts [0 12 0], PSI 4.604
	// [3, 5) min: 12 records, counts [0 12 0], PSI 4.604
}
