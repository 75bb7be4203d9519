package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, that a definition Parse accepts
// re-validates clean, and that problems are well-formed: in the named file, one line
// each, sorted, and the same on a second parse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(base))
	f.Add([]byte(windowBase))
	f.Add([]byte(scoreBase))
	f.Add([]byte("operators: [{score: {model: {file: a/.., name: '', version: ~}, features: [window., windows.x, '', x, x], alert: {threshold: .inf}, shadow: {topic: t}}}, {window: {}}, {score: m.json}]\n"))
	f.Add([]byte("operators: [{window: {type: session, gap: 1m, size: 0s, aggregates: [{fn: quantile, q: .nan, as: ''}, count, -]}}]\n"))
	f.Add([]byte(""))
	f.Add([]byte("---\n"))
	f.Add([]byte("name: x\n---\nname: y\n"))
	f.Add([]byte("name: [x\n"))
	f.Add([]byte("name: x\n\tinput: 1\n"))
	f.Add([]byte("a: &a [*a]\n"))
	f.Add([]byte("<<: {name: x}\n"))
	f.Add([]byte("? [a]\n: 1\n"))
	f.Add([]byte("name: !!int \"1\\n2\"\noperators: [{aggregate: {field: !!bool \"x\\ny\"}}]\n"))
	f.Add([]byte("operators: [{aggregate: {field: a}, count: {}}, -, {}, aggregate]\n"))
	f.Add([]byte("name: \"\\u00e4\\u0000\"\ncommit_interval: 9999999999999h\nstate_dir: \"\\0\"\n"))
	files, _ := filepath.Glob(filepath.Join("testdata", "*", "*.yaml"))
	for _, file := range files {
		if data, err := os.ReadFile(file); err == nil {
			f.Add(data)
		}
	}

	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse("f.yaml", data)
		if err == nil {
			if d == nil {
				t.Fatal("Parse: got a nil definition and no error")
			}
			if err := d.Validate(); err != nil {
				t.Fatalf("Validate of a definition Parse accepted: got\n%v\nwant nil", err)
			}
			return
		}
		if d != nil {
			t.Fatalf("Parse: got a definition and an error, want only the error")
		}
		var ps Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("Parse: got error %v (%T), want non-empty Problems", err, err)
		}
		for i, p := range ps {
			if p.File != "f.yaml" || p.Msg == "" || p.Line < 0 || p.Column < 0 {
				t.Errorf("problem %d: got %+v, want File f.yaml, a message and no negative position", i, p)
			}
			if strings.ContainsAny(p.String(), "\r\n") {
				t.Errorf("problem %d: got %q, want one line", i, p.String())
			}
			if i > 0 && (ps[i-1].Line > p.Line || ps[i-1].Line == p.Line && ps[i-1].Column > p.Column) {
				t.Errorf("problems %d and %d: got %v then %v, want them sorted by position", i-1, i, ps[i-1], p)
			}
		}
		_, again := Parse("f.yaml", data)
		if !reflect.DeepEqual(err, again) {
			t.Errorf("Parse twice: got\n%v\nthen\n%v\nwant the same", err, again)
		}
	})
}
