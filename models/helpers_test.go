package models

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest"
	"go.uber.org/zap/zaptest/observer"
)

// The test models: two versions of a five-feature model and one of another size.
var (
	five = []string{"f0", "f1", "f2", "f3", "f4"}
	v1   = testModel("linear_binary.json") // kappa-linear, 5 features
	v2   = testModel("xgb_binary.json")    // XGBoost, 5 features
	two  = testModel("tiny_xgb.json")      // XGBoost, 2 features
)

func testModel(name string) []byte {
	data, err := os.ReadFile(filepath.Join("..", "score", "testdata", name))
	if err != nil {
		panic(err)
	}
	return data
}

// logs returns a logger that writes to the test log and records its entries.
func logs(t *testing.T) (*zap.Logger, *observer.ObservedLogs) {
	t.Helper()
	core, obs := observer.New(zapcore.DebugLevel)
	return zap.New(zapcore.NewTee(zaptest.NewLogger(t).Core(), core)), obs
}

// runner is a watcher's Run.
type runner interface{ Run(context.Context) error }

// run runs w until the test ends, and checks that Run returned nil.
func run(t *testing.T, w runner) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var err error
	wg.Go(func() { err = w.Run(ctx) })
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if err != nil {
			t.Errorf("Run returned %v, want nil", err)
		}
	})
}

// eventually waits until cond holds, failing the test after 10s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// loads returns the load counts of a model and role.
func loads(m *Metrics, model, role string) (ok, failed float64) {
	return testutil.ToFloat64(m.loads.WithLabelValues(model, role, "ok")),
		testutil.ToFloat64(m.loads.WithLabelValues(model, role, "error"))
}

// checkInfo checks that kappa_score_model_info has exactly one series per (model, role):
// want lists "model role version".
func checkInfo(t *testing.T, m *Metrics, want ...string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("# HELP kappa_score_model_info 1 for the model version in use, by model name and role (primary or shadow).\n# TYPE kappa_score_model_info gauge\n")
	for _, w := range want {
		f := strings.Fields(w)
		b.WriteString(`kappa_score_model_info{model="` + f[0] + `",role="` + f[1] + `",version="` + f[2] + "\"} 1\n")
	}
	if err := testutil.CollectAndCompare(m.info, strings.NewReader(b.String())); err != nil {
		t.Error(err)
	}
}

// warned returns the warnings logged so far.
func warned(obs *observer.ObservedLogs) []observer.LoggedEntry {
	return obs.FilterLevelExact(zapcore.WarnLevel).All()
}
