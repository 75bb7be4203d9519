package score_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/kappa-stream/kappa/score"
)

// TestTinyModels checks the rules one at a time on two hand-written models whose
// predictions XGBoost and LightGBM themselves made (testdata/tiny.json, from train.py):
// float32 features and `<` in XGBoost, `<=`, missing types and kZeroThreshold in LightGBM.
func TestTinyModels(t *testing.T) {
	var doc map[string][]json.RawMessage
	if err := json.Unmarshal(readTestdata(t, "tiny.json"), &doc); err != nil {
		t.Fatal(err)
	}
	var rows [][]float64
	for _, raw := range doc["rows"] {
		var r []string
		if err := json.Unmarshal(raw, &r); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, []float64{parseF(t, r[0], 64), parseF(t, r[1], 64)})
	}
	for _, file := range []string{"tiny_xgb.json", "tiny_lgb.txt"} {
		t.Run(file, func(t *testing.T) {
			m := loadTestModel(t, file)
			bits := 64
			if m.Kind() == "xgboost" {
				bits = 32 // XGBoost predicts float32
			}
			for i, x := range rows {
				var s string
				if err := json.Unmarshal(doc[file][i], &s); err != nil {
					t.Fatal(err)
				}
				want := parseF(t, s, bits)
				// 1e-12: Go's math.Exp and C's exp may differ in the last bit; a wrong
				// branch would change the score by more than 0.01.
				if got := m.Predict(x, nil); len(got) != 1 || math.Abs(got[0]-want) > 1e-12 {
					t.Errorf("Predict(%v) = %v, want [%v]", x, got, want)
				}
			}
		})
	}
}

