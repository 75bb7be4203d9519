// Command features writes the training set of the fraud example: card transactions from
// the generator with its fraud pattern on (internal/gen, type Fraud), each with the features
// the example pipeline's score operator gives the model, and its label.
//
//	go run ./examples/fraud/features -n 200000 > /tmp/f.csv
//
// The features are computed exactly as the pipeline computes them: the window operator of
// examples/fraud/fraud.yaml is translated to a windows.Operator per partition, fed the
// partition's records in order; after each record, its window features are the aggregates
// of the key's current window (among the key's open windows containing the record's event
// time, the one with the earliest end), or NaN when there is none, as for a late record.
// The other features are numeric fields of the record. The CSV has one column per feature
// of the score operator, named as the pipeline names them, then "label" (1 fraud, 0 not).
// Malformed records, which the pipeline sends to its dead-letter topic, are left out.
//
// The stream is the demo's by default (2000 records/s over 500 cards and 4 partitions,
// event times following the records), since window counts depend on that rate.
package main
