package processor

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/kappa-stream/kappa/pipeline"
)

// fuzzDecoder is the decoder of a pipeline with testSchema whose operator reads amount.
func fuzzDecoder(t testing.TB) *decoder {
	def := testDef(t, "fuzz", true, "in")
	def.Input.Schema = testSchema()
	if err := def.Validate(); err != nil {
		t.Fatal(err)
	}
	return newDecoder(def, field{name: "amount"})
}

// FuzzDecode checks the decoder with a schema, with and without input.dedup: no value makes
// it panic; an error is a *DecodeError of class decode (no field) or schema (naming a field
// and a rule) with a short one-line message; a value it accepts is a UTF-8 JSON object whose
// fields keep the rules, as encoding/json reads them; with dedup, it accepts only what it
// accepts without, with the id that encoding/json reads.
func FuzzDecode(f *testing.F) {
	for _, p := range poisonPills() {
		if len(p.value) < 4096 {
			f.Add([]byte(p.value))
		}
	}
	for _, b := range schemaBreakers {
		f.Add([]byte(b.value))
	}
	f.Add([]byte(`{"card":"k","amount":2,"ts":1764000000000,"at":"2025-11-24T16:00:00Z","currency":"EUR","tag":"t-1","n":3,"ok":true,"memo":"\u00e9"}`))
	f.Add([]byte(`{"card":7,"amount":-0.0,"ts":0,"tag":"t-\u0031","currency":"U\u0053D"}`))
	f.Add([]byte(`{"card":"k","amount":2,"ts":1764000000000,"id":"e-1"}`))
	f.Add([]byte(`{"card":"k","amount":2,"ts":1764000000000,"id":12.50}`))
	d := fuzzDecoder(f)
	// The same pipeline with input.dedup: it also reads the event id.
	dd := fuzzDecoder(f)
	dd.idField = "id"
	f.Fuzz(func(t *testing.T, value []byte) {
		ev, err := d.decode(value)
		evID, errID := dd.decode(value)
		checkDecodeError(t, errID)
		if err != nil {
			checkDecodeError(t, err)
			if errID == nil {
				t.Fatalf("decode with dedup accepted %q, which the decoder without rejected: %v", value, err)
			}
			return
		}
		var obj map[string]any
		if !utf8.Valid(value) || json.Unmarshal(value, &obj) != nil || obj == nil {
			t.Fatalf("decode accepted %q, which is not a UTF-8 JSON object", value)
		}
		switch id, ok := obj["id"].(string); {
		case errID == nil && len(evID.id) == 0:
			t.Fatalf("decode with dedup accepted %q with an empty id", value)
		case ok && id != "" && (errID != nil || string(evID.id) != id):
			t.Fatalf("decode with dedup of %q: got id %q and error %v, want id %q", value, evID.id, errID, id)
		}
		if len(ev.key) == 0 || ev.eventTime < minEventMillis || ev.eventTime > maxEventMillis {
			t.Fatalf("decode accepted %q with key %q and event time %d", value, ev.key, ev.eventTime)
		}
		for _, r := range testSchema() {
			v, present := obj[r.Field]
			if !present || v == nil {
				if r.Required {
					t.Fatalf("decode accepted %q without required field %q", value, r.Field)
				}
				continue
			}
			switch r.Type {
			case pipeline.TypeFloat, pipeline.TypeInt:
				n, ok := v.(float64)
				if !ok || r.Min != nil && n < *r.Min || r.Max != nil && n > *r.Max {
					t.Fatalf("decode accepted %q with %s=%v, which breaks %+v", value, r.Field, v, r)
				}
			case pipeline.TypeString:
				s, ok := v.(string)
				if !ok || r.MaxLength > 0 && utf8.RuneCountInString(s) > r.MaxLength {
					t.Fatalf("decode accepted %q with %s=%v, which breaks %+v", value, r.Field, v, r)
				}
			case pipeline.TypeBool:
				if b, ok := v.(bool); !ok || !b {
					t.Fatalf("decode accepted %q with %s=%v, which breaks %+v", value, r.Field, v, r)
				}
			}
		}
	})
}

// checkDecodeError requires err, if any, to be a *DecodeError of class decode (no field)
// or schema (naming a field and the kind of rule) with a short one-line message.
func checkDecodeError(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		return
	}
	de, ok := errorsAsDecode(err)
	switch {
	case !ok:
		t.Fatalf("decode: got %T %v, want a *DecodeError", err, err)
	case de.Reason == ReasonDecode && de.Field != "", de.Reason == ReasonSchema && de.Field == "":
		t.Fatalf("decode: got reason %q with field %q, want a field exactly for schema errors", de.Reason, de.Field)
	case de.Reason != ReasonDecode && de.Reason != ReasonSchema:
		t.Fatalf("decode: got reason %q, want decode or schema", de.Reason)
	case de.Reason == ReasonSchema && de.Rule == "":
		t.Fatalf("decode: schema error %v names no rule", de)
	case len(de.Msg) > 300 || strings.ContainsAny(de.Msg, "\n\r"):
		t.Fatalf("decode: got a message of %d bytes %.100q, want one short line", len(de.Msg), de.Msg)
	}
}

// TestDecodeRulesAllocate checks that the rules cost no allocation for a record that
// keeps them: a decoder with testSchema allocates as much as one without.
func TestDecodeRulesAllocate(t *testing.T) {
	value := []byte(`{"card":"k","amount":2,"ts":1764000000000,"at":"2025-11-24T16:00:00Z","currency":"EUR","tag":"t-1","n":3,"ok":true,"memo":"abc"}`)
	with := fuzzDecoder(t)
	without := newDecoder(testDef(t, "plain", true, "in"), field{name: "amount"})
	allocs := func(d *decoder) float64 {
		return testing.AllocsPerRun(200, func() {
			if _, err := d.decode(value); err != nil {
				t.Fatal(err)
			}
		})
	}
	if a, b := allocs(with), allocs(without); a != b {
		t.Fatalf("allocations per record: got %v with the schema, want %v as without", a, b)
	}
}

func BenchmarkDecodeSchema(b *testing.B) {
	value := []byte(`{"card":"k","amount":2,"ts":1764000000000,"at":"2025-11-24T16:00:00Z","currency":"EUR","tag":"t-1","n":3,"ok":true,"memo":"abc"}`)
	d := fuzzDecoder(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.decode(value); err != nil {
			b.Fatal(err)
		}
	}
}
