package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strings"
)

// reportLine matches a test log line of the form "file.go:12: name: key=value ...", which
// the report shows even for passing tests: the figures a test exists to produce, such as
// "verdict: ...", "parity: ..." or "smoke: ...".
var reportLine = regexp.MustCompile(`^\s+\S+\.go:\d+: ([A-Za-z][A-Za-z0-9_-]*: [a-z][a-z0-9_]*=.*)$`)

// event is one line of `go test -json` (cmd/test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

type testKey struct{ pkg, test string }

type report struct {
	out     io.Writer
	outputs map[testKey][]string // buffered output per test, and per package under test ""
	skipped []string
	passed  int
	failed  int
	pkgFail bool
}

func main() {
	r := newReport(os.Stdout)
	if err := r.read(os.Stdin); err != nil {
		fmt.Fprintf(os.Stderr, "testreport: %v\n", err)
		os.Exit(1)
	}
	os.Exit(r.finish())
}

func newReport(out io.Writer) *report {
	return &report{out: out, outputs: map[testKey][]string{}}
}

func (r *report) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil {
			// Not an event: build errors and other tool output. Pass it through.
			fmt.Fprintln(r.out, string(line))
			continue
		}
		r.handle(e)
	}
	return sc.Err()
}

func (r *report) handle(e event) {
	k := testKey{e.Package, e.Test}
	switch e.Action {
	case "output", "build-output":
		if e.Test == "" && isPackageSummary(e.Output) {
			fmt.Fprint(r.out, e.Output)
			return
		}
		if m := reportLine.FindStringSubmatch(strings.TrimRight(e.Output, "\n")); m != nil && e.Test != "" {
			fmt.Fprintf(r.out, "%s %s: %s\n", e.Package, e.Test, m[1])
		}
		r.outputs[k] = append(r.outputs[k], e.Output)
	case "pass":
		if e.Test != "" {
			r.passed++
		}
		delete(r.outputs, k)
	case "skip":
		if e.Test != "" {
			r.skipped = append(r.skipped, fmt.Sprintf("SKIP: %s %s: %s", e.Package, e.Test, skipReason(r.outputs[k])))
		}
		delete(r.outputs, k)
	case "fail":
		if e.Test != "" {
			r.failed++
		} else {
			r.pkgFail = true
		}
		fmt.Fprint(r.out, strings.Join(r.outputs[k], ""))
		delete(r.outputs, k)
	}
}

// isPackageSummary reports whether a package-level output line is go test's closing line for
// the package, which the report keeps verbatim.
func isPackageSummary(s string) bool {
	for _, p := range []string{"ok  \t", "FAIL\t", "?   \t", "--- FAIL", "panic:", "FAIL\n"} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// skipReason picks the message of t.Skip from a skipped test's output.
func skipReason(lines []string) string {
	var msgs []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		msgs = append(msgs, t)
	}
	if len(msgs) == 0 {
		return "(no reason given)"
	}
	// The skip message is the last thing a skipped test logs.
	return msgs[len(msgs)-1]
}

// finish prints skips, anything left unfinished (a test binary that died mid-test) and the
// closing line, and returns the exit code.
func (r *report) finish() int {
	if len(r.skipped) > 0 {
		fmt.Fprintln(r.out)
		for _, s := range r.skipped {
			fmt.Fprintln(r.out, s)
		}
	}
	var unfinished []string
	for k, lines := range r.outputs {
		if k.test != "" {
			unfinished = append(unfinished, fmt.Sprintf("UNFINISHED: %s %s\n%s", k.pkg, k.test, strings.Join(lines, "")))
		}
	}
	sort.Strings(unfinished)
	for _, u := range unfinished {
		fmt.Fprint(r.out, u)
	}
	fmt.Fprintf(r.out, "\n%d passed, %d failed, %d skipped\n", r.passed, r.failed, len(r.skipped))
	switch {
	case r.failed > 0 || r.pkgFail || len(unfinished) > 0:
		return 1
	case r.passed == 0:
		fmt.Fprintln(r.out, "testreport: no test ran")
		return 1
	}
	return 0
}
