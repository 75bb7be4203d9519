package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"strings"
	"testing"
)

// TestKeyLayout pins the bytes of FORMAT.md: a change here is a format change.
func TestKeyLayout(t *testing.T) {
	tests := []struct {
		name string
		got  []byte
		want []byte
	}{
		{"meta key", metaKey(1), []byte{0, 0, 0, 1, 0}},
		{"data key", appendDataKey(nil, 1, []byte("k")), []byte{0, 0, 0, 1, 1, 'k'}},
		{"data key, max partition", appendDataKey(nil, math.MaxInt32, nil), []byte{0x7f, 0xff, 0xff, 0xff, 1}},
		{"header key", headerKey, append([]byte{0xff}, "kappa-state-format"...)},
		{
			"encoded applied", encodeApplied(nil, Applied{Input: map[string]int64{"b": 2, "a": 1}, Changelog: 7}),
			withCRC([]byte{
				1,                      // version
				0, 0, 0, 0, 0, 0, 0, 7, // changelog
				0, 2, // topics
				1, 'a', 0, 0, 0, 0, 0, 0, 0, 1,
				1, 'b', 0, 0, 0, 0, 0, 0, 0, 2,
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !bytes.Equal(tt.got, tt.want) {
				t.Errorf("got %x, want %x", tt.got, tt.want)
			}
		})
	}
}

// TestKeyOrder checks the properties the layout exists for: a partition's keys lie inside its
// bounds (one DeleteRange wipes it), the metadata key is its first key, and the header sorts
// after every partition.
func TestKeyOrder(t *testing.T) {
	for _, p := range []int32{0, 1, 255, 256, math.MaxInt32 - 1, math.MaxInt32} {
		start, end := partitionBounds(p)
		keys := [][]byte{
			metaKey(p),
			appendDataKey(nil, p, nil),
			appendDataKey(nil, p, []byte{0}),
			appendDataKey(nil, p, bytes.Repeat([]byte{0xff}, 20)),
			append(appendPrefix(nil, p, 0x02), 0xff), // the future window namespace
		}
		for i, k := range keys {
			if bytes.Compare(k, start) < 0 || bytes.Compare(k, end) >= 0 {
				t.Errorf("partition %d: key %x outside [%x, %x)", p, k, start, end)
			}
			if i > 0 && bytes.Compare(keys[0], k) >= 0 {
				t.Errorf("partition %d: key %x sorts before the metadata key %x", p, k, keys[0])
			}
			if bytes.Compare(k, headerKey) >= 0 {
				t.Errorf("partition %d: key %x sorts after the header key", p, k)
			}
		}
		lo, hi := namespaceBounds(p, nsData)
		if bytes.Compare(metaKey(p), lo) >= 0 || bytes.Compare(appendDataKey(nil, p, []byte{0xff, 0xff}), hi) >= 0 {
			t.Errorf("partition %d: data bounds [%x, %x) wrong", p, lo, hi)
		}
	}
}

func TestAppliedRoundTrip(t *testing.T) {
	tests := []Applied{
		{},
		{Input: map[string]int64{}},
		{Changelog: math.MaxInt64},
		{Input: map[string]int64{"orders": 0}, Changelog: 1},
		{Input: map[string]int64{"orders": 17, "payments": math.MaxInt64, "a": 1}, Changelog: 99},
		{Input: map[string]int64{strings.Repeat("t", maxTopicLen): 5}},
	}
	for _, a := range tests {
		mustNil(t, validateApplied(a))
		enc := encodeApplied(nil, a)
		got, err := decodeApplied(enc)
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", a, err)
		}
		if !equalApplied(got, a) || got.Input == nil {
			t.Errorf("decode(encode(%+v)): got %+v, want it back with a non-nil Input", a, got)
		}
		if again := encodeApplied(nil, got); !bytes.Equal(again, enc) {
			t.Errorf("encoding of %+v is not canonical: %x then %x", a, enc, again)
		}
	}
}

func TestValidateApplied(t *testing.T) {
	tests := map[string]Applied{
		"negative changelog": {Changelog: -1},
		"negative input":     {Input: map[string]int64{"in": -1}},
		"empty topic":        {Input: map[string]int64{"": 1}},
		"long topic":         {Input: map[string]int64{strings.Repeat("t", maxTopicLen+1): 1}},
	}
	for name, a := range tests {
		t.Run(name, func(t *testing.T) {
			if err := validateApplied(a); !errors.Is(err, ErrInvalidApplied) {
				t.Errorf("got %v, want ErrInvalidApplied", err)
			}
		})
	}
}

