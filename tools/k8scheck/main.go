package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run checks the manifests and returns the exit code: 0 ok, 1 problems, 2 could not check.
func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("k8scheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "deploy/k8s", "directory of the manifests (every *.yaml and *.yml under it)")
	example := fs.String("example", "examples/fraud/fraud.yaml",
		"the pipeline file the pipeline ConfigMap must equal (its model files: the files of the same names next to it); empty skips the comparison")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	files, err := manifestFiles(*dir)
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("no *.yaml files under %s", *dir)
	}
	if err != nil {
		fmt.Fprintf(stderr, "k8scheck: %v\n", err)
		return 2
	}
	var r report
	objs, err := load(files, &r)
	if err != nil {
		fmt.Fprintf(stderr, "k8scheck: %v\n", err)
		return 2
	}
	// Rules across documents would mislead on a partial set: decode everything first.
	if len(r.problems) == 0 {
		check(objs, files, *example, &r)
	}
	if len(r.problems) == 0 {
		fmt.Fprintln(stdout, "manifests=ok")
		return 0
	}
	slices.Sort(r.problems)
	r.problems = slices.Compact(r.problems)
	for _, p := range r.problems {
		fmt.Fprintln(stdout, p)
	}
	fmt.Fprintf(stdout, "manifests=FAIL problems=%d\n", len(r.problems))
	return 1
}
