package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// repo is the repository root, two levels up from this package.
const repo = "../.."

// TestRepository checks the repository's own docker-compose.yml and Dockerfile. The deploy/
// files the stack mounts come from the Prometheus and Grafana work; until they are in this
// checkout their missing paths are the only problems tolerated, and only then.
func TestRepository(t *testing.T) {
	_, statErr := os.Stat(filepath.Join(repo, "deploy"))
	for _, p := range check(context.Background(), repo) {
		if os.IsNotExist(statErr) && strings.Contains(p, "./deploy/") && strings.Contains(p, "does not exist") {
			t.Logf("tolerated while deploy/ is absent: %s", p)
			continue
		}
		t.Errorf("got problem %q, want none", p)
	}
}

// fixture copies the stack's files from the repository into a temporary directory, with
// empty stand-ins for the deploy/ files, and returns the directory.
func fixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for _, f := range []string{"Dockerfile", ".dockerignore", "docker-compose.yml", "examples/fraud/fraud.yaml", "examples/fraud/model.json", "examples/fraud/fraud-reference.json"} {
		data, err := os.ReadFile(filepath.Join(repo, f))
		if err != nil {
			t.Fatal(err)
		}
		write(t, dir, f, string(data))
	}
	write(t, dir, "deploy/prometheus/prometheus.yml", "global: {}\n")
	for _, d := range []string{"deploy/prometheus/rules", "deploy/grafana/provisioning", "deploy/grafana/dashboards"} {
		if err := os.MkdirAll(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func write(t *testing.T, dir, name, data string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// edit replaces the first n occurrences of old in dir/name (all when n < 0); old must occur.
func edit(t *testing.T, dir, name, old, repl string, n int) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(data), old) {
		t.Fatalf("%s has no %q: the fixture is out of date", name, old)
	}
	write(t, dir, name, strings.Replace(string(data), old, repl, n))
}

func TestRunOK(t *testing.T) {
	dir := fixture(t)
	var out bytes.Buffer
	if code := run(context.Background(), dir, &out); code != 0 || out.String() != "compose=ok\n" {
		t.Fatalf("got exit %d and %q, want 0 and %q", code, out.String(), "compose=ok\n")
	}
}

func TestRunFails(t *testing.T) {
	dir := fixture(t)
	if err := os.Remove(filepath.Join(dir, ".dockerignore")); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if code := run(context.Background(), dir, &out); code != 1 || !strings.HasSuffix(out.String(), "compose=FAIL (1 problems)\n") {
		t.Fatalf("got exit %d and %q, want 1 and a compose=FAIL line", code, out.String())
	}
}

func TestComposeProblems(t *testing.T) {
	const compose = "docker-compose.yml"
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, dir string)
		want   string
	}{
		{
			name:   "bind mount of a missing path",
			change: func(t *testing.T, dir string) { rmAll(t, dir, "deploy/prometheus/rules") },
			want:   "service prometheus: volume ./deploy/prometheus/rules:/etc/prometheus/rules: the host path does not exist",
		},
		{
			name: "bind mount outside the repository",
			change: func(t *testing.T, dir string) {
				edit(t, dir, compose, "./deploy/grafana/dashboards:", "../dashboards:", 1)
			},
			want: "service grafana: volume",
		},
		{
			name:   "image without a tag",
			change: func(t *testing.T, dir string) { edit(t, dir, compose, "prom/prometheus:v3.7.3", "prom/prometheus", 1) },
			want:   "service prometheus: image prom/prometheus has no tag",
		},
		{
			name: "image tagged latest",
			change: func(t *testing.T, dir string) {
				edit(t, dir, compose, "grafana/grafana:12.3.1", "grafana/grafana:latest", 1)
			},
			want: "service grafana: image grafana/grafana:latest is tagged latest",
		},
		{
			name: "neither image nor build",
			change: func(t *testing.T, dir string) {
				edit(t, dir, compose, "build: *kappa-build\n    image: kappa:compose\n    command: [\"gen\"", "command: [\"gen\"", 1)
			},
			want: `service "gen" has neither an image nor a build`,
		},
		{
			name: "depends_on a service that does not exist",
			change: func(t *testing.T, dir string) {
				edit(t, dir, compose, "      prometheus:\n        condition:", "      prom:\n        condition:", 1)
			},
			want: "prom",
		},
		{
			name: "service_healthy on a service without a healthcheck",
			change: func(t *testing.T, dir string) {
				edit(t, dir, compose, "kafka-init:\n        condition: service_completed_successfully", "gen:\n        condition: service_healthy", 1)
			},
			want: "service kappa: depends_on gen with condition service_healthy, but gen has no healthcheck",
		},
		{
			name:   "service_completed_successfully on a service that restarts",
			change: func(t *testing.T, dir string) { edit(t, dir, compose, `restart: "no"`, "restart: unless-stopped", 1) },
			want:   "depends_on kafka-init with condition service_completed_successfully, but kafka-init restarts unless-stopped",
		},
		{
			name: "port not published",
			change: func(t *testing.T, dir string) {
				edit(t, dir, compose, `"127.0.0.1:9464:9464"`, `"127.0.0.1:9465:9465"`, 1)
			},
			want: "service kappa: does not publish container port 9464",
		},
		{
			name:   "kappa without an instance id",
			change: func(t *testing.T, dir string) { edit(t, dir, compose, `"--instance-id", "kappa-0",`, "", 1) },
			want:   "has no -instance-id",
		},
		{
			name: "pipeline file that does not exist",
			change: func(t *testing.T, dir string) {
				edit(t, dir, compose, "/etc/kappa/fraud.yaml", "/etc/kappa/nope.yaml", 1)
			},
			want: "pipeline file /etc/kappa/nope.yaml (./examples/fraud/nope.yaml): pipeline:",
		},
		{
			name: "pipeline file not mounted",
			change: func(t *testing.T, dir string) {
				edit(t, dir, compose, "./examples/fraud:/etc/kappa:ro", "./examples/fraud:/etc/other:ro", 1)
			},
			want: "pipeline file /etc/kappa/fraud.yaml is not in a bind-mounted directory",
		},
		{
			name: "pipeline file that does not parse",
			change: func(t *testing.T, dir string) {
				edit(t, dir, "examples/fraud/fraud.yaml", "name: fraud\n", "name: fraud\nwindow_size: 1m\n", 1)
			},
			want: "pipeline file /etc/kappa/fraud.yaml (./examples/fraud/fraud.yaml):",
		},
		{
			name:   "model file missing",
			change: func(t *testing.T, dir string) { rmAll(t, dir, "examples/fraud/model.json") },
			want:   "model file ./examples/fraud/model.json of /etc/kappa/fraud.yaml does not exist",
		},
		{
			name:   "drift reference missing",
			change: func(t *testing.T, dir string) { rmAll(t, dir, "examples/fraud/fraud-reference.json") },
			want:   "drift reference ./examples/fraud/fraud-reference.json of /etc/kappa/fraud.yaml does not exist",
		},
		{
			name:   "gen not running kappa gen",
			change: func(t *testing.T, dir string) { edit(t, dir, compose, `command: ["gen", `, `command: ["demo", `, 1) },
			want:   "service gen: command",
		},
		{
			name: "not valid Compose",
			change: func(t *testing.T, dir string) {
				edit(t, dir, compose, "    restart: unless-stopped\n", "    restart: unless-stopped\n    bogus_key: 1\n", 1)
			},
			want: "the Compose loader rejects it",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := fixture(t)
			tc.change(t, dir)
			problems := checkCompose(context.Background(), dir, compose)
			t.Logf("problems: %q", problems)
			for _, p := range problems {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("got problems %q, want one containing %q", problems, tc.want)
		})
	}
}

func rmAll(t *testing.T, dir, name string) {
	t.Helper()
	if err := os.RemoveAll(filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}
