package pipeline

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
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
	f.Add([]byte(strings.Replace(scoreBase, eventTimeLine, eventTimeLine+"  dedup: {field: txn_id, horizon: 1h}\n", 1) +
		"on_error: {duplicate: fail}\nquality:\n  histograms: [amount, {field: fee, buckets: [1, 10]}]\n  freshness: 5m\n" +
		"  drift: {features: [amount], score: true, reference: r.json, window: 1h, every: 15m, threshold: 0.2, min_records: 500, bins: 10}\n"))
	f.Add([]byte("input: {dedup: {field: ts, horizon: 0}}\non_error: {duplicate: ~}\nquality: {histograms: [~, '', 5, {buckets: [.nan, 1, 1, '2']}, {buckets: []}], freshness: -1s, " +
		"drift: {features: [card_id, x, x], score: 'true', window: 10ms, every: 3ms, threshold: .inf, min_records: 1.5, bins: 1}}\nwindow: {}\n"))
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

// FuzzRules checks the schema and on_error sections: no input makes Parse or the rule
// checker panic, a definition Parse accepts re-validates clean and has compilable patterns,
// and problems are well-formed and placed in the file.
func FuzzRules(f *testing.F) {
	f.Add("    schema:\n      amount: {type: float, required: true, min: 0, max: 100000}\n      card_id: {type: string, pattern: '^card-[0-9]+$', max_length: 32}\n", "")
	f.Add("    schema:\n      c: {type: string, allowed: [EUR, USD, 1, true, [x]]}\n      n: {type: int, allowed: [1.5, 2], min: 3, max: 1}\n", "on_error: {decode: skip, schema: fail, late: dlq}\n")
	f.Add("    schema:\n      p: {type: string, pattern: '(?P<x>a'}\n      q: {type: integer, max_length: -1}\n      '': {}\n      a.b: x\n", "on_error: {late: fail}\n")
	f.Add("    schema: {t: {type: timestamp, allowed: [1], min: .nan}, b: {type: bool, allowed: [yes, no]}}\n", "on_error: [dlq]\n")
	f.Add("    schema:\n      x: &r {type: float, max: .inf}\n      y: *r\n      z: {<<: *r}\n", "on_error: {decode: !!int 1}\n")
	f.Fuzz(func(t *testing.T, schema, onError string) {
		data := []byte(withSchema(schema))
		if onError != "" {
			data = append(data, onError...)
		}
		d, err := Parse("f.yaml", data)
		if err == nil {
			if err := d.Validate(); err != nil {
				t.Fatalf("Validate of a definition Parse accepted: got\n%v\nwant nil", err)
			}
			for _, r := range d.Input.Schema {
				if r.Pattern != "" {
					if _, err := regexp.Compile(r.Pattern); err != nil {
						t.Fatalf("Parse accepted pattern %q, which does not compile: %v", r.Pattern, err)
					}
				}
				if r.Min != nil && r.Max != nil && *r.Min > *r.Max {
					t.Fatalf("Parse accepted min %v above max %v", *r.Min, *r.Max)
				}
			}
			return
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
		}
	})
}
