// Package model holds the value types every other package shares: records, their positions
// in Kafka (topic, partition, offset), event times and windows.
//
// It is the bottom of the import graph. It imports the standard library only and must never
// import Kafka, Pebble, zap, Prometheus or another Kappa package, so that the pure core
// (windows, score) can depend on it without depending on infrastructure.
package model
