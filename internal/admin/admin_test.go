package admin_test

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kappa-stream/kappa/internal/admin"
)

func get(t *testing.T, h http.Handler, path string) (int, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	body, _ := io.ReadAll(rec.Result().Body)
	return rec.Code, string(body)
}

func TestEndpoints(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "kappa_test_things_total", Help: "Things."})
	reg.MustRegister(c)
	c.Add(3)
	s := admin.New("127.0.0.1:0", reg)
	h := s.Handler()

	if code, body := get(t, h, "/metrics"); code != http.StatusOK || !strings.Contains(body, "kappa_test_things_total 3") {
		t.Errorf("/metrics: got %d %q, want 200 with kappa_test_things_total 3", code, body)
	}
	if code, _ := get(t, h, "/healthz"); code != http.StatusOK {
		t.Errorf("/healthz: got %d, want 200", code)
	}
	if code, _ := get(t, h, "/debug/pprof/"); code != http.StatusOK {
		t.Errorf("/debug/pprof/: got %d, want 200", code)
	}
}

func TestReadiness(t *testing.T) {
	s := admin.New("127.0.0.1:0", prometheus.NewRegistry())
	h := s.Handler()
	if code, _ := get(t, h, "/readyz"); code != http.StatusOK {
		t.Fatalf("no checks: got %d, want 200", code)
	}

	restoring := errors.New("partition 3 restoring")
	s.SetReadinessCheck("state", func() error { return restoring })
	s.SetReadinessCheck("broker", func() error { return nil })
	code, body := get(t, h, "/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "state: partition 3 restoring") {
		t.Fatalf("restoring: got %d %q, want 503 naming the state check", code, body)
	}

	restoring = nil
	if code, body := get(t, h, "/readyz"); code != http.StatusOK {
		t.Fatalf("restored: got %d %q, want 200", code, body)
	}

	s.SetReadinessCheck("state", func() error { return errors.New("closed") })
	s.SetReadinessCheck("state", nil)
	if code, _ := get(t, h, "/readyz"); code != http.StatusOK {
		t.Fatalf("removed check: got %d, want 200", code)
	}
}

func TestRunServesAndStops(t *testing.T) {
	s := admin.New("127.0.0.1:0", prometheus.NewRegistry())
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, ready) }()
	addr := <-ready

	resp, err := http.Get("http://" + addr.String() + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz: got %d, want 200", resp.StatusCode)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel: got %v, want nil", err)
	}
}

func TestRunReportsListenError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	err = admin.New(ln.Addr().String(), prometheus.NewRegistry()).Run(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Fatalf("got %v, want a listen error", err)
	}
}
