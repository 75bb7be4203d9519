package windows

import (
	"bytes"
	"errors"
	"math"
	"testing"
)

func accOf(vals ...float64) Acc {
	var a Acc
	for i, v := range vals {
		a.Add(int64(i%3), uint64(i+1), v)
	}
	return a
}

func TestAccEncodingRoundTrip(t *testing.T) {
	cases := map[string]Acc{
		"empty":    {},
		"one":      accOf(42),
		"many":     accOf(3, -2, 7.5, 4, 1, 0),
		"extremes": accOf(math.MaxFloat64, -math.MaxFloat64, math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat64),
		"negative zero": func() Acc {
			var a Acc
			a.Add(-5, 1<<62, math.Copysign(0, -1))
			return a
		}(),
		"big times": func() Acc {
			var a Acc
			a.Add(MinTime, 0, 1)
			a.Add(MaxTime, math.MaxUint64, 2)
			return a
		}(),
	}
	for name, a := range cases {
		t.Run(name, func(t *testing.T) {
			b := AppendAcc([]byte("prefix"), a)
			if !bytes.HasPrefix(b, []byte("prefix")) {
				t.Fatalf("AppendAcc lost the prefix: %x", b)
			}
			got, err := DecodeAcc(b[len("prefix"):])
			if err != nil {
				t.Fatalf("DecodeAcc: %v", err)
			}
			if math.Float64bits(got.Sum) != math.Float64bits(a.Sum) || got.Count != a.Count || got.Min != a.Min ||
				got.Max != a.Max || got.First != a.First || got.Last != a.Last || got.FirstTime != a.FirstTime ||
				got.LastTime != a.LastTime || got.FirstSeq != a.FirstSeq || got.LastSeq != a.LastSeq {
				t.Fatalf("got %+v, want %+v", got, a)
			}
			if again := AppendAcc(nil, got); !bytes.Equal(again, b[len("prefix"):]) {
				t.Fatalf("re-encoding got %x, want %x", again, b[len("prefix"):])
			}
		})
	}
}

func TestAccEncodingEmptyIsTwoBytes(t *testing.T) {
	if got, want := AppendAcc(nil, Acc{}), []byte{accVersion, 0}; !bytes.Equal(got, want) {
		t.Fatalf("got %x, want %x", got, want)
	}
}

func TestDecodeAccCorrupt(t *testing.T) {
	good := AppendAcc(nil, accOf(1, 2, 3))
	mutate := func(f func(b []byte) []byte) []byte {
		return f(append([]byte(nil), good...))
	}
	withFloat := func(i int, v float64) []byte { // i-th float: 0 sum, 1 min, 2 max
		var a Acc
		a, _ = DecodeAcc(good)
		switch i {
		case 0:
			a.Sum = v
		case 1:
			a.Min = v
		case 2:
			a.Max = v
		}
		return AppendAcc(nil, a)
	}
	cases := map[string][]byte{
		"nil":                nil,
		"version only":       {accVersion},
		"bad version":        {2, 0},
		"version zero":       {0, 0},
		"trailing empty":     {accVersion, 0, 0},
		"trailing full":      append(append([]byte(nil), good...), 0),
		"truncated floats":   good[:10],
		"truncated varints":  good[:len(good)-1],
		"non-canonical cnt":  {accVersion, 0x80, 0x00},
		"varint overflow":    {accVersion, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"NaN min":            withFloat(1, math.NaN()),
		"min above max":      withFloat(1, 100),
		"first after last":   AppendAcc(nil, Acc{Count: 2, FirstTime: 5, LastTime: 4}),
		"same time seq":      AppendAcc(nil, Acc{Count: 2, FirstTime: 5, LastTime: 5, FirstSeq: 3, LastSeq: 2}),
		"one with two times": AppendAcc(nil, Acc{Count: 1, FirstTime: 1, LastTime: 2}),
		"flipped last byte": mutate(func(b []byte) []byte {
			b[len(b)-1] |= 0x80
			return b
		}),
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeAcc(b)
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("DecodeAcc(%x): got error %v, want ErrCorrupt", b, err)
			}
		})
	}
}

func TestAccMergeMatchesSequentialAdd(t *testing.T) {
	type rec struct {
		t   int64
		seq uint64
		v   float64
	}
	recs := []rec{{30, 1, 3}, {0, 2, 1}, {20, 3, 5}, {0, 4, 9}, {30, 5, 2}}
	var all Acc
	for _, r := range recs {
		all.Add(r.t, r.seq, r.v)
	}
	for split := range len(recs) + 1 {
		var a, b Acc
		for _, r := range recs[:split] {
			a.Add(r.t, r.seq, r.v)
		}
		for _, r := range recs[split:] {
			b.Add(r.t, r.seq, r.v)
		}
		for _, order := range []string{"ab", "ba"} {
			var m Acc
			if order == "ab" {
				m = a
				m.Merge(b)
			} else {
				m = b
				m.Merge(a)
			}
			if m != all {
				t.Fatalf("split %d order %s: got %+v, want %+v", split, order, m, all)
			}
		}
	}
	if all.First != 1 || all.Last != 2 {
		t.Fatalf("got first %g last %g, want 1 and 2 (ties broken by seq)", all.First, all.Last)
	}
}

func TestAvgOfEmptyIsNaN(t *testing.T) {
	if got := (Acc{}).Avg(); !math.IsNaN(got) {
		t.Fatalf("got %g, want NaN", got)
	}
}

// FuzzDecodeAcc checks that DecodeAcc never panics and accepts only canonical encodings:
// whatever it accepts re-encodes to the same bytes.
func FuzzDecodeAcc(f *testing.F) {
	f.Add([]byte{})
	f.Add(AppendAcc(nil, Acc{}))
	f.Add(AppendAcc(nil, accOf(1)))
	f.Add(AppendAcc(nil, accOf(3, -2, 7.5, 4, 1, 0)))
	f.Add([]byte{accVersion, 0x80, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := DecodeAcc(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if again := AppendAcc(nil, a); !bytes.Equal(again, b) {
			t.Fatalf("accepted %x but it re-encodes as %x", b, again)
		}
	})
}
