// Command kafkaprobe waits until a Kafka cluster answers a metadata request and exits 0, or
// exits 1 with the last error once its timeout passes. tools/kafka/kafka.sh uses it to know
// when the broker it started is ready.
//
// It owns nothing but that check: it never creates topics or changes the cluster.
package main
