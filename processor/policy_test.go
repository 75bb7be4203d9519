package processor

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/kappa-stream/kappa/model"
	"github.com/kappa-stream/kappa/pipeline"
)

func fptr(f float64) *float64 { return &f }

// testSchema is a schema that every record of genRecord keeps.
func testSchema() []pipeline.FieldRule {
	return []pipeline.FieldRule{
		{Field: "amount", Type: pipeline.TypeFloat, Required: true, Min: fptr(-100), Max: fptr(100)},
		{Field: "ts", Type: pipeline.TypeTimestamp, Required: true},
		{Field: "currency", Type: pipeline.TypeString, Allowed: []any{"EUR", "USD"}},
		{Field: "tag", Type: pipeline.TypeString, Pattern: `^t-[0-9]+$`, MaxLength: 8},
		{Field: "n", Type: pipeline.TypeInt, Min: fptr(0), Allowed: []any{1, 2, 3}},
		{Field: "ok", Type: pipeline.TypeBool, Allowed: []any{true}},
		{Field: "memo", Type: pipeline.TypeString, MaxLength: 1024},
		{Field: "at", Type: pipeline.TypeTimestamp},
	}
}

// schemaDef is testDef with testSchema and the given policies.
func schemaDef(t testing.TB, name string, on pipeline.OnError) *pipeline.Definition {
	t.Helper()
	def := testDef(t, name, true, "in")
	def.Input.Schema = testSchema()
	def.OnError = on
	if err := def.Validate(); err != nil {
		t.Fatal(err)
	}
	return def
}

const ts0 = 1_764_000_000_000

// schemaBreakers are records that break a rule of testSchema, with the field and message
// of their dead letters and the rule they break.
var schemaBreakers = []struct{ value, field, msg, rule string }{
	{`{"card":"a","amount":1e9,"ts":1764000000000}`, "amount", "1e9 is above max 100", "max"},
	{`{"card":"a","amount":-101,"ts":1764000000000}`, "amount", "-101 is below min -100", "min"},
	{`{"card":"a","ts":1764000000000}`, "amount", "missing; the field is required", "missing"},
	{`{"card":"a","amount":null,"ts":1764000000000}`, "amount", "null; the field is required", "missing"},
	{`{"card":"a","amount":"5","ts":1764000000000}`, "amount", "got a string, want a number", "type"},
	{`{"card":"a","amount":1,"ts":1764000000000,"currency":"XXX"}`, "currency", `"XXX" is not an allowed value`, "allowed"},
	{`{"card":"a","amount":1,"ts":1764000000000,"tag":"t-x"}`, "tag", `"t-x" does not match the pattern ^t-[0-9]+$`, "pattern"},
	{`{"card":"a","amount":1,"ts":1764000000000,"tag":"t-123456789"}`, "tag", "11 characters is longer than max_length 8", "max_length"},
	{`{"card":"a","amount":1,"ts":1764000000000,"n":1.5}`, "n", "got a number, want an integer", "type"},
	{`{"card":"a","amount":1,"ts":1764000000000,"n":4}`, "n", "4 is not an allowed value", "allowed"},
	{`{"card":"a","amount":1,"ts":1764000000000,"n":99999999999999999999}`, "n", "99999999999999999999 is out of range for a 64-bit integer", "range"},
	{`{"card":"a","amount":1,"ts":1764000000000,"ok":false}`, "ok", "false is not an allowed value", "allowed"},
	{`{"card":"a","amount":1,"ts":1764000000000,"ok":"yes"}`, "ok", "got a string, want true or false", "type"},
	{`{"card":"a","amount":1,"ts":"2026-13-45T00:00:00Z"}`, "ts", `"2026-13-45T00:00:00Z" is not an RFC 3339 time`, "format"},
	{`{"card":"a","amount":1,"ts":99999999999999999}`, "ts", "99999999999999999 ms is outside years 1970 to 9999", "range"},
	{`{"card":"a","amount":1,"ts":1764000000000,"at":"2026-13-45T00:00:00Z"}`, "at", `"2026-13-45T00:00:00Z" is not an RFC 3339 time`, "format"},
	{`{"card":"a","amount":1,"ts":1764000000000,"at":true}`, "at", "got a boolean, want an RFC 3339 time string or integer epoch milliseconds", "type"},
}

