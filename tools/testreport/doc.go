// Command testreport turns `go test -json` on its standard input into a short report: go
// test's own per-package lines (ok, FAIL, ?), the full output of every failing test, every
// skipped test with the reason it gave, every report line a test logged (a line of the form
// "name: key=value ...", such as "verdict: ..." or "parity: ..."), and a closing line
// "N passed, N failed, N skipped".
//
// It exists so that `make test` and CI show why a test was skipped (go test prints skip
// reasons only with -v) without drowning the log in the output of passing tests. It exits 1
// when any test or package failed, or when the input holds no test at all.
package main