// TestDecodeAppliedRejects feeds values with a correct checksum but a wrong structure, so
// that each structural check is reached, and values whose checksum fails.
func TestDecodeAppliedRejects(t *testing.T) {
	valid := encodeApplied(nil, Applied{Input: map[string]int64{"a": 1}, Changelog: 2})
	body := valid[:len(valid)-4]
	tests := map[string][]byte{
		"empty":                 nil,
		"short":                 withCRC([]byte{1, 0}),
		"bad checksum":          append(bytes.Clone(body), 0, 0, 0, 0),
		"flipped bit":           flip(valid, 5),
		"truncated":             valid[:len(valid)-1],
		"version 0":             withCRC(with(body, 0, 0)),
		"version 2":             withCRC(with(body, 0, 2)),
		"trailing bytes":        withCRC(append(bytes.Clone(body), 0)),
		"negative changelog":    withCRC(with(body, 1, 0x80)),
		"too many topics":       withCRC(with(body, 10, 9)),
		"zero topic length":     withCRC(with(body, 11, 0)),
		"topic length past end": withCRC(with(body, 11, 200)),
		"negative offset":       withCRC(with(body, 13, 0x80)),
		"unsorted topics": withCRC([]byte{
			1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
			1, 'b', 0, 0, 0, 0, 0, 0, 0, 1,
			1, 'a', 0, 0, 0, 0, 0, 0, 0, 1,
		}),
		"duplicate topics": withCRC([]byte{
			1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2,
			1, 'a', 0, 0, 0, 0, 0, 0, 0, 1,
			1, 'a', 0, 0, 0, 0, 0, 0, 0, 1,
		}),
	}
	for name, v := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := decodeApplied(v)
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("decode(%x): got %+v, %v; want ErrCorrupt", v, a, err)
			}
		})
	}
}

// FuzzApplied checks that decoding never panics, that whatever decodes re-encodes to the
// same bytes (one encoding per value), and that every valid Applied round-trips.
func FuzzApplied(f *testing.F) {
	f.Add(encodeApplied(nil, Applied{Changelog: 1}), "orders", int64(3), int64(4))
	f.Add(encodeApplied(nil, Applied{Input: map[string]int64{"a": 1, "b": math.MaxInt64}, Changelog: 9}), "", int64(-1), int64(0))
	f.Add([]byte{}, strings.Repeat("x", 250), int64(0), int64(-5))
	f.Add([]byte("garbage that is long enough to pass the length check"), "t", int64(math.MaxInt64), int64(math.MaxInt64))
	f.Fuzz(func(t *testing.T, raw []byte, topic string, input, changelog int64) {
		if a, err := decodeApplied(raw); err == nil {
			if enc := encodeApplied(nil, a); !bytes.Equal(enc, raw) {
				t.Fatalf("decode(%x) = %+v, which encodes to %x", raw, a, enc)
			}
		} else if !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decode(%x): error %v does not wrap ErrCorrupt", raw, err)
		}

		a := Applied{Input: map[string]int64{topic: input}, Changelog: changelog}
		if err := validateApplied(a); err != nil {
			return
		}
		got, err := decodeApplied(encodeApplied(nil, a))
		if err != nil || !equalApplied(got, a) {
			t.Fatalf("round trip of %+v: got %+v, %v", a, got, err)
		}
	})
}

// FuzzKey checks that parseKey never panics and inverts appendDataKey and metaKey.
func FuzzKey(f *testing.F) {
	f.Add(int32(0), []byte("k"), []byte{0, 0, 0, 1, 1, 'k'})
	f.Add(int32(math.MaxInt32), []byte{}, []byte{0xff, 'x', 'y', 'z', 'w'})
	f.Add(int32(7), []byte{0, 0xff}, []byte{0, 0})
	f.Fuzz(func(t *testing.T, p int32, key, raw []byte) {
		if gp, ns, rest, err := parseKey(raw); err == nil {
			if re := append(appendPrefix(nil, gp, ns), rest...); !bytes.Equal(re, raw) {
				t.Fatalf("parseKey(%x) = %d %d %x, which encodes to %x", raw, gp, ns, rest, re)
			}
		}
		if p < 0 {
			return
		}
		gp, ns, rest, err := parseKey(appendDataKey(nil, p, key))
		if err != nil || gp != p || ns != nsData || !bytes.Equal(rest, key) {
			t.Fatalf("parseKey(dataKey(%d, %x)) = %d %d %x %v", p, key, gp, ns, rest, err)
		}
		gp, ns, rest, err = parseKey(metaKey(p))
		if err != nil || gp != p || ns != nsMeta || len(rest) != 0 {
			t.Fatalf("parseKey(metaKey(%d)) = %d %d %x %v", p, gp, ns, rest, err)
		}
	})
}

func withCRC(body []byte) []byte {
	return binary.BigEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, castagnoli))
}

// with returns a copy of b with b[i] = v.
func with(b []byte, i int, v byte) []byte {
	c := bytes.Clone(b)
	c[i] = v
	return c
}

// flip returns a copy of b with one bit of b[i] flipped.
func flip(b []byte, i int) []byte { return with(b, i, b[i]^0x04) }
