package main

import (
	"bytes"
	"encoding/csv"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/kappa-stream/kappa/pipeline"
)

const pipelineFile = "../fraud.yaml"

// TestFeaturesCSV runs the command on a few records and checks the CSV's shape: the
// pipeline's features as header, then label; window features present (no late records in
// the demo's stream); the first record of a card counted once.
func TestFeaturesCSV(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if err := run([]string{"-f", pipelineFile, "-n", "5000"}, &stdout, &stderr); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&stdout).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	want := "amount,window.txn_count,window.amount_sum,window.amount_max,window.merchants,label"
	if got := strings.Join(rows[0], ","); got != want {
		t.Fatalf("header: got %s, want %s", got, want)
	}
	if got := len(rows) - 1; got != 5000-5000/500 {
		t.Errorf("rows: got %d, want %d (malformed records left out)", got, 5000-5000/500)
	}
	if got := strings.Join(rows[1], ","); !strings.HasPrefix(got, rows[1][0]+",1,"+rows[1][0]+","+rows[1][0]+",1,") {
		t.Errorf("first row: got %s, want amount A then 1,A,A,1", got)
	}
	for i, r := range rows[1:] {
		for j, v := range r {
			if v == "NaN" || v == "" {
				t.Fatalf("row %d column %s: got %q, want a number", i+1, rows[0][j], v)
			}
		}
	}
	if !strings.Contains(stderr.String(), "4990 rows") {
		t.Errorf("stderr: got %q, want the row count", stderr.String())
	}
}

// TestLateRecordsHaveNoWindowFeatures injects records far in the past: the window features
// of each are missing (NaN), the record's own field is not.
func TestLateRecordsHaveNoWindowFeatures(t *testing.T) {
	def, err := pipeline.Load(pipelineFile)
	if err != nil {
		t.Fatal(err)
	}
	x, err := newExtractor(def)
	if err != nil {
		t.Fatal(err)
	}
	// 100 records/s, so that 20k records span 200 s of event time, and a record moved 90 s
	// back is beyond a window of 1 minute + 5 s out-of-orderness + the generator's 2 s
	// disorder (gen.Cards documents the bound).
	c := demoCards(def, 3, 100, 4)
	c.LateEvery, c.LateBy = 500, 90*time.Second
	late := 0
	err = x.each(&c, 0, 20_000, func(i int64, features []float64, isLate, _ bool) {
		if isLate != c.Late(i) {
			t.Fatalf("record %d: late %v, want %v", i, isLate, c.Late(i))
		}
		for k, v := range features {
			if missing := math.IsNaN(v); missing != (isLate && k > 0) {
				t.Fatalf("record %d (late %v): feature %s = %v", i, isLate, x.names[k], v)
			}
		}
		if isLate {
			late++
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if late == 0 {
		t.Fatal("no late record; want some")
	}
}
