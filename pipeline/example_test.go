package pipeline_test

import (
	"errors"
	"fmt"

	"github.com/kappa-stream/kappa/pipeline"
)

func ExampleParse() {
	src := []byte(`name: card-totals
input:
  topics: [transactions]
  format: json
  key_field: card_id
  event_time:
    field: ts
    format: epoch_millis
operators:
  - aggregate:
      field: amount
output:
  topic: card-totals
`)
	d, err := pipeline.Parse("pipeline.yaml", src)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.GroupID(), d.Input.Topics, d.Operators[0].Kind(), d.Output.Topic)
	fmt.Println(d.ChangelogTopic(), d.ExactlyOnce, d.CommitInterval, d.StateDir)
	// Output:
	// card-totals [transactions] aggregate card-totals
	// card-totals-changelog true 100ms ./kappa-state/card-totals
}

// Every problem of a file comes back at once, each with its place and its fix.
func ExampleParse_problems() {
	src := []byte(`name: card-totals
input:
  topics: [transactions]
  format: json
  key_feild: card_id
  event_time: {field: ts, format: epoch_ms}
operators:
  - aggregate: {field: amount}
output:
  topic: transactions
`)
	_, err := pipeline.Parse("pipeline.yaml", src)
	fmt.Println(err)

	var problems pipeline.Problems
	if errors.As(err, &problems) {
		fmt.Println(len(problems), "problems; the first is at line", problems[0].Line, "in", problems[0].Path)
	}
	// Output:
	// pipeline.yaml:5:3: input.key_feild: unknown field; did you mean "key_field"?
	// pipeline.yaml:6:35: input.event_time.format: "epoch_ms" is not a time format; use rfc3339 or epoch_millis
	// pipeline.yaml:10:10: output.topic: "transactions" is also an input topic; write the output to another topic
	// 3 problems; the first is at line 5 in input.key_feild
}

func ExampleDefinition_Validate() {
	d := &pipeline.Definition{
		Name: "card-totals",
		Input: pipeline.Input{
			Topics:    []string{"transactions"},
			Format:    pipeline.FormatJSON,
			KeyField:  "card_id",
			EventTime: pipeline.EventTime{Field: "ts", Format: pipeline.TimeEpochMillis},
		},
		Operators:   []pipeline.Operator{{Aggregate: &pipeline.Aggregate{Field: "amount"}}},
		Output:      pipeline.Output{Topic: "card-totals-changelog"},
		ExactlyOnce: true,
	}
	d.ApplyDefaults()
	fmt.Println(d.Validate())
	// Output:
	// output.topic: "card-totals-changelog" is the changelog topic of this pipeline; choose another topic
}

func ExampleParse_window() {
	src := []byte(`name: card-windows
input:
  topics: [transactions]
  format: json
  key_field: card_id
  event_time: {field: ts, format: epoch_millis}
  max_out_of_orderness: 5s
operators:
  - window:
      type: hopping
      size: 10m
      advance: 1m
      grace: 30s
      aggregates:
        - {fn: count}
        - {fn: sum, field: amount}
        - {fn: max, field: amount, as: largest}
        - {fn: quantile, field: amount, q: 0.99}
output:
  topic: card-windows
`)
	d, err := pipeline.Parse("pipeline.yaml", src)
	if err != nil {
		fmt.Println(err)
		return
	}
	w := d.Operators[0].Window
	fmt.Println(d.Operators[0].Kind(), w.Type, w.Size, w.Advance, w.Grace, w.Emit, d.LateTopic())
	for _, a := range w.Aggregates {
		fmt.Print(a.Name(), " ")
	}
	fmt.Println()
	// Output:
	// window hopping 10m0s 1m0s 30s final card-windows-late
	// count sum_amount largest p99_amount
}

// A window operator before a score is its feature stage; model files resolve against the
// directory of the pipeline file.
func ExampleParse_score() {
	src := []byte(`name: fraud
input:
  topics: [transactions]
  format: json
  key_field: card_id
  event_time: {field: ts, format: epoch_millis}
operators:
  - window:
      type: sliding
      size: 10m
      aggregates: [{fn: count, as: txn_count}]
  - score:
      model: {file: models/fraud.json}
      features: [amount, window.txn_count]
      alert: {threshold: 0.9, topic: fraud-alerts}
output:
  topic: fraud-scores
`)
	d, err := pipeline.Parse("pipelines/fraud.yaml", src)
	if err != nil {
		fmt.Println(err)
		return
	}
	s := d.ScoreOp()
	fmt.Println(s.Model.File, s.Model.Name, s.Alert.Threshold, s.Alert.Topic)
	for _, f := range s.Features {
		if agg, ok := pipeline.WindowFeature(f); ok {
			fmt.Println(f, "is the aggregate", agg, "of the window of", d.WindowOp().Size)
		} else {
			fmt.Println(f, "is a field")
		}
	}
	// Output:
	// pipelines/models/fraud.json fraud 0.9 fraud-alerts
	// amount is a field
	// window.txn_count is the aggregate txn_count of the window of 10m0s
}

// Duplicates by a transaction id go to the dead-letter topic; the quality section's
// settings left out take their defaults, and the drift reference resolves against the
// directory of the pipeline file.
func ExampleParse_quality() {
	src := []byte(`name: fraud
input:
  topics: [transactions]
  format: json
  key_field: card_id
  event_time: {field: ts, format: epoch_millis}
  dedup: {field: txn_id, horizon: 1h}
operators:
  - score:
      model: {file: models/fraud.json}
      features: [amount]
output:
  topic: fraud-scores
on_error:
  duplicate: dlq
quality:
  histograms: [amount, {field: latency_ms, buckets: [10, 50, 100, 500]}]
  drift:
    features: [amount]
    score: true
    reference: fraud-drift.json
    window: 2h
`)
	d, err := pipeline.Parse("pipelines/fraud.yaml", src)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(d.Input.Dedup.Field, d.Input.Dedup.Horizon, d.OnError.PolicyOf("duplicate"), d.OnError.PolicyOf("schema"))
	for _, h := range d.Quality.Histograms {
		fmt.Println(h.Field, h.Buckets)
	}
	q := d.Quality
	fmt.Println(q.Freshness, q.Drift.Reference, q.Drift.Window, q.Drift.Every, q.Drift.Threshold, q.Drift.MinRecords, q.Drift.Bins, d.DriftTopic())
	// Output:
	// txn_id 1h0m0s dlq dlq
	// amount []
	// latency_ms [10 50 100 500]
	// 10m0s pipelines/fraud-drift.json 2h0m0s 30m0s 0.2 500 10 fraud-drift
}

func ExampleAggregation_Name() {
	for _, a := range []pipeline.Aggregation{
		{Func: pipeline.AggCount},
		{Func: pipeline.AggSum, Field: "amount"},
		{Func: pipeline.AggCountDistinct, Field: "merchant"},
		{Func: pipeline.AggQuantile, Field: "amount", Q: 0.5},
		{Func: pipeline.AggQuantile, Field: "amount", Q: 0.999},
		{Func: pipeline.AggMax, Field: "amount", As: "largest"},
	} {
		fmt.Println(a.Name())
	}
	// Output:
	// count
	// sum_amount
	// count_distinct_merchant
	// p50_amount
	// p99.9_amount
	// largest
}
