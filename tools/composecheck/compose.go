package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/kappa-stream/kappa/pipeline"
)

// publishedPorts are the container ports each long-running service must publish: what an
// operator opens on the host.
var publishedPorts = map[string]uint32{
	"kafka":      19092, // the HOST listener
	"kappa":      9464,  // admin: /metrics, /healthz, /readyz
	"prometheus": 9090,
	"grafana":    3000,
}

// requiredServices are the services of issue #7's stack; kafka-init is optional (a broker
// could create the input topic some other way).
var requiredServices = []string{"kafka", "kappa", "gen", "prometheus", "grafana"}

// checkCompose loads dir/file with the Compose loader and returns the problems of the stack.
func checkCompose(ctx context.Context, dir, file string) []string {
	root, err := filepath.Abs(dir)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", file, err)}
	}
	opts, err := cli.NewProjectOptions([]string{filepath.Join(root, file)},
		cli.WithWorkingDirectory(root),
		cli.WithInterpolation(true),
		cli.WithResolvedPaths(true),
		cli.WithConsistency(true),
	)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", file, err)}
	}
	project, err := opts.LoadProject(ctx)
	if err != nil {
		return []string{fmt.Sprintf("%s: the Compose loader rejects it: %v", file, err)}
	}
	c := composeChecker{root: root, file: file, project: project}
	c.services()
	return c.problems
}

type composeChecker struct {
	root     string
	file     string
	project  *types.Project
	problems []string
}

func (c *composeChecker) addf(service, format string, args ...any) {
	c.problems = append(c.problems, fmt.Sprintf("%s: service %s: %s", c.file, service, fmt.Sprintf(format, args...)))
}

func (c *composeChecker) services() {
	for _, name := range requiredServices {
		if _, ok := c.project.Services[name]; !ok {
			c.problems = append(c.problems, fmt.Sprintf("%s: no service %s (the stack needs %s)", c.file, name, strings.Join(requiredServices, ", ")))
		}
	}
	names := make([]string, 0, len(c.project.Services))
	for name := range c.project.Services {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		s := c.project.Services[name]
		c.source(name, s)
		c.ports(name, s)
		c.volumes(name, s)
		c.dependsOn(name, s)
	}
	if s, ok := c.project.Services["kappa"]; ok {
		c.kappa(s)
	}
	if s, ok := c.project.Services["gen"]; ok && (len(s.Command) == 0 || s.Command[0] != "gen") {
		c.addf("gen", "command %q does not run `kappa gen`", []string(s.Command))
	}
}

// source checks that the service has an image or a build, that a pulled image is pinned,
// and that a build's context and Dockerfile exist.
func (c *composeChecker) source(name string, s types.ServiceConfig) {
	switch {
	case s.Build != nil:
		ctxDir := s.Build.Context
		if st, err := os.Stat(ctxDir); err != nil || !st.IsDir() {
			c.addf(name, "build context %s is not a directory of the repository", c.rel(ctxDir))
			return
		}
		df := s.Build.Dockerfile
		if df == "" {
			df = "Dockerfile"
		}
		if !filepath.IsAbs(df) {
			df = filepath.Join(ctxDir, df)
		}
		if _, err := os.Stat(df); err != nil {
			c.addf(name, "build Dockerfile %s does not exist", c.rel(df))
		}
	case s.Image == "":
		c.addf(name, "neither image nor build: Compose has nothing to run")
	default:
		if why := unpinned(s.Image); why != "" {
			c.addf(name, "image %s %s; pin a release tag", s.Image, why)
		}
	}
}

// validTag is the grammar of an image tag (distribution/reference).
var validTag = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// unpinned says why image is not pinned to a release, or returns "".
func unpinned(image string) string {
	if strings.Contains(image, "@sha256:") {
		return ""
	}
	name := image[strings.LastIndex(image, "/")+1:]
	i := strings.LastIndex(name, ":")
	switch {
	case i < 0:
		return "has no tag (it means latest)"
	case !validTag.MatchString(name[i+1:]):
		return fmt.Sprintf("has no valid tag (%q; an ARG without a value?)", name[i+1:])
	case name[i+1:] == "latest":
		return "is tagged latest"
	}
	return ""
}

func (c *composeChecker) ports(name string, s types.ServiceConfig) {
	want, ok := publishedPorts[name]
	if !ok {
		return
	}
	for _, p := range s.Ports {
		if p.Target == want && p.Published != "" {
			return
		}
	}
	c.addf(name, "does not publish container port %d on the host", want)
}

// volumes checks that every bind mount's host path exists inside the repository.
func (c *composeChecker) volumes(name string, s types.ServiceConfig) {
	for _, v := range s.Volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		rel, err := filepath.Rel(c.root, v.Source)
		if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			c.addf(name, "volume %s:%s mounts a path outside the repository", filepath.ToSlash(rel), v.Target)
			continue
		}
		if _, err := os.Stat(v.Source); err != nil {
			c.addf(name, "volume ./%s:%s: the host path does not exist in the repository", filepath.ToSlash(rel), v.Target)
		}
	}
}

