// Package admin serves a process's admin HTTP endpoints: Prometheus metrics from an injected
// registry, liveness (/healthz), readiness (/readyz) from registered checks, and pprof.
//
// It owns no business logic and never uses the global Prometheus registry.
package admin
