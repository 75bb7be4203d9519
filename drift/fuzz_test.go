package drift_test

import (
	"bytes"
	"errors"
	"reflect"
	"testing"

	"github.com/kappa-stream/kappa/drift"
)

// FuzzDecodePane: DecodePane never panics, every error wraps ErrCorrupt, and the encoding is
// canonical: what it accepts, AppendPane writes back byte for byte. Run it with
//
//	go test -run '^$' -fuzz FuzzDecodePane ./drift
func FuzzDecodePane(f *testing.F) {
	f.Add(drift.AppendPane(nil, drift.Pane{Counts: [][]int64{{1, 2, 3}, {0, 6}}}))
	f.Add(drift.AppendPane(nil, drift.Pane{Counts: [][]int64{{1 << 40, 0}}}))
	f.Add([]byte{1, 1, 2, 0x80, 0x00, 0})
	f.Add([]byte{1, 255, 255, 255, 255, 15})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := drift.DecodePane(-60_000, b)
		if err != nil {
			if !errors.Is(err, drift.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if re := drift.AppendPane(nil, p); !bytes.Equal(re, b) {
			t.Fatalf("decoded %v, which encodes as %x, not %x", p, re, b)
		}
	})
}

// FuzzDecodeClock: as FuzzDecodePane, for clocks.
func FuzzDecodeClock(f *testing.F) {
	f.Add(drift.AppendClock(nil, drift.Clock{}))
	f.Add(drift.AppendClock(nil, drift.Clock{MaxEventTime: 1_767_225_600_123, Emitted: 1_767_225_600_000, Started: true}))
	f.Add([]byte{1, 0, 2, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := drift.DecodeClock(b)
		if err != nil {
			if !errors.Is(err, drift.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		if re := drift.AppendClock(nil, c); !bytes.Equal(re, b) {
			t.Fatalf("decoded %+v, which encodes as %x, not %x", c, re, b)
		}
	})
}

// FuzzParse: Parse never panics, every error wraps ErrInvalidReference, and a reference it
// accepts marshals to a file that parses to the same reference.
func FuzzParse(f *testing.F) {
	f.Add([]byte(validReference))
	f.Add([]byte(validReference[:len(validReference)/2]))
	f.Add([]byte(`{"version": 1, "score": {"edges": [], "proportions": [1, 0], "records": 1}}`))
	f.Add([]byte(`{"version": 1, "features": {"a": null}}`))
	f.Add([]byte(`{"version":1,"features":{},"score":{"edges":[0],"proportions":[0.9,0.1,0]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := drift.Parse("fuzz", data)
		if err != nil {
			if !errors.Is(err, drift.ErrInvalidReference) {
				t.Fatalf("error %v does not wrap ErrInvalidReference", err)
			}
			return
		}
		out, err := r.Marshal()
		if err != nil {
			t.Fatalf("Parse accepted a reference Marshal refuses: %v", err)
		}
		back, err := drift.Parse("marshalled", out)
		if err != nil {
			t.Fatalf("Parse refuses what Marshal wrote: %v\n%s", err, out)
		}
		if !reflect.DeepEqual(back, r) {
			t.Fatalf("round trip changed the reference:\n%+v\n%+v", r, back)
		}
	})
}
