// Package score loads models trained offline (XGBoost JSON, LightGBM text, logistic JSON) and
// evaluates them on feature vectors, in pure Go.
//
// It must never read the wall clock, do network I/O, log, or import Kafka, Pebble, zap or
// Prometheus. A given model version and feature vector always give the same score.
package score