// TestSchemaRules runs records that break each rule through the processor: each goes to
// the dead-letter topic with the field and the rule it broke; the good records around
// them, which keep every rule, are exact.
func TestSchemaRules(t *testing.T) {
	def := schemaDef(t, "rules", pipeline.OnError{})
	k := fakeFor(def, 2, fakeConfig{MaxPerPoll: 3, MaxPerTxn: 8})
	w := newWorkload(def)
	rng := rand.New(rand.NewPCG(41, 42))
	w.add(k, rng, 60, 0)
	for i, b := range schemaBreakers {
		w.write(k, "in", int32(i%2), inputRec{key: []byte("bad"), value: []byte(b.value), bad: ReasonSchema, badField: b.field, ts: time.UnixMilli(ts0)})
	}
	// Rule fields that pass, in good records of their own.
	passing := `{"card":"k","amount":2,"ts":1764000000000,"at":"2025-11-24T16:00:00.5+01:00","currency":"EUR","tag":"t-1","n":3,"ok":true,"memo":"\u00e9"}`
	w.write(k, "in", 0, inputRec{key: []byte("k"), aggKey: "k", amount: 2, eventTime: ts0, ts: time.UnixMilli(ts0), value: []byte(passing)})
	w.add(k, rng, 60, 0)
	store := openStore(t, vfs.NewMem())
	defer store.Close()
	r := start(t, def, store, k.instance("pod-0", true))
	waitConsumed(t, k, r)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkOutputs(t, k, w)
	var msgs []string
	for p := range int32(2) {
		for _, d := range k.records(DeadLetterTopic(def), p) {
			f, _ := headerValue(d.Headers, HeaderField)
			m, _ := headerValue(d.Headers, HeaderMessage)
			rule, _ := headerValue(d.Headers, HeaderRule)
			msgs = append(msgs, f+": "+m+" ["+rule+"]")
		}
	}
	failures := map[[2]string]int{}
	for _, b := range schemaBreakers {
		failures[[2]string{b.field, b.rule}]++
	}
	for fr, n := range failures {
		if got := testutil.ToFloat64(r.p.metrics.schemaFailures.WithLabelValues(fr[0], fr[1])); int(got) != n {
			t.Errorf("kappa_processor_schema_failures_total{field=%q,rule=%q}: got %v, want %d", fr[0], fr[1], got, n)
		}
	}
	for _, b := range schemaBreakers {
		want := b.field + ": " + b.msg + " [" + b.rule + "]"
		found := false
		for _, m := range msgs {
			found = found || m == want
		}
		if !found {
			t.Errorf("dead letters: got none %q; got\n%s", want, strings.Join(msgs, "\n"))
		}
	}
}

// TestPolicySkip: with skip, bad records are dropped and counted by reason, nothing goes
// to the dead-letter topic, and the good records are exact.
func TestPolicySkip(t *testing.T) {
	def := schemaDef(t, "skip", pipeline.OnError{Decode: pipeline.PolicySkip, Schema: pipeline.PolicySkip})
	k := fakeFor(def, 2, fakeConfig{MaxPerPoll: 3, MaxPerTxn: 8})
	w := newWorkload(def)
	w.add(k, rand.New(rand.NewPCG(43, 44)), 150, 20)
	for i, b := range schemaBreakers {
		w.write(k, "in", int32(i%2), inputRec{key: []byte("bad"), value: []byte(b.value), bad: ReasonSchema, badField: b.field, ts: time.UnixMilli(ts0)})
	}
	reg := prometheus.NewRegistry()
	store := openStore(t, vfs.NewMem())
	defer store.Close()
	r := startConfig(t, def, store, k.instance("pod-0", true), func(c *Config) { c.Registerer = reg })
	waitConsumed(t, k, r)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	want := map[string]int{}
	good := newWorkload(def)
	for tp, rs := range w.recs {
		for _, rec := range rs {
			if rec.bad != "" {
				want[rec.bad]++
				continue
			}
			good.recs[tp] = append(good.recs[tp], rec)
		}
	}
	checkOutputs(t, k, good) // also: no dead letters
	for _, reason := range []string{ReasonDecode, ReasonSchema} {
		if got := testutil.ToFloat64(r.p.metrics.skipped.WithLabelValues(reason)); int(got) != want[reason] || want[reason] == 0 {
			t.Errorf("kappa_processor_skipped_records_total{reason=%q}: got %v, want %d (and more than 0)", reason, got, want[reason])
		}
	}
	if s := r.p.Snapshot(); s.Skipped != int64(want[ReasonDecode]+want[ReasonSchema]) || s.DeadLetters != 0 {
		t.Errorf("snapshot: got %d skipped and %d dead letters, want %d and 0", s.Skipped, s.DeadLetters, want[ReasonDecode]+want[ReasonSchema])
	}
}

