package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"strings"
)

// The operations files, relative to the repository root.
const (
	prometheusConfig = "deploy/prometheus/prometheus.yml"
	rulesFile        = "deploy/prometheus/rules/kappa.rules.yml"
	rulesTestFile    = "deploy/prometheus/rules/kappa.rules.test.yml"
	dashboardFile    = "deploy/grafana/dashboards/kappa.json"
)

// runRules checks the Prometheus config (which loads the rules) and the rules with
// promtool, then runs the rules' unit tests, printing promtool's output and, last,
// "rules=ok rule_tests=ok" or which of them failed.
func runRules(ctx context.Context, root string, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("rules", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: go run ./tools/checkops rules\n\n"+
			"Runs promtool check config %s, promtool check rules %s and\npromtool test rules %s.\n", prometheusConfig, rulesFile, rulesTestFile)
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	_, promtool, err := ensurePrometheus(ctx, root, stderr)
	if err != nil {
		return err
	}

	checked := promtoolRun(ctx, root, stdout, promtool, "check", "config", prometheusConfig) &&
		promtoolRun(ctx, root, stdout, promtool, "check", "rules", rulesFile)
	// promtool test rules reads the rule files relative to the test file.
	tested := promtoolRun(ctx, filepath.Join(root, filepath.Dir(rulesTestFile)), stdout, promtool, "test", "rules", filepath.Base(rulesTestFile))

	fmt.Fprintf(stdout, "rules=%s rule_tests=%s\n", okOrFail(checked), okOrFail(tested))
	if !checked || !tested {
		return errCheckFailed
	}
	return nil
}

// promtoolRun runs promtool in dir, copies its output indented under a header line, and
// reports whether it exited 0.
func promtoolRun(ctx context.Context, dir string, stdout io.Writer, promtool string, args ...string) bool {
	var out bytes.Buffer
	err := command(ctx, dir, &out, &out, promtool, args...).Run()
	fmt.Fprintf(stdout, "$ promtool %s\n", strings.Join(args, " "))
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		fmt.Fprintf(stdout, "  %s\n", line)
	}
	if err != nil {
		fmt.Fprintf(stdout, "  (promtool: %v)\n", err)
		return false
	}
	return true
}

func okOrFail(ok bool) string {
	if ok {
		return "ok"
	}
	return "FAIL"
}

// command is exec.CommandContext with a working directory and outputs.
func command(ctx context.Context, dir string, stdout, stderr io.Writer, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Stdout = stdout
	cmd.Stderr = stderr
	return cmd
}

func lookPath(name string) (string, error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return "", fmt.Errorf("%s is not on PATH after tools/ops/ensure-prometheus.sh: %w", name, err)
	}
	return p, nil
}
