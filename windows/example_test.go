package windows_test

import (
	"fmt"

	"github.com/kappa-stream/kappa/windows"
)

// Count, sum and max of a card's amounts over 10-minute windows advancing by 1 minute,
// emitted once per window when the watermark closes it.
func ExampleOperator() {
	const minute = 60_000
	def, err := windows.NewHopping(10*minute, minute)
	if err != nil {
		panic(err)
	}
	op, err := windows.NewOperator(def, windows.WithGrace(minute), windows.WithOutOfOrderness(30_000))
	if err != nil {
		panic(err)
	}
	in := []windows.Record{
		{Key: "card-1", EventTime: 9*minute + 10_000, Values: []windows.Value{{Num: 12.5}}, Seq: 1},
		{Key: "card-1", EventTime: 9*minute + 50_000, Values: []windows.Value{{Num: 99}}, Seq: 2},
		{Key: "card-1", EventTime: 11*minute + 40_000, Values: []windows.Value{{Num: 5}}, Seq: 3},
	}
	for _, r := range in {
		res, err := op.Process(r)
		if err != nil {
			panic(err)
		}
		for _, e := range res.Emissions {
			fmt.Println(e.Key, e.Window, op.Spec().Format(e.Aggs))
		}
	}
	// Output:
	// card-1 [0,600000) count=2 sum=111.5 min=12.5 max=99 avg=55.75 first=12.5 last=99
}
