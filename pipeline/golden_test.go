package pipeline

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the .golden files of testdata/invalid from the current output")

// TestGoldenValid parses every file of testdata/valid; each must parse and re-validate
// clean.
func TestGoldenValid(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "valid", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("got %d files (%v), want testdata/valid/*.yaml", len(files), err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			d, err := Load(file)
			if err != nil {
				t.Fatalf("Load: got error\n%v\nwant none", err)
			}
			if err := d.Validate(); err != nil {
				t.Errorf("Validate: got\n%v\nwant nil", err)
			}
		})
	}
}

// TestGoldenInvalid parses every file of testdata/invalid and compares the problems with
// the file's .golden, which is exactly what `kappa validate` prints. Run with -update to
// rewrite them, then read the diff.
func TestGoldenInvalid(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "invalid", "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("got %d files (%v), want testdata/invalid/*.yaml", len(files), err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			d, err := Parse(filepath.Base(file), data)
			if err == nil {
				t.Fatalf("Parse: got %s and no error, want problems", dump(d))
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(file, ".yaml") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to write it)", err)
			}
			if got != string(want) {
				t.Errorf("problems of %s:\ngot\n%s\nwant (%s)\n%s", file, got, golden, want)
			}
		})
	}
}
