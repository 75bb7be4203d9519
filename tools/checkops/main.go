package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

// errCheckFailed reports a check that ran and found problems, which it has already printed.
var errCheckFailed = errors.New("checkops: check failed")

const usage = `usage: go run ./tools/checkops <command> [flags]

commands:
  rules      promtool check config and rules, and promtool test rules; prints rules=ok rule_tests=ok
  dashboard  runs every panel query of the Grafana dashboard against Prometheus scraping kappa demo;
             prints dashboard_queries=N/N

Run "go run ./tools/checkops <command> -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errCheckFailed):
		os.Exit(1)
	default:
		fmt.Fprintf(os.Stderr, "checkops: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	root, err := repoRoot()
	if err != nil {
		return err
	}
	switch args[0] {
	case "rules":
		return runRules(ctx, root, args[1:], stdout, stderr)
	case "dashboard":
		return runDashboard(ctx, root, args[1:], stdout, stderr)
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// repoRoot is the directory of the go.mod above the working directory: the checks read
// the repository's files by their paths from there, wherever they are run from.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		if filepath.Dir(d) == d {
			return "", fmt.Errorf("no go.mod in %s or above: run checkops inside the Kappa repository", dir)
		}
	}
}

// ensurePrometheus runs tools/ops/ensure-prometheus.sh, which installs Debian's prometheus
// package when prometheus or promtool is missing, and returns the paths of both.
func ensurePrometheus(ctx context.Context, root string, stderr io.Writer) (prometheus, promtool string, err error) {
	if err := command(ctx, root, stderr, stderr, filepath.Join(root, "tools/ops/ensure-prometheus.sh")).Run(); err != nil {
		return "", "", fmt.Errorf("tools/ops/ensure-prometheus.sh: %w", err)
	}
	if prometheus, err = lookPath("prometheus"); err != nil {
		return "", "", err
	}
	if promtool, err = lookPath("promtool"); err != nil {
		return "", "", err
	}
	return prometheus, promtool, nil
}
