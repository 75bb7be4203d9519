package admin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ReadinessCheck reports nil when the part of the process it watches is ready to serve, or
// an error saying why not (for example "partition 3 restoring: 1200/5000 records").
type ReadinessCheck func() error

// Server is the admin HTTP server. The zero value is not usable; call [New].
type Server struct {
	addr     string
	gatherer prometheus.Gatherer
	mux      *http.ServeMux

	mu     sync.Mutex
	checks map[string]ReadinessCheck
}

// New returns a server for addr (host:port; port 0 picks a free one) that exposes the
// metrics in g. It does not listen until [Server.Run].
func New(addr string, g prometheus.Gatherer) *Server {
	s := &Server{addr: addr, gatherer: g, mux: http.NewServeMux(), checks: map[string]ReadinessCheck{}}
	s.mux.Handle("GET /metrics", promhttp.HandlerFor(g, promhttp.HandlerOpts{EnableOpenMetrics: true}))
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = fmt.Fprintln(w, "ok")
	})
	s.mux.HandleFunc("GET /readyz", s.serveReady)
	s.mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	s.mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	s.mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	s.mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	s.mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return s
}

// SetReadinessCheck registers (or, with a nil check, removes) the readiness check called
// name. /readyz answers 200 only when every registered check returns nil.
func (s *Server) SetReadinessCheck(name string, check ReadinessCheck) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if check == nil {
		delete(s.checks, name)
		return
	}
	s.checks[name] = check
}

// Ready returns nil when every readiness check passes, else an error listing each failing
// check by name, in name order.
func (s *Server) Ready() error {
	s.mu.Lock()
	names := make([]string, 0, len(s.checks))
	for n := range s.checks {
		names = append(names, n)
	}
	checks := make([]ReadinessCheck, len(names))
	sort.Strings(names)
	for i, n := range names {
		checks[i] = s.checks[n]
	}
	s.mu.Unlock()

	var failed []string
	for i, c := range checks {
		if err := c(); err != nil {
			failed = append(failed, names[i]+": "+err.Error())
		}
	}
	if len(failed) > 0 {
		return errors.New(strings.Join(failed, "; "))
	}
	return nil
}

func (s *Server) serveReady(w http.ResponseWriter, _ *http.Request) {
	if err := s.Ready(); err != nil {
		http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	_, _ = fmt.Fprintln(w, "ready")
}

// Handler returns the server's routes, for tests and for embedding in another server.
func (s *Server) Handler() http.Handler { return s.mux }

// Run listens on the server's address and serves until ctx is done, then shuts down,
// allowing in-flight requests up to five seconds. If ready is not nil, Run sends the bound
// address on it once it listens (useful with port 0). It returns after the listener is
// closed.
func (s *Server) Run(ctx context.Context, ready chan<- net.Addr) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.addr)
	if err != nil {
		return fmt.Errorf("admin: listen on %s: %w", s.addr, err)
	}
	if ready != nil {
		ready <- ln.Addr()
	}
	srv := &http.Server{Handler: s.mux, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("admin: serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("admin: shutdown: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("admin: serve: %w", err)
	}
	return nil
}
