package model

import (
	"errors"
	"fmt"
	"time"
)

// Position is where a record sits in Kafka.
type Position struct {
	Topic     string
	Partition int32
	Offset    int64
}

// String formats the position as topic/partition@offset, the form errors and logs use.
func (p Position) String() string { return fmt.Sprintf("%s/%d@%d", p.Topic, p.Partition, p.Offset) }

// Header is a Kafka record header.
type Header struct {
	Key   string
	Value []byte
}

// Record is an input record as the processor sees it: the bytes from Kafka and where they
// came from. The processor never keeps a Record past the call that handed it over; the
// source may reuse its buffers.
type Record struct {
	Key       []byte
	Value     []byte
	Headers   []Header
	Timestamp time.Time // the Kafka record timestamp, not the event time
	Position
}

// Output is a record to produce. Partition is the target partition; outputs keep the input
// partition so that each partition's output is ordered like its input.
type Output struct {
	Topic     string
	Partition int32
	Key       []byte
	Value     []byte
	Headers   []Header
}

// ErrFenced means another instance with the same instance id (and so the same
// transactional id or static group member id) took over: this one is a zombie and must stop.
var ErrFenced = errors.New("fenced: another instance with the same instance id is running")