// TestPolicyFail: with fail, Run stops at the first bad record with a RecordError naming
// it, its transaction aborted: the group's committed offset stays at or before the bad
// record. A restart with the policy changed to dlq resumes there, and the result is
// exactly that of a run that never stopped.
func TestPolicyFail(t *testing.T) {
	for _, tt := range []struct {
		reason, value, field string
		on                   pipeline.OnError
	}{
		{ReasonSchema, `{"card":"x","amount":1e9,"ts":1764000000000}`, "amount", pipeline.OnError{Schema: pipeline.PolicyFail}},
		{ReasonDecode, `{"card":"x","amount":NaN,"ts":1764000000000}`, "", pipeline.OnError{Decode: pipeline.PolicyFail}},
	} {
		t.Run(tt.reason, func(t *testing.T) {
			def := schemaDef(t, "fail", tt.on)
			k := fakeFor(def, 2, fakeConfig{MaxPerPoll: 3, MaxPerTxn: 8})
			w := newWorkload(def)
			rng := rand.New(rand.NewPCG(45, 46))
			w.add(k, rng, 40, 0)
			bad := inputRec{key: []byte("bad"), value: []byte(tt.value), bad: tt.reason, badField: tt.field, ts: time.UnixMilli(ts0)}
			w.write(k, "in", 1, bad)
			badPos := w.recs[topicPartition{"in", 1}][len(w.recs[topicPartition{"in", 1}])-1].pos
			w.add(k, rng, 40, 0)

			store := openStore(t, vfs.NewMem())
			defer store.Close()
			r := start(t, def, store, k.instance("pod-0", true))
			var err error
			select {
			case err = <-r.done:
			case <-time.After(20 * time.Second):
				t.Fatal("Run did not stop at the bad record within 20s")
			}
			re, ok := errors.AsType[*RecordError](err)
			if !ok {
				t.Fatalf("Run: got %v, want a *RecordError", err)
			}
			if re.Position != badPos || re.Err.Reason != tt.reason || re.Err.Field != tt.field {
				t.Fatalf("RecordError: got %s %s field %q, want %s %s field %q", re.Position, re.Err.Reason, re.Err.Field, badPos, tt.reason, tt.field)
			}
			for _, s := range []string{badPos.String(), "on_error." + tt.reason + " is fail", "--to-offset " + fmt.Sprint(badPos.Offset+1), "restart"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q: want it to contain %q", err, s)
				}
			}
			if got := k.committedOffset("in", 1); got > badPos.Offset {
				t.Fatalf("committed offset of in/1: got %d, want at most the bad record's %d", got, badPos.Offset)
			}
			if n := len(k.records(DeadLetterTopic(def), 1)); n != 0 {
				t.Fatalf("dead letters: got %d committed, want none", n)
			}

			fixed := *def
			fixed.OnError = pipeline.OnError{}
			r = start(t, &fixed, store, k.instance("pod-0", true))
			waitConsumed(t, k, r)
			if err := r.stop(t); err != nil {
				t.Fatalf("Run after the fix: %v", err)
			}
			checkState(t, store, checkOutputs(t, k, w))
		})
	}
}

