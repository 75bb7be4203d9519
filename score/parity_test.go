package score_test

import (
	"bytes"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/kappa-stream/kappa/score"
)

// parityTolerance is the largest difference allowed between a Go score and the library's.
const parityTolerance = 1e-6

// parityFile is testdata/parity.json, written by testdata/train.py.
type parityFile struct {
	Versions map[string]string `json:"versions"`
	Models   []struct {
		Name        string   `json:"name"`
		File        string   `json:"file"`
		Outputs     int      `json:"outputs"`
		Bits        int      `json:"bits"` // 32: XGBoost's float32 predictions
		Predictions []string `json:"predictions"`
	} `json:"models"`
}

// readTestdata reads a file of testdata, decompressing a .gz one (the two large benchmark
// models are committed compressed).
func readTestdata(tb testing.TB, file string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		tb.Fatal(err)
	}
	if strings.HasSuffix(file, ".gz") {
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			tb.Fatalf("%s: %v", file, err)
		}
		if data, err = io.ReadAll(zr); err != nil {
			tb.Fatalf("%s: %v", file, err)
		}
	}
	return data
}

// loadTestModel parses a model of testdata.
func loadTestModel(tb testing.TB, file string) score.Model {
	tb.Helper()
	m, err := score.Parse(filepath.Join("testdata", strings.TrimSuffix(file, ".gz")), readTestdata(tb, file))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// heldout reads testdata/heldout.csv: the feature vectors the libraries predicted.
func heldout(tb testing.TB) (names []string, rows [][]float64) {
	tb.Helper()
	recs, err := csv.NewReader(bytes.NewReader(readTestdata(tb, "heldout.csv"))).ReadAll()
	if err != nil {
		tb.Fatal(err)
	}
	for i, rec := range recs[1:] {
		row := make([]float64, len(rec))
		for j, s := range rec {
			if row[j], err = strconv.ParseFloat(s, 64); err != nil {
				tb.Fatalf("heldout.csv:%d: %v", i+2, err)
			}
		}
		rows = append(rows, row)
	}
	return recs[0], rows
}

// TestParity scores every held-out row with every model that testdata/train.py trained and
// compares with the predictions of XGBoost, LightGBM and scikit-learn themselves.
func TestParity(t *testing.T) {
	var pf parityFile
	if err := json.Unmarshal(readTestdata(t, "parity.json"), &pf); err != nil {
		t.Fatal(err)
	}
	t.Logf("parity: libraries %v", pf.Versions)
	names, rows := heldout(t)
	if len(pf.Models) < 10 {
		t.Fatalf("got %d models in parity.json, want 10", len(pf.Models))
	}
	for _, pm := range pf.Models {
		t.Run(pm.Name, func(t *testing.T) {
			m := loadTestModel(t, pm.File)
			if got, want := m.NumFeatures(), len(names); got != want {
				t.Fatalf("NumFeatures() = %d, want %d", got, want)
			}
			if got := m.FeatureNames(); strings.Join(got, ",") != strings.Join(names, ",") {
				t.Errorf("FeatureNames() = %q, want %q", got, names)
			}
			if got, want := len(pm.Predictions), len(rows)*pm.Outputs; got != want {
				t.Fatalf("parity.json has %d predictions, want %d rows x %d outputs", got, len(rows), pm.Outputs)
			}
			maxDiff, worst := 0.0, -1
			out := make([]float64, 0, pm.Outputs)
			for i, row := range rows {
				out = m.Predict(row, out[:0])
				if len(out) != pm.Outputs {
					t.Fatalf("row %d: got %d outputs, want %d", i, len(out), pm.Outputs)
				}
				for k, got := range out {
					want, err := strconv.ParseFloat(pm.Predictions[i*pm.Outputs+k], pm.Bits)
					if err != nil {
						t.Fatal(err)
					}
					d := math.Abs(got - want)
					if math.IsNaN(d) && !(math.IsNaN(got) && math.IsNaN(want)) {
						d = math.Inf(1)
					}
					if d > maxDiff || worst < 0 {
						if d > maxDiff {
							maxDiff = d
						}
						worst = i
					}
					if d > parityTolerance {
						t.Errorf("row %d %v output %d: got %v, want %v", i, row, k, got, want)
					}
				}
			}
			t.Logf("parity: model=%s n=%d max_abs_diff=%.3g", pm.Name, len(rows), maxDiff)
		})
	}
}
