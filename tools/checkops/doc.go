// Command checkops checks Kappa's operations files against the real tools that consume
// them, and prints one key=value figure per check for `make check-ops` to assemble:
//
//	go run ./tools/checkops rules      # promtool check config/rules, promtool test rules
//	                                   # -> rules=ok rule_tests=ok
//	go run ./tools/checkops dashboard  # every panel query of the Grafana dashboard, asked of
//	                                   # a real Prometheus scraping a running `kappa demo`
//	                                   # -> dashboard_queries=N/N
//
// Both run tools/ops/ensure-prometheus.sh first, which installs Debian's prometheus
// package with apt-get when prometheus or promtool is not on PATH, and says so.
//
// The dashboard check builds ./cmd/kappa (or takes -kappa), starts `kappa demo` on the
// fraud example (embedded broker, generator, windows, scoring and alerts), and starts
// Prometheus with a config generated from deploy/prometheus/prometheus.yml: its kappa job
// pointed at the demo and scraped every second, and the rule files. After enough scrapes
// it resolves the dashboard's template variables as Grafana would, replaces Grafana's
// built-in variables ($__rate_interval, $__range, ...) with concrete values, and runs each
// panel target's expression as an instant query. A query that returns no series is listed
// and fails the check: on the fraud demo every panel must show data.
//
// It owns only these checks: it writes nothing in the repository and stops every process
// it started, on success, failure or interrupt.
package main