// poisonPills are values that must never crash the processor, each with the reason and
// field of its dead letter.
func poisonPills() []struct{ name, value, reason, field string } {
	huge := bytes.Repeat([]byte("x"), 10<<20)
	return []struct{ name, value, reason, field string }{
		{"truncated", `{"card":"a","amount":1,"ts":17640`, ReasonDecode, ""},
		{"truncated in a string", `{"card":"a`, ReasonDecode, ""},
		{"non-UTF-8 key", "{\"card\":\"a\xff\",\"amount\":1,\"ts\":1764000000000}", ReasonDecode, ""},
		{"non-UTF-8 elsewhere", "{\"card\":\"a\",\"amount\":1,\"ts\":1764000000000,\"memo\":\"\xc3\x28\"}", ReasonDecode, ""},
		{"UTF-8 byte order mark", "\ufeff{\"card\":\"a\",\"amount\":1,\"ts\":1764000000000}", ReasonDecode, ""},
		{"NaN", `{"card":"a","amount":NaN,"ts":1764000000000}`, ReasonDecode, ""},
		{"Infinity", `{"card":"a","amount":Infinity,"ts":1764000000000}`, ReasonDecode, ""},
		{"-Infinity", `{"card":"a","amount":-Infinity,"ts":1764000000000}`, ReasonDecode, ""},
		{"overflow", `{"card":"a","amount":1e999,"ts":1764000000000}`, ReasonSchema, "amount"},
		{"amount a string", `{"card":"a","amount":"12.5","ts":1764000000000}`, ReasonSchema, "amount"},
		{"amount an object", `{"card":"a","amount":{"v":1},"ts":1764000000000}`, ReasonSchema, "amount"},
		{"key null", `{"card":null,"amount":1,"ts":1764000000000}`, ReasonSchema, "card"},
		{"key empty", `{"card":"","amount":1,"ts":1764000000000}`, ReasonSchema, "card"},
		{"key missing", `{"amount":1,"ts":1764000000000}`, ReasonSchema, "card"},
		{"key a boolean", `{"card":true,"amount":1,"ts":1764000000000}`, ReasonSchema, "card"},
		{"key an array", `{"card":[1],"amount":1,"ts":1764000000000}`, ReasonSchema, "card"},
		{"key null by a repeat", `{"card":"a","amount":1,"ts":1764000000000,"card":null}`, ReasonSchema, "card"},
		{"time unparsable", `{"card":"a","amount":1,"ts":"yesterday"}`, ReasonSchema, "ts"},
		{"time a fraction", `{"card":"a","amount":1,"ts":1764000000000.5}`, ReasonSchema, "ts"},
		{"time negative", `{"card":"a","amount":1,"ts":-1}`, ReasonSchema, "ts"},
		{"time absurd", `{"card":"a","amount":1,"ts":9223372036854775807}`, ReasonSchema, "ts"},
		{"time beyond int64", `{"card":"a","amount":1,"ts":92233720368547758070}`, ReasonSchema, "ts"},
		{"time in exponent form", `{"card":"a","amount":1,"ts":1.764e12}`, ReasonSchema, "ts"},
		{"deep nesting", `{"card":"a","amount":1,"ts":1764000000000,"x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, ReasonDecode, ""},
		{"not an object", `[{"card":"a"}]`, ReasonDecode, ""},
		{"a bare number", `42`, ReasonDecode, ""},
		{"null", `null`, ReasonDecode, ""},
		{"empty", ``, ReasonDecode, ""},
		{"only spaces", "  \n\t ", ReasonDecode, ""},
		{"10 MiB breaking max_length", `{"card":"a","amount":1,"ts":1764000000000,"memo":"` + string(huge) + `"}`, ReasonSchema, "memo"},
		{"10 MiB truncated", `{"card":"a","amount":1,"ts":1764000000000,"memo":"` + string(huge), ReasonDecode, ""},
		{"10 MiB number", `{"card":"a","amount":` + strings.Repeat("9", 10<<20) + `,"ts":1764000000000}`, ReasonSchema, "amount"},
	}
}

// TestPoisonPills feeds every poison pill, between good records, to the processor with a
// schema: none crashes it, each becomes a dead letter with its reason and field and a short
// message, and the good records are exact.
func TestPoisonPills(t *testing.T) {
	def := schemaDef(t, "poison", pipeline.OnError{})
	k := fakeFor(def, 2, fakeConfig{MaxPerPoll: 3, MaxPerTxn: 8})
	w := newWorkload(def)
	rng := rand.New(rand.NewPCG(47, 48))
	for i, pill := range poisonPills() {
		w.add(k, rng, 2, 0)
		key := []byte("pill")
		if i%3 == 0 {
			key = nil // no Kafka key at all
		}
		w.write(k, "in", int32(i%2), inputRec{
			key: key, value: []byte(pill.value), bad: pill.reason, badField: pill.field,
			ts: time.UnixMilli(ts0 + int64(i)),
		})
	}
	w.add(k, rng, 10, 0)
	store := openStore(t, vfs.NewMem())
	defer store.Close()
	r := start(t, def, store, k.instance("pod-0", true))
	waitConsumed(t, k, r)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkState(t, store, checkOutputs(t, k, w))
	for p := range int32(2) {
		for _, d := range k.records(DeadLetterTopic(def), p) {
			if m, _ := headerValue(d.Headers, HeaderMessage); len(m) > 200 {
				t.Errorf("dead letter %d/%d: message of %d bytes, want a short one: %.80q...", p, d.Offset, len(m), m)
			}
		}
	}
}

// TestPolicyLate: late records under skip are counted, not written; under fail the
// processor stops at the first.
func TestPolicyLate(t *testing.T) {
	base := int64(ts0)
	values := []string{
		fmt.Sprintf(`{"card":"c","amount":1,"ts":%d}`, base),
		fmt.Sprintf(`{"card":"c","amount":1,"ts":%d}`, base+60_000),
		fmt.Sprintf(`{"card":"c","amount":1,"ts":%d}`, base+5), // late
		fmt.Sprintf(`{"card":"c","amount":1,"ts":%d}`, base+60_001),
	}
	for _, policy := range []pipeline.Policy{pipeline.PolicySkip, pipeline.PolicyFail} {
		t.Run(string(policy), func(t *testing.T) {
			def := windowDef(t, "late-"+string(policy), pipeline.Window{
				Type: pipeline.WindowTumbling, Size: time.Second, Aggregates: []pipeline.Aggregation{{Func: pipeline.AggCount}},
			}, 0, "in")
			def.OnError.Late = policy
			k := fakeFor(def, 1, fakeConfig{MaxPerPoll: 10, MaxPerTxn: 10})
			for i, v := range values {
				k.appendInput("in", 0, []byte("c"), []byte(v), nil, time.UnixMilli(base+int64(i)))
			}
			reg := prometheus.NewRegistry()
			store := openStore(t, vfs.NewMem())
			defer store.Close()
			r := startConfig(t, def, store, k.instance("pod-0", true), func(c *Config) { c.Registerer = reg })
			if policy == pipeline.PolicyFail {
				var err error
				select {
				case err = <-r.done:
				case <-time.After(20 * time.Second):
					t.Fatal("Run did not stop at the late record within 20s")
				}
				re, ok := errors.AsType[*RecordError](err)
				if !ok || re.Position != (model.Position{Topic: "in", Partition: 0, Offset: 2}) || re.Err.Reason != ReasonLate {
					t.Fatalf("Run: got %v, want a late RecordError at in/0@2", err)
				}
				if got := k.committedOffset("in", 0); got > 2 {
					t.Fatalf("committed offset: got %d, want at most 2", got)
				}
				return
			}
			waitConsumed(t, k, r)
			if err := r.stop(t); err != nil {
				t.Fatalf("Run: %v", err)
			}
			if n := len(k.records(def.LateTopic(), 0)); n != 0 {
				t.Fatalf("late topic: got %d records, want none", n)
			}
			if got := testutil.ToFloat64(r.p.metrics.skipped.WithLabelValues(ReasonLate)); got != 1 {
				t.Fatalf("skipped{reason=late}: got %v, want 1", got)
			}
		})
	}
}
