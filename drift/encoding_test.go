package drift_test

import (
	"bytes"
	"errors"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/kappa-stream/kappa/drift"
)

func TestClockRoundTrip(t *testing.T) {
	for _, c := range []drift.Clock{
		{},
		{MaxEventTime: 0, Emitted: 0, Started: true},
		{MaxEventTime: 1_767_225_600_123, Emitted: 1_767_225_600_000, Started: true},
		{MaxEventTime: -1, Emitted: -60_000, Started: true},
		{MaxEventTime: drift.MaxTime, Emitted: drift.MaxTime - 7, Started: true},
	} {
		b := drift.AppendClock([]byte("prefix"), c)
		got, err := drift.DecodeClock(b[len("prefix"):])
		if err != nil || got != c {
			t.Errorf("DecodeClock(AppendClock(%+v)) = %+v, %v", c, got, err)
		}
	}
	// Times of a clock that has not started are not written.
	if b := drift.AppendClock(nil, drift.Clock{MaxEventTime: 5}); !bytes.Equal(b, []byte{1, 0, 0, 0}) {
		t.Errorf("unstarted clock encoded as %v, want [1 0 0 0]", b)
	}
}

func TestDecodeClockErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "no clock version"},
		{"version", []byte{2, 1, 0, 0}, "clock version 2, want 1"},
		{"flag", []byte{1, 2, 0, 0}, "clock started flag 2"},
		{"truncated", []byte{1, 1, 2}, "bad emitted varint"},
		{"non-canonical", []byte{1, 1, 0x82, 0x00, 0}, "non-canonical max event time varint"},
		{"trailing", []byte{1, 1, 2, 2, 0}, "1 trailing bytes"},
		{"times without a record", []byte{1, 0, 2, 0}, "clock with times"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := drift.DecodeClock(tc.b)
			if !errors.Is(err, drift.ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrCorrupt with %q", err, tc.want)
			}
		})
	}
}

func TestPaneRoundTrip(t *testing.T) {
	p := drift.Pane{Start: -120_000, Counts: [][]int64{{0, 1, 300, 0}, {math.MaxInt64, 0}}}
	b := drift.AppendPane(nil, p)
	// version, 2 series; 4 bins: 0 1 300 (2 bytes) 0; 2 bins: MaxInt64 (9 bytes) 0.
	if len(b) != 1+1+1+1+1+2+1+1+9+1 {
		t.Errorf("encoded in %d bytes: %v", len(b), b)
	}
	got, err := drift.DecodePane(p.Start, b)
	if err != nil || !reflect.DeepEqual(got, p) {
		t.Errorf("DecodePane(AppendPane(%v)) = %v, %v", p, got, err)
	}
}

func TestDecodePaneErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    []byte
		want string
	}{
		{"empty", nil, "no pane version"},
		{"version", []byte{9, 1, 2, 0, 0}, "pane version 9, want 1"},
		{"no series", []byte{1, 0}, "without series"},
		{"more series than bytes", []byte{1, 100, 2, 0, 0}, "100 series in 3 bytes"},
		{"one bin", []byte{1, 1, 1, 0}, "1 bins, want 2 to 101"},
		{"too many bins", []byte{1, 1, 102}, "102 bins, want 2 to 101"},
		{"truncated counts", []byte{1, 1, 3, 0, 0}, "bad count varint"},
		{"non-canonical count", []byte{1, 1, 2, 0x80, 0x00, 0}, "non-canonical count varint"},
		{"count beyond int64", append([]byte{1, 1, 2, 0}, binaryUvarint(math.MaxUint64)...), "beyond an int64"},
		{"trailing", []byte{1, 1, 2, 0, 0, 7}, "1 trailing bytes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := drift.DecodePane(60_000, tc.b)
			if !errors.Is(err, drift.ErrCorrupt) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want ErrCorrupt with %q", err, tc.want)
			}
		})
	}
}

func binaryUvarint(v uint64) []byte {
	var b []byte
	for v >= 0x80 {
		b = append(b, byte(v)|0x80)
		v >>= 7
	}
	return append(b, byte(v))
}

// TestPaneKeyOrder: keys sort as their starts, negative ones included.
func TestPaneKeyOrder(t *testing.T) {
	starts := []int64{math.MinInt64, drift.MinTime, -120_000, -60_000, -1, 0, 1, 60_000, drift.MaxTime, math.MaxInt64}
	var keys [][]byte
	for _, s := range starts {
		k := drift.AppendPaneKey(nil, s)
		if len(k) != 8 {
			t.Fatalf("key of %d has %d bytes, want 8", s, len(k))
		}
		back, err := drift.ParsePaneKey(k)
		if err != nil || back != s {
			t.Errorf("ParsePaneKey(AppendPaneKey(%d)) = %d, %v", s, back, err)
		}
		keys = append(keys, k)
	}
	if !slices.IsSortedFunc(keys, bytes.Compare) {
		t.Error("pane keys do not sort as their starts")
	}
	for _, b := range [][]byte{nil, make([]byte, 7), make([]byte, 9)} {
		if _, err := drift.ParsePaneKey(b); !errors.Is(err, drift.ErrCorrupt) {
			t.Errorf("ParsePaneKey of %d bytes: %v, want ErrCorrupt", len(b), err)
		}
	}
}
