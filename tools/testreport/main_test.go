package main

import (
	"bytes"
	"strings"
	"testing"
)

const input = `{"Action":"start","Package":"example/a"}
{"Action":"run","Package":"example/a","Test":"TestOK"}
{"Action":"output","Package":"example/a","Test":"TestOK","Output":"=== RUN   TestOK\n"}
{"Action":"output","Package":"example/a","Test":"TestOK","Output":"    noisy log of a passing test\n"}
{"Action":"output","Package":"example/a","Test":"TestOK","Output":"    a_test.go:5: verdict: lost=0 duplicates=0\n"}
{"Action":"pass","Package":"example/a","Test":"TestOK"}
{"Action":"run","Package":"example/a","Test":"TestReal"}
{"Action":"output","Package":"example/a","Test":"TestReal","Output":"=== RUN   TestReal\n"}
{"Action":"output","Package":"example/a","Test":"TestReal","Output":"    a_test.go:9: needs a real broker\n"}
{"Action":"output","Package":"example/a","Test":"TestReal","Output":"--- SKIP: TestReal (0.00s)\n"}
{"Action":"skip","Package":"example/a","Test":"TestReal"}
{"Action":"output","Package":"example/a","Output":"ok  \texample/a\t0.01s\n"}
{"Action":"pass","Package":"example/a"}
{"Action":"run","Package":"example/b","Test":"TestBad"}
{"Action":"output","Package":"example/b","Test":"TestBad","Output":"    b_test.go:3: got 1, want 2\n"}
{"Action":"output","Package":"example/b","Test":"TestBad","Output":"--- FAIL: TestBad (0.00s)\n"}
{"Action":"fail","Package":"example/b","Test":"TestBad"}
{"Action":"output","Package":"example/b","Output":"FAIL\texample/b\t0.01s\n"}
{"Action":"fail","Package":"example/b"}
`

func TestReport(t *testing.T) {
	var out bytes.Buffer
	r := newReport(&out)
	if err := r.read(strings.NewReader(input)); err != nil {
		t.Fatal(err)
	}
	code := r.finish()
	got := out.String()
	for _, want := range []string{
		"ok  \texample/a\t0.01s\n",
		"FAIL\texample/b\t0.01s\n",
		"b_test.go:3: got 1, want 2",
		"SKIP: example/a TestReal: a_test.go:9: needs a real broker",
		"\n1 passed, 1 failed, 1 skipped\n",
		"example/a TestOK: verdict: lost=0 duplicates=0\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("report lacks %q; got:\n%s", want, got)
		}
	}
	if strings.Contains(got, "noisy log") {
		t.Errorf("report shows a passing test's output; got:\n%s", got)
	}
	if code != 1 {
		t.Errorf("exit code: got %d, want 1", code)
	}
}

func TestReportNoTests(t *testing.T) {
	var out bytes.Buffer
	r := newReport(&out)
	if err := r.read(strings.NewReader(`{"Action":"output","Package":"example/c","Output":"?   \texample/c\t[no test files]\n"}` + "\n")); err != nil {
		t.Fatal(err)
	}
	if code := r.finish(); code != 1 {
		t.Errorf("exit code with no tests: got %d, want 1", code)
	}
}

func TestReportPassesThroughBuildErrors(t *testing.T) {
	var out bytes.Buffer
	r := newReport(&out)
	if err := r.read(strings.NewReader("# example/d\nd.go:1:1: syntax error\n")); err != nil {
		t.Fatal(err)
	}
	r.finish()
	if !strings.Contains(out.String(), "d.go:1:1: syntax error") {
		t.Errorf("build error not shown; got:\n%s", out.String())
	}
}
