package verify

import (
	"testing"

	"github.com/kappa-stream/kappa/internal/gen"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/processor"
)

func TestDecodeRules(t *testing.T) {
	d := &decoder{keyField: "card_id", amountField: "amount", timeField: "ts", timeFormat: pipeline.TimeEpochMillis}
	for _, tc := range []struct {
		value string
		want  *input // nil: invalid
	}{
		{`{"card_id":"c1","amount":12.5,"ts":1767225600000}`, &input{key: "c1", amount: 12.5, eventTime: 1767225600000}},
		{` { "ts" : 5 , "amount" : -1e2 , "card_id" : 42 } `, &input{key: "42", amount: -100, eventTime: 5}},
		{`{"card_id":"a\u0041","amount":1,"ts":0,"extra":[1,{"x":null}]}`, &input{key: "aA", amount: 1, eventTime: 0}},
		{`{"card_id":"x","amount":1,"ts":1,"card_id":"y"}`, &input{key: "y", amount: 1, eventTime: 1}}, // the last one wins
		{``, nil},
		{`{"card_id":"c1","amount":12.5,"ts":17672`, nil},
		{`[1,2]`, nil},
		{`null`, nil},
		{`{"card_id":null,"amount":1,"ts":1}`, nil},
		{`{"card_id":"","amount":1,"ts":1}`, nil},
		{`{"card_id":true,"amount":1,"ts":1}`, nil},
		{`{"card_id":{},"amount":1,"ts":1}`, nil},
		{`{"amount":1,"ts":1}`, nil},
		{`{"card_id":"c","amount":"1","ts":1}`, nil},
		{`{"card_id":"c","amount":1e999,"ts":1}`, nil},
		{`{"card_id":"c","amount":NaN,"ts":1}`, nil},
		{`{"card_id":"c","ts":1}`, nil},
		{`{"card_id":"c","amount":1,"ts":1.5}`, nil},
		{`{"card_id":"c","amount":1,"ts":-1}`, nil},
		{`{"card_id":"c","amount":1,"ts":253402300800000}`, nil},
		{`{"card_id":"c","amount":1,"ts":"2026-01-01T00:00:00Z"}`, nil},
		{`{"card_id":"c","amount":1}`, nil},
		{"{\"card_id\":\"c\xff\",\"amount\":1,\"ts\":1}", nil},
	} {
		got, err := d.decode([]byte(tc.value))
		switch {
		case tc.want == nil && err == nil:
			t.Errorf("decode(%s): got %+v, want invalid", tc.value, got)
		case tc.want != nil && err != nil:
			t.Errorf("decode(%s): got %v, want %+v", tc.value, err, *tc.want)
		case tc.want != nil && got != *tc.want:
			t.Errorf("decode(%s): got %+v, want %+v", tc.value, got, *tc.want)
		}
	}

	rfc := &decoder{keyField: "k", amountField: "v", timeField: "t", timeFormat: pipeline.TimeRFC3339}
	got, err := rfc.decode([]byte(`{"k":"a","v":2,"t":"2026-01-01T00:00:00.5Z"}`))
	if want := (input{key: "a", amount: 2, eventTime: 1767225600500}); err != nil || got != want {
		t.Errorf("rfc3339: got %+v, %v; want %+v", got, err, want)
	}
	if _, err := rfc.decode([]byte(`{"k":"a","v":2,"t":1767225600500}`)); err == nil {
		t.Error("rfc3339 with a number: got valid, want invalid")
	}
}

// TestDecodeAgreesWithGen checks the verifier's rules against the generator's intent: every
// record gen means to be malformed is invalid, every other decodes to what gen put in it.
func TestDecodeAgreesWithGen(t *testing.T) {
	c := gen.Cards{Seed: 4, Partitions: 3, BadEvery: 3, KeyField: "acct", AmountField: "amt", TimeField: "at"}
	d := &decoder{keyField: "acct", amountField: "amt", timeField: "at", timeFormat: pipeline.TimeEpochMillis}
	for i := range int64(3000) {
		_, _, v := c.Record(i)
		got, err := d.decode(v)
		tx, ok := c.Txn(i)
		switch {
		case !ok && err == nil:
			t.Fatalf("record %d (%s): got valid, want invalid: %s", i, gen.BadKinds[c.BadKind(i)], v)
		case ok && err != nil:
			t.Fatalf("record %d: got %v, want valid: %s", i, err, v)
		case ok && got != (input{key: tx.Card, amount: tx.Amount, eventTime: tx.EventTime}):
			t.Fatalf("record %d: got %+v, want %+v", i, got, tx)
		}
	}
}

// TestHeadersMatchTheProcessor keeps the dead-letter header names in step with the processor.
func TestHeadersMatchTheProcessor(t *testing.T) {
	for _, h := range [][2]string{
		{HeaderTopic, processor.HeaderTopic},
		{HeaderPartition, processor.HeaderPartition},
		{HeaderOffset, processor.HeaderOffset},
		{HeaderReason, processor.HeaderReason},
	} {
		if h[0] != h[1] {
			t.Errorf("header: got %q, want the processor's %q", h[0], h[1])
		}
	}
}
