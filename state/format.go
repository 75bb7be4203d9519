package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"maps"
	"math"
	"slices"
)

// The key layout and value encodings of FORMAT.md. Keep the two in step: a change here that
// FORMAT.md does not describe is a bug.

// formatVersion is the layout version stored under headerKey. Open refuses any other.
const formatVersion byte = 1

// Namespaces: the byte after the partition number. nsMeta sorts first, so the first key of a
// partition is its metadata key when it has one.
const (
	nsMeta byte = 0x00 // [partition][0x00] -> encoded Applied
	nsData byte = 0x01 // [partition][0x01][user key] -> user value
)

const (
	partitionLen = 4                // big-endian uint32
	prefixLen    = partitionLen + 1 // partition + namespace
)

// headerKey holds the store-wide format version. Its first byte, 0xff, sorts after every
// partition (partitions are non-negative int32s, so their first byte is at most 0x7f).
var headerKey = []byte("\xffkappa-state-format")

// maxTopicLen is Kafka's limit on a topic name's length.
const maxTopicLen = 249

// appliedVersion is the version byte of an encoded Applied.
const appliedVersion byte = 1

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// appendPrefix appends [partition][namespace].
func appendPrefix(dst []byte, p int32, ns byte) []byte {
	dst = binary.BigEndian.AppendUint32(dst, uint32(p))
	return append(dst, ns)
}

// metaKey is the metadata key of partition p.
func metaKey(p int32) []byte { return appendPrefix(make([]byte, 0, prefixLen), p, nsMeta) }

// appendDataKey appends the data key of user key k in partition p.
func appendDataKey(dst []byte, p int32, k []byte) []byte {
	return append(appendPrefix(dst, p, nsData), k...)
}

// partitionBounds returns [start, end) covering every key of partition p, in all namespaces.
func partitionBounds(p int32) (start, end []byte) {
	start = binary.BigEndian.AppendUint32(nil, uint32(p))
	end = binary.BigEndian.AppendUint32(nil, uint32(p)+1) // p <= MaxInt32, so no overflow
	return start, end
}

// namespaceBounds returns [start, end) covering namespace ns of partition p.
func namespaceBounds(p int32, ns byte) (start, end []byte) {
	return appendPrefix(nil, p, ns), appendPrefix(nil, p, ns+1)
}

// parseKey splits a key of the partition space into its partition, namespace and the rest
// (the user key for nsData). It fails on keys outside the partition space (the header) and
// on keys too short to carry a prefix.
func parseKey(k []byte) (p int32, ns byte, rest []byte, err error) {
	if len(k) < prefixLen {
		return 0, 0, nil, fmt.Errorf("key %x: shorter than the %d-byte prefix: %w", k, prefixLen, ErrCorrupt)
	}
	u := binary.BigEndian.Uint32(k)
	if u > math.MaxInt32 {
		return 0, 0, nil, fmt.Errorf("key %x: not in the partition space: %w", k, ErrCorrupt)
	}
	return int32(u), k[partitionLen], k[prefixLen:], nil
}

// validateApplied checks what encodeApplied can represent and decodeApplied accepts.
func validateApplied(a Applied) error {
	if a.Changelog < 0 {
		return fmt.Errorf("%w: changelog offset %d is negative", ErrInvalidApplied, a.Changelog)
	}
	if len(a.Input) > math.MaxUint16 {
		return fmt.Errorf("%w: %d input topics, at most %d", ErrInvalidApplied, len(a.Input), math.MaxUint16)
	}
	for topic, off := range a.Input {
		if topic == "" || len(topic) > maxTopicLen {
			return fmt.Errorf("%w: input topic %q: name must be 1 to %d bytes", ErrInvalidApplied, topic, maxTopicLen)
		}
		if off < 0 {
			return fmt.Errorf("%w: input topic %q: offset %d is negative", ErrInvalidApplied, topic, off)
		}
	}
	return nil
}

// encodeApplied appends the v1 encoding of a (FORMAT.md, "Metadata value"). a must have passed
// validateApplied. Topics are written in ascending order, so the encoding is canonical.
func encodeApplied(dst []byte, a Applied) []byte {
	start := len(dst)
	dst = append(dst, appliedVersion)
	dst = binary.BigEndian.AppendUint64(dst, uint64(a.Changelog))
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(a.Input)))
	for _, topic := range slices.Sorted(maps.Keys(a.Input)) {
		dst = append(dst, byte(len(topic)))
		dst = append(dst, topic...)
		dst = binary.BigEndian.AppendUint64(dst, uint64(a.Input[topic]))
	}
	return binary.BigEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// decodeApplied decodes a metadata value. Anything but a canonical v1 encoding with a
// matching checksum is an error wrapping ErrCorrupt. Input is never nil on success.
func decodeApplied(v []byte) (Applied, error) {
	const minLen = 1 + 8 + 2 + 4
	if len(v) < minLen {
		return Applied{}, fmt.Errorf("metadata value: %d bytes, shorter than %d: %w", len(v), minLen, ErrCorrupt)
	}
	body, sum := v[:len(v)-4], binary.BigEndian.Uint32(v[len(v)-4:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return Applied{}, fmt.Errorf("metadata value: checksum %08x, want %08x: %w", got, sum, ErrCorrupt)
	}
	if body[0] != appliedVersion {
		return Applied{}, fmt.Errorf("metadata value: version %d, want %d: %w", body[0], appliedVersion, ErrCorrupt)
	}
	changelog := binary.BigEndian.Uint64(body[1:])
	if changelog > math.MaxInt64 {
		return Applied{}, fmt.Errorf("metadata value: changelog offset %d out of range: %w", changelog, ErrCorrupt)
	}
	n := int(binary.BigEndian.Uint16(body[9:]))
	rest := body[11:]
	// Each topic takes at least 1+1+8 bytes: refuse counts the value cannot hold before
	// allocating the map.
	if n > len(rest)/10 {
		return Applied{}, fmt.Errorf("metadata value: %d topics in %d bytes: %w", n, len(rest), ErrCorrupt)
	}
	a := Applied{Input: make(map[string]int64, n), Changelog: int64(changelog)}
	var prev []byte
	for i := range n {
		if len(rest) < 1 {
			return Applied{}, fmt.Errorf("metadata value: topic %d: truncated: %w", i, ErrCorrupt)
		}
		l := int(rest[0])
		if l == 0 || l > maxTopicLen || len(rest) < 1+l+8 {
			return Applied{}, fmt.Errorf("metadata value: topic %d: bad length %d: %w", i, l, ErrCorrupt)
		}
		name := rest[1 : 1+l]
		if i > 0 && bytes.Compare(prev, name) >= 0 {
			return Applied{}, fmt.Errorf("metadata value: topic %d: %q not after %q: %w", i, name, prev, ErrCorrupt)
		}
		off := binary.BigEndian.Uint64(rest[1+l:])
		if off > math.MaxInt64 {
			return Applied{}, fmt.Errorf("metadata value: topic %q: offset %d out of range: %w", name, off, ErrCorrupt)
		}
		a.Input[string(name)] = int64(off)
		prev, rest = name, rest[1+l+8:]
	}
	if len(rest) != 0 {
		return Applied{}, fmt.Errorf("metadata value: %d trailing bytes: %w", len(rest), ErrCorrupt)
	}
	return a, nil
}
