// Package gen generates card-transaction records for tests, the demo and benchmarks: JSON
// values such as
//
//	{"card_id":"card-17","amount":12.5,"ts":1767225600000,"seq":42,"merchant":"m-3"}
//
// in the shape of examples/card-totals.yaml, with every Nth record malformed on purpose and,
// for windowed pipelines, some records moved far into the past to arrive late. Optionally
// ([Fraud]) some cards are compromised for a while and their fraudulent transactions form a
// pattern a model can learn (examples/fraud); [Cards.IsFraud] is the label.
//
// Record i is a pure function of the configuration and i, so any record can be regenerated
// without storing it, and two runs with the same configuration produce the same bytes. The
// package owns record generation and producing records to Kafka; it must never consume, check
// outputs (that is package verify) or depend on the processor.
package gen