// dependsOn checks that each dependency exists and can meet its condition.
func (c *composeChecker) dependsOn(name string, s types.ServiceConfig) {
	deps := make([]string, 0, len(s.DependsOn))
	for dep := range s.DependsOn {
		deps = append(deps, dep)
	}
	slices.Sort(deps)
	for _, dep := range deps {
		d := s.DependsOn[dep]
		target, ok := c.project.Services[dep]
		if !ok {
			c.addf(name, "depends_on %s: no such service", dep)
			continue
		}
		switch d.Condition {
		case types.ServiceConditionHealthy:
			if target.HealthCheck == nil || target.HealthCheck.Disable || len(target.HealthCheck.Test) == 0 {
				c.addf(name, "depends_on %s with condition service_healthy, but %s has no healthcheck", dep, dep)
			}
		case types.ServiceConditionCompletedSuccessfully:
			if r := target.Restart; r == types.RestartPolicyAlways || r == types.RestartPolicyUnlessStopped {
				c.addf(name, "depends_on %s with condition service_completed_successfully, but %s restarts %s and never completes", dep, dep, r)
			}
		case types.ServiceConditionStarted, "":
		default:
			c.addf(name, "depends_on %s: unknown condition %q", dep, d.Condition)
		}
	}
}

// kappa checks the kappa service's command line and its pipeline file, read through the
// bind mount that puts it in the container.
func (c *composeChecker) kappa(s types.ServiceConfig) {
	args := []string(s.Command)
	if s.Build == nil {
		c.addf("kappa", "no build: kappa is built from the repository's Dockerfile")
	}
	if len(args) == 0 || args[0] != "run" {
		c.addf("kappa", "command %q does not start with run", args)
		return
	}
	flags := parseFlags(args[1:])
	for _, f := range []string{"f", "brokers", "instance-id"} {
		if flags[f] == "" {
			c.addf("kappa", "command %q has no -%s", args, f)
		}
	}
	file := flags["f"]
	if file == "" {
		return
	}
	host, mount, ok := hostPath(s.Volumes, file)
	if !ok {
		c.addf("kappa", "pipeline file %s is not in a bind-mounted directory", file)
		return
	}
	def, err := pipeline.Load(host)
	if err != nil {
		c.addf("kappa", "pipeline file %s (./%s): %v", file, c.rel(host), err)
		return
	}
	// The files the pipeline names, which kappa run reads at start: its model files and
	// its drift reference.
	type named struct{ what, path string }
	var files []named
	if op := def.ScoreOp(); op != nil {
		for _, m := range []*pipeline.ModelRef{&op.Model, op.Shadow} {
			if m != nil && m.File != "" {
				files = append(files, named{"model file", m.File})
			}
		}
	}
	if d := def.Quality.Drift; d != nil && d.Reference != "" {
		files = append(files, named{"drift reference", d.Reference})
	}
	for _, f := range files {
		switch rel, err := filepath.Rel(mount, f.path); {
		case err != nil || strings.HasPrefix(rel, ".."):
			c.addf("kappa", "%s %s of %s is outside the mounted %s", f.what, c.rel(f.path), file, c.rel(mount))
		default:
			if _, err := os.Stat(f.path); err != nil {
				c.addf("kappa", "%s ./%s of %s does not exist", f.what, c.rel(f.path), file)
			}
		}
	}
}

// parseFlags returns the values of the -name value, -name=value, --name value and
// --name=value flags of args.
func parseFlags(args []string) map[string]string {
	flags := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "-") {
			continue
		}
		a = strings.TrimLeft(a, "-")
		if k, v, ok := strings.Cut(a, "="); ok {
			flags[k] = v
			continue
		}
		if i+1 < len(args) {
			flags[a] = args[i+1]
			i++
		}
	}
	return flags
}

// hostPath maps a container path to its host path through the service's bind mounts, and
// returns the mount's host directory too.
func hostPath(volumes []types.ServiceVolumeConfig, path string) (host, mount string, ok bool) {
	best := -1
	for i, v := range volumes {
		if v.Type != types.VolumeTypeBind {
			continue
		}
		t := strings.TrimSuffix(v.Target, "/")
		if (path == t || strings.HasPrefix(path, t+"/")) && (best < 0 || len(t) > len(volumes[best].Target)) {
			best = i
		}
	}
	if best < 0 {
		return "", "", false
	}
	v := volumes[best]
	rest := strings.TrimPrefix(path, strings.TrimSuffix(v.Target, "/"))
	return filepath.Join(v.Source, filepath.FromSlash(rest)), v.Source, true
}

// rel returns path relative to the repository root, for messages.
func (c *composeChecker) rel(path string) string {
	if r, err := filepath.Rel(c.root, path); err == nil {
		return filepath.ToSlash(r)
	}
	return path
}