func parseF(t *testing.T, s string, bits int) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, bits)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestModelInfo(t *testing.T) {
	for _, tc := range []struct {
		file, kind, objective string
		features              int
		names                 []string
	}{
		{"tiny_xgb.json", "xgboost", "binary:logistic", 2, []string{"amount", "count"}},
		{"xgb_multi.json", "xgboost", "multi:softprob", 5, []string{"f0", "f1", "f2", "f3", "f4"}},
		{"xgb_reg.json", "xgboost", "reg:squarederror", 5, []string{"f0", "f1", "f2", "f3", "f4"}},
		{"tiny_lgb.txt", "lightgbm", "binary", 2, []string{"amount", "count"}},
		{"lgb_reg.txt", "lightgbm", "regression", 5, []string{"f0", "f1", "f2", "f3", "f4"}},
		{"linear_binary.json", "logistic", "binary:logistic", 5, []string{"f0", "f1", "f2", "f3", "f4"}},
		{"linear_reg.json", "logistic", "reg:linear", 5, []string{"f0", "f1", "f2", "f3", "f4"}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			m, err := score.Load(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Kind(); got != tc.kind {
				t.Errorf("Kind() = %q, want %q", got, tc.kind)
			}
			if got := m.Objective(); got != tc.objective {
				t.Errorf("Objective() = %q, want %q", got, tc.objective)
			}
			if got := m.NumFeatures(); got != tc.features {
				t.Errorf("NumFeatures() = %d, want %d", got, tc.features)
			}
			if got := m.FeatureNames(); strings.Join(got, " ") != strings.Join(tc.names, " ") {
				t.Errorf("FeatureNames() = %q, want %q", got, tc.names)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := score.Load(filepath.Join("testdata", "no-such-model.json"))
	if !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("got %v, want an error wrapping os.ErrNotExist", err)
	}
}

// TestXGBoostBaseScoreForms: XGBoost 1.x/2.x write base_score as "5E-1", 3.x as "[5E-1]",
// and default_left was an array of booleans before 2.0; all mean the same model.
func TestXGBoostBaseScoreForms(t *testing.T) {
	orig := string(readTestdata(t, "tiny_xgb.json"))
	ref := mustParse(t, orig)
	for _, tc := range []struct{ name, old, repl string }{
		{"2.x base_score", `"base_score":"[5E-1]"`, `"base_score":"5E-1"`},
		{"decimal base_score", `"base_score":"[5E-1]"`, `"base_score":"0.5"`},
		{"boolean default_left", `"default_left":[1,0,0]`, `"default_left":[true,false,false]`},
		{"no split_type", `"split_type":[0,0,0],`, ``},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := mustParse(t, replaceOnce(t, orig, tc.old, tc.repl))
			for _, x := range [][]float64{{50, 1}, {150, 5}, {math.NaN(), math.NaN()}} {
				if got, want := m.Predict(x, nil)[0], ref.Predict(x, nil)[0]; got != want {
					t.Errorf("Predict(%v) = %v, want %v", x, got, want)
				}
			}
		})
	}
	// A base_score of 0.8 adds logit(0.8) to the margin: sigmoid(-0.75 + logit(0.8)).
	m := mustParse(t, replaceOnce(t, orig, `"[5E-1]"`, `"[8E-1]"`))
	want := 1 / (1 + math.Exp(0.75-math.Log(4)))
	if got := m.Predict([]float64{50, 1}, nil)[0]; math.Abs(got-want) > 1e-7 {
		t.Errorf("with base_score 0.8: got %v, want %v", got, want)
	}
	// reg:squarederror adds base_score as it is.
	m = mustParse(t, replaceOnce(t, replaceOnce(t, orig, `"[5E-1]"`, `"[1.5E0]"`), `"binary:logistic"`, `"reg:squarederror"`))
	if got := m.Predict([]float64{50, 1}, nil)[0]; got != 0.75 {
		t.Errorf("reg:squarederror with base_score 1.5: got %v, want 0.75", got)
	}
}

func TestLinear(t *testing.T) {
	m := mustParse(t, `{"format":"kappa-linear","version":1,"objective":"reg:linear",
		"features":["a","b"],"weights":[2,-1],"intercept":0.5,"impute":[10,0]}`)
	for _, tc := range []struct {
		x    []float64
		want float64
	}{
		{[]float64{1, 1}, 1.5},
		{[]float64{math.NaN(), 1}, 19.5},
		{[]float64{1, math.NaN()}, 2.5},
	} {
		if got := m.Predict(tc.x, nil)[0]; got != tc.want {
			t.Errorf("Predict(%v) = %v, want %v", tc.x, got, tc.want)
		}
	}
	m = mustParse(t, `{"format":"kappa-linear","version":1,"objective":"binary:logistic",
		"features":["a"],"weights":[1],"intercept":0}`)
	if got := m.Predict([]float64{math.NaN()}, nil)[0]; got != 0.5 {
		t.Errorf("missing feature without impute: got %v, want 0.5 (imputed 0)", got)
	}
}

// TestPredictAppends: Predict appends to out, keeps what is there, and allocates nothing
// when out has room, for every kind of model.
func TestPredictAppends(t *testing.T) {
	for _, file := range []string{"xgb_binary.json", "xgb_multi.json", "lgb_binary.txt", "linear_binary.json"} {
		t.Run(file, func(t *testing.T) {
			m := loadTestModel(t, file)
			_, rows := heldout(t)
			n := len(m.Predict(rows[0], nil))
			out := m.Predict(rows[0], []float64{42})
			if len(out) != 1+n || out[0] != 42 {
				t.Fatalf("Predict(x, [42]) = %v, want 42 then %d values", out, n)
			}
			buf := make([]float64, 0, n)
			allocs := testing.AllocsPerRun(100, func() {
				buf = m.Predict(rows[1], buf[:0])
			})
			if allocs != 0 {
				t.Errorf("Predict allocated %v times per call, want 0", allocs)
			}
		})
	}
}

func TestPredictWrongLength(t *testing.T) {
	m := loadTestModel(t, "tiny_xgb.json")
	defer func() {
		r := recover()
		if r == nil || !strings.Contains(r.(string), "score: xgboost model takes 2 features, Predict got 3") {
			t.Fatalf("got panic %v, want one naming the lengths", r)
		}
	}()
	m.Predict([]float64{1, 2, 3}, nil)
}

// TestPredictConcurrent: a Model is safe for concurrent use (run with -race).
func TestPredictConcurrent(t *testing.T) {
	_, rows := heldout(t)
	for _, file := range []string{"xgb_multi.json", "lgb_reg.txt", "linear_reg.json"} {
		m := loadTestModel(t, file)
		var want [][]float64
		for _, r := range rows {
			want = append(want, m.Predict(r, nil))
		}
		var wg sync.WaitGroup
		for range 4 {
			wg.Go(func() {
				var out []float64
				for i, r := range rows {
					out = m.Predict(r, out[:0])
					for k := range out {
						if out[k] != want[i][k] {
							t.Errorf("%s: row %d: concurrent Predict got %v, want %v", file, i, out, want[i])
							return
						}
					}
				}
			})
		}
		wg.Wait()
	}
}

func mustParse(t *testing.T, s string) score.Model {
	t.Helper()
	m, err := score.Parse("test", []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func replaceOnce(t *testing.T, s, old, repl string) string {
	t.Helper()
	if !strings.Contains(s, old) {
		t.Fatalf("%q not found", old)
	}
	return strings.Replace(s, old, repl, 1)
}
