package drift_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kappa-stream/kappa/drift"
)

const validReference = `{
  "version": 1,
  "pipeline": "fraud",
  "source": "fraud-transactions 2026-01-01..2026-01-08",
  "features": {
    "amount": {"edges": [10, 50], "proportions": [0.3, 0.5, 0.19, 0.01], "records": 100000},
    "hour": {"edges": [], "proportions": [1, 0], "records": 100000}
  },
  "score": {"edges": [0.5], "proportions": [0.9, 0.1, 0], "records": 100000}
}
`

func TestParse(t *testing.T) {
	r, err := drift.Parse("ref.json", []byte(validReference))
	if err != nil {
		t.Fatal(err)
	}
	want := &drift.Reference{
		Version: 1, Pipeline: "fraud", Source: "fraud-transactions 2026-01-01..2026-01-08",
		Features: map[string]*drift.Bins{
			"amount": {Edges: []float64{10, 50}, Proportions: []float64{0.3, 0.5, 0.19, 0.01}, Records: 100000},
			"hour":   {Edges: []float64{}, Proportions: []float64{1, 0}, Records: 100000},
		},
		Score: &drift.Bins{Edges: []float64{0.5}, Proportions: []float64{0.9, 0.1, 0}, Records: 100000},
	}
	if !reflect.DeepEqual(r, want) {
		t.Errorf("got %+v, want %+v", r, want)
	}
}

func TestParseErrors(t *testing.T) {
	replace := func(old, repl string) string {
		if !strings.Contains(validReference, old) {
			t.Fatalf("%q not in the reference", old)
		}
		return strings.Replace(validReference, old, repl, 1)
	}
	for _, tc := range []struct {
		name, data string
		want       string // the error after "drift: invalid reference: "
	}{
		{"empty", "", "ref.json:1:1: unexpected end of input (empty or truncated file?)"},
		{"truncated", validReference[:40], "ref.json:3:22: unexpected end of input"},
		{"syntax", `{"version": 1,}`, "ref.json:1:15: invalid JSON: invalid character '}'"},
		{"unknown top-level field", replace(`"pipeline"`, `"pipe": "x", "pipeline"`), `ref.json: json: unknown field "pipe"`},
		{"unknown bins field", replace(`"records": 100000},`, `"records": 100000, "bins": 3},`), `ref.json: json: unknown field "bins"`},
		{"wrong type", replace(`"edges": [10, 50]`, `"edges": "10"`), `ref.json:6:28: "features.edges": a JSON string where an array is wanted`},
		{"no version", replace(`"version": 1,`, ``), `ref.json: no "version"; want 1`},
		{"unknown version", replace(`"version": 1,`, `"version": 2,`), "ref.json: version 2; this Kappa reads version 1"},
		{"data after", validReference + "{}", "ref.json: data after the JSON object"},
		{"no series", `{"version": 1, "pipeline": "p", "source": "s"}`, `ref.json: neither "features" nor "score": nothing to compare`},
		{
			"proportions not summing", replace(`[0.3, 0.5, 0.19, 0.01]`, `[0.3, 0.5, 0.19, 0.1]`),
			`ref.json: feature "amount": proportions sum to 1.09; want 1`,
		},
		{
			"wrong number of proportions", replace(`[0.9, 0.1, 0]`, `[0.9, 0.1]`),
			"ref.json: score: 2 proportions for 1 edges; want 3 (2 value bins, then the missing bin)",
		},
		{"edges not ascending", replace(`[10, 50]`, `[50, 10]`), `ref.json: feature "amount": edges[1] 10 is not above edges[0] 50`},
		{
			"null bins", replace(`"hour": {"edges": [], "proportions": [1, 0], "records": 100000}`, `"hour": null`),
			`ref.json: feature "hour": no bins (null)`,
		},
		{"empty feature name", replace(`"hour"`, `""`), `ref.json: feature "": empty feature name`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := drift.Parse("ref.json", []byte(tc.data))
			if err == nil {
				t.Fatalf("got no error, want %q", tc.want)
			}
			if !errors.Is(err, drift.ErrInvalidReference) {
				t.Errorf("error %v does not wrap ErrInvalidReference", err)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "drift: invalid reference: "+tc.want) {
				t.Errorf("got  %q\nwant %q...", msg, "drift: invalid reference: "+tc.want)
			}
			if !strings.HasSuffix(msg, "; make the reference file with kappa profile") {
				t.Errorf("error %q does not say what to do", msg)
			}
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	r, err := drift.Parse("ref.json", []byte(validReference))
	if err != nil {
		t.Fatal(err)
	}
	data, err := r.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasSuffix(data, []byte("}\n")) || !bytes.Contains(data, []byte("\n  \"features\": {")) {
		t.Errorf("Marshal is not indented JSON with a trailing newline:\n%s", data)
	}
	back, err := drift.Parse("marshalled", data)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, r) {
		t.Errorf("round trip: got %+v, want %+v", back, r)
	}
	again, err := back.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, data) {
		t.Errorf("Marshal is not deterministic:\n%s\nthen\n%s", data, again)
	}
}

func TestMarshalRefusesInvalid(t *testing.T) {
	r := &drift.Reference{Version: 1, Score: &drift.Bins{Proportions: []float64{0.5, 0.2}}}
	if _, err := r.Marshal(); !errors.Is(err, drift.ErrInvalidReference) {
		t.Errorf("got %v, want ErrInvalidReference", err)
	}
}

func TestLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ref.json")
	if err := os.WriteFile(path, []byte(validReference), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err := drift.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if r.Pipeline != "fraud" {
		t.Errorf("pipeline %q, want fraud", r.Pipeline)
	}
	if err := os.WriteFile(path, []byte(`{"version": 3}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := drift.Load(path); err == nil || !strings.Contains(err.Error(), path+": version 3") {
		t.Errorf("got %v, want an error naming %s", err, path)
	}
	if _, err := drift.Load(filepath.Join(t.TempDir(), "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("got %v, want ErrNotExist", err)
	}
}
