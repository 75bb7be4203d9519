package processor

import (
	"encoding/binary"
	"errors"
	"math"
	"strconv"

	"github.com/kappa-stream/kappa/model"
)

// aggState is the running aggregate of one key: count, sum, min and max of a numeric field.
// The sum is added in record order, so a replay of the same records gives the same bits.
type aggState struct {
	count         uint64
	sum, min, max float64
}

// aggStateLen is the size of an encoded aggState: four 8-byte big-endian words.
const aggStateLen = 32

var errBadAggState = errors.New("processor: stored aggregate is not 32 bytes")

func (a *aggState) add(v float64) {
	if a.count == 0 {
		a.min, a.max = v, v
	} else {
		a.min = math.Min(a.min, v)
		a.max = math.Max(a.max, v)
	}
	a.count++
	a.sum += v
}

func (a *aggState) appendBinary(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, a.count)
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(a.sum))
	b = binary.BigEndian.AppendUint64(b, math.Float64bits(a.min))
	return binary.BigEndian.AppendUint64(b, math.Float64bits(a.max))
}

func (a *aggState) unmarshal(b []byte) error {
	if len(b) != aggStateLen {
		return errBadAggState
	}
	a.count = binary.BigEndian.Uint64(b)
	a.sum = math.Float64frombits(binary.BigEndian.Uint64(b[8:]))
	a.min = math.Float64frombits(binary.BigEndian.Uint64(b[16:]))
	a.max = math.Float64frombits(binary.BigEndian.Uint64(b[24:]))
	return nil
}

// appendAggregateJSON appends the output value of the aggregate operator:
//
//	{"key":"card-17","count":3,"sum":37.5,"min":2.5,"max":20,"event_time":1764000000123,
//	 "source":{"topic":"in","partition":2,"offset":1234}}
//
// Floats use the shortest representation that round-trips, so the text is deterministic.
func appendAggregateJSON(b []byte, key []byte, a *aggState, eventTime int64, src model.Position) []byte {
	b = append(b, `{"key":`...)
	b = appendJSONString(b, key)
	b = append(b, `,"count":`...)
	b = strconv.AppendUint(b, a.count, 10)
	b = append(b, `,"sum":`...)
	b = strconv.AppendFloat(b, a.sum, 'g', -1, 64)
	b = append(b, `,"min":`...)
	b = strconv.AppendFloat(b, a.min, 'g', -1, 64)
	b = append(b, `,"max":`...)
	b = strconv.AppendFloat(b, a.max, 'g', -1, 64)
	b = append(b, `,"event_time":`...)
	b = strconv.AppendInt(b, eventTime, 10)
	b = append(b, `,"source":{"topic":`...)
	b = appendJSONString(b, []byte(src.Topic))
	b = append(b, `,"partition":`...)
	b = strconv.AppendInt(b, int64(src.Partition), 10)
	b = append(b, `,"offset":`...)
	b = strconv.AppendInt(b, src.Offset, 10)
	return append(b, "}}"...)
}

// appendJSONString appends s as a JSON string. s is valid UTF-8 (it came from a JSON string
// or a number, or is a topic name); control characters, quotes and backslashes are escaped,
// and so are <, > and & so the text is safe to embed in HTML, as encoding/json does.
func appendJSONString(b []byte, s []byte) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for _, c := range s {
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20 || c == '<' || c == '>' || c == '&':
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
