package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

func main() {
	dir := flag.String("dir", ".", "repository root holding docker-compose.yml and Dockerfile")
	flag.Parse()
	os.Exit(run(context.Background(), *dir, os.Stdout))
}

// run checks the stack under dir, prints compose=ok or the problems to w, and returns the
// exit status.
func run(ctx context.Context, dir string, w io.Writer) int {
	problems := check(ctx, dir)
	if len(problems) == 0 {
		fmt.Fprintln(w, "compose=ok")
		return 0
	}
	for _, p := range problems {
		fmt.Fprintf(w, "composecheck: %s\n", p)
	}
	fmt.Fprintf(w, "compose=FAIL (%d problems)\n", len(problems))
	return 1
}

// check returns every problem of dir's docker-compose.yml and Dockerfile.
func check(ctx context.Context, dir string) []string {
	problems := checkCompose(ctx, dir, "docker-compose.yml")
	df := filepath.Join(dir, "Dockerfile")
	data, err := os.ReadFile(df)
	if err != nil {
		return append(problems, fmt.Sprintf("Dockerfile: %v", err))
	}
	problems = append(problems, checkDockerfile("Dockerfile", data)...)
	if _, err := os.Stat(filepath.Join(dir, ".dockerignore")); err != nil {
		problems = append(problems, fmt.Sprintf(".dockerignore: %v: without it the build context takes .bin/, .cache/ and state", err))
	}
	return problems
}
