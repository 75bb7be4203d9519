package gen

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Defaults of [Cards], matching examples/card-totals.yaml.
const (
	DefaultKeyField    = "card_id"
	DefaultTimeField   = "ts"
	DefaultAmountField = "amount"
	DefaultCards       = 500
	DefaultStep        = 10 * time.Millisecond
	DefaultMaxDisorder = 2 * time.Second
	DefaultMerchants   = 200
	// MerchantField names the merchant id in every well-formed record.
	MerchantField = "merchant"
)

// DefaultStart is the event time of record 0 when Cards.Start is zero: 2026-01-01T00:00:00Z,
// epoch millisecond 1767225600000.
var DefaultStart = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// Cards describes a deterministic stream of card transactions. The zero value is usable: a
// single partition, 500 cards, no malformed records, the default field names and times.
//
// Record i has key "card-N" (N chosen by a hash of Seed and i), an amount of 0.01 to 500.00
// in whole cents, the event time Start + i*Step minus a jitter in [0, MaxDisorder), "seq": i
// and, when well-formed, "merchant": "m-N". Event times therefore mostly increase, and no
// record is more than MaxDisorder behind the latest event time before it, except the records
// that LateEvery injects late on purpose.
//
// # Late records
//
// With LateEvery > 0, some well-formed records (see [Cards.Late]) have their event time
// moved LateBy into the past, as a device that buffered them would. Whether a windowed
// pipeline classifies such a record as late depends on its partition's stream time when it
// arrives, which the generator does not know exactly. Let t be the record's event time before
// the shift, i its index and j < i the index of the latest earlier record of the same
// partition that is well-formed and not late-injected; that record's event time, at least
// Start + j*Step - MaxDisorder, is already in the stream time. The record's latest window
// ends at most size after t - LateBy, so it is certainly late when
//
//	LateBy >= size + grace + max_out_of_orderness + MaxDisorder + (i-j)*Step
//
// (hopping windows: size is the window size; sessions: add the gap). With one partition and no
// bad record just before it, i-j is 1: the bound is window size + grace +
// max_out_of_orderness + MaxDisorder + one Step. With P partitions, i-j is about P on
// average and occasionally several times that, so leave a margin of many Steps. Conversely
// a LateBy below size - advance + grace + max_out_of_orderness - MaxDisorder + Step makes
// none of them late. [Cards.LateCount] counts injected records, not records a pipeline
// finds late: the two agree only when LateBy has that margin.
type Cards struct {
	// Seed selects the stream; the same Seed gives the same records.
	Seed uint64
	// Cards is the number of distinct card ids, card-0 to card-(Cards-1). Default
	// DefaultCards.
	Cards int
	// Partitions is the partition count of the topic the records go to. Default 1.
	Partitions int32
	// BadEvery makes records BadEvery-1, 2*BadEvery-1, ... malformed (see [Cards.Bad]), so
	// records [0, n) hold exactly n/BadEvery of them. 0 means none.
	BadEvery int
	// KeyField, TimeField and AmountField name the JSON fields. Defaults DefaultKeyField,
	// DefaultTimeField, DefaultAmountField.
	KeyField, TimeField, AmountField string
	// Start is the event time of record 0. Default DefaultStart. The demo sets it to the
	// current time and Step to the interval between records, so event times follow the clock.
	Start time.Time
	// Step is how far the event time advances per record. Default DefaultStep.
	Step time.Duration
	// MaxDisorder bounds how far a record's event time can be behind the one it would have in
	// order: the jitter is in [0, MaxDisorder). Default DefaultMaxDisorder; negative means
	// none.
	MaxDisorder time.Duration
	// Merchants is the number of distinct merchant ids, m-0 to m-(Merchants-1). Default
	// DefaultMerchants.
	Merchants int
	// LateEvery injects late records: record i is late-injected when it is well-formed,
	// i % LateEvery == LateEvery/2, and its event time minus LateBy is still at or after
	// Start (see [Cards.Late]). 0 means none.
	LateEvery int
	// LateBy is how far a late-injected record's event time is moved into the past. See the
	// type's documentation for how large it must be for the record to be certainly late.
	LateBy time.Duration
	// Fraud adds a learnable fraud pattern (see [Fraud]). The zero value adds none and leaves
	// the stream exactly as without it.
	Fraud Fraud
	// Poison draws the kinds of malformed records from BadKinds and PoisonKinds together,
	// with a draw after every other, so that the stream is otherwise unchanged. The kinds of
	// PoisonKinds that are valid JSON are malformed only by the rules of PoisonSchema.
	Poison bool
	// HugeBytes is the length of the memo of a "huge-value" record. Default
	// DefaultHugeBytes.
	HugeBytes int
	// IDField, when set, names a field that every well-formed record gets: its event id,
	// "t-<seed>-<i>" (see [Cards.ID]), for input.dedup.
	IDField string
	// DupEvery sends records again: when DupEvery >= 2 and i % DupEvery == DupEvery-1,
	// Record(i) is an exact copy of an earlier record (see [Cards.Dup]: about DupLag before;
	// the same partition, key and value, so the same event id), as an at-least-once
	// producer's retry would send it. Txn, Bad, Late
	// and their counts describe the records as without copies, so the verifier
	// (internal/verify) does not take it: it is for demos and dedup tests. 0 means none.
	DupEvery int
	// DupLag is how many records after the original its copy comes. Default DefaultDupLag.
	DupLag int
}

// DefaultDupLag is how many records after the original a copy comes (Cards.DupLag).
const DefaultDupLag = 100

// DefaultHugeBytes is the length of the memo of a "huge-value" record: 10 MiB.
const DefaultHugeBytes = 10 << 20

// PoisonSchema is the schema (the mapping under input.schema, one rule per line) that
// every well-formed record keeps and every record of PoisonKinds breaks.
const PoisonSchema = `card_id: {type: string, required: true, pattern: '^card-[0-9]+$', max_length: 32}
amount: {type: float, required: true, min: 0, max: 100000}
ts: {type: timestamp, required: true}
seq: {type: int, required: true, min: 0}
currency: {type: string, allowed: [EUR, USD, GBP]}
secure: {type: bool}
memo: {type: string, max_length: 1024}
`

// Txn is the content of a well-formed record.
type Txn struct {
	Card      string  // the card id, also the record key
	Amount    float64 // a whole number of cents
	EventTime int64   // epoch milliseconds
	Seq       int64   // the record's index
	Merchant  string  // the merchant id, "m-N"
	Fraud     bool    // a fraudulent transaction of a compromised card (see [Fraud])
}

// Validate reports a configuration that cannot generate records.
func (c *Cards) Validate() error {
	var errs []error
	if c.Cards < 0 {
		errs = append(errs, fmt.Errorf("gen: Cards is %d; want 0 (default %d) or more", c.Cards, DefaultCards))
	}
	if c.Partitions < 0 {
		errs = append(errs, fmt.Errorf("gen: Partitions is %d; want 0 (default 1) or more", c.Partitions))
	}
	if c.DupEvery < 0 || c.DupEvery == 1 || c.DupLag < 0 {
		errs = append(errs, fmt.Errorf("gen: DupEvery is %d and DupLag %d; want 0 (none) or at least 2, and a lag of 0 (default %d) or more",
			c.DupEvery, c.DupLag, DefaultDupLag))
	}
	if c.BadEvery < 0 {
		errs = append(errs, fmt.Errorf("gen: BadEvery is %d; want 0 (none) or more", c.BadEvery))
	}
	if c.Step < 0 {
		errs = append(errs, fmt.Errorf("gen: Step is %s; want 0 (default %s) or more", c.Step, DefaultStep))
	}
	if c.Merchants < 0 {
		errs = append(errs, fmt.Errorf("gen: Merchants is %d; want 0 (default %d) or more", c.Merchants, DefaultMerchants))
	}
	if c.LateEvery < 0 {
		errs = append(errs, fmt.Errorf("gen: LateEvery is %d; want 0 (none) or more", c.LateEvery))
	}
	if c.HugeBytes < 0 {
		errs = append(errs, fmt.Errorf("gen: HugeBytes is %d; want 0 (default %d) or more", c.HugeBytes, DefaultHugeBytes))
	}
	if c.LateBy < 0 || (c.LateEvery > 0 && c.LateBy == 0) {
		errs = append(errs, fmt.Errorf("gen: LateBy is %s; want more than 0 when LateEvery is set (and never negative)", c.LateBy))
	}
	errs = append(errs, c.Fraud.validate())
	return errors.Join(errs...)
}

func (c *Cards) cards() int {
	if c.Cards <= 0 {
		return DefaultCards
	}
	return c.Cards
}

func (c *Cards) merchants() int {
	if c.Merchants <= 0 {
		return DefaultMerchants
	}
	return c.Merchants
}

func (c *Cards) partitions() int32 {
	if c.Partitions <= 0 {
		return 1
	}
	return c.Partitions
}

func (c *Cards) fields() (key, ts, amount string) {
	key, ts, amount = c.KeyField, c.TimeField, c.AmountField
	if key == "" {
		key = DefaultKeyField
	}
	if ts == "" {
		ts = DefaultTimeField
	}
	if amount == "" {
		amount = DefaultAmountField
	}
	return key, ts, amount
}

// Bad reports whether record i is malformed on purpose.
func (c *Cards) Bad(i int64) bool {
	return c.BadEvery > 0 && (i+1)%int64(c.BadEvery) == 0
}

// BadCount is the number of malformed records among records [from, to).
func (c *Cards) BadCount(from, to int64) int64 {
	if c.BadEvery <= 0 || to <= from {
		return 0
	}
	n := int64(c.BadEvery)
	return to/n - from/n
}

// Late reports whether record i is late-injected: LateEvery > 0, the record is well-formed,
// i % LateEvery == LateEvery/2, and its event time minus LateBy is at or after Start (a
// warm-up, so that its partition has a stream time by then). Its event time is then LateBy
// earlier than it would be. Whether a pipeline finds it late depends on LateBy: see the
// documentation of [Cards].
func (c *Cards) Late(i int64) bool {
	if c.LateEvery <= 0 || i < 0 || i%int64(c.LateEvery) != int64(c.LateEvery/2) || c.Bad(i) {
		return false
	}
	ns, _ := c.onTime(i)
	return ns-int64(c.LateBy) >= c.start().UnixNano()
}

// LateCount is the number of late-injected records among records [from, to).
func (c *Cards) LateCount(from, to int64) int64 {
	if c.LateEvery <= 0 || to <= from {
		return 0
	}
	every, off := int64(c.LateEvery), int64(c.LateEvery/2)
	i := max(from, 0)
	i += (off - i%every + every) % every // the first candidate at or after from
	var n int64
	for ; i < to; i += every {
		if c.Late(i) {
			n++
		}
	}
	return n
}

// Partition is the partition of a record with key: the FNV-1a 32-bit hash of the key modulo
// partitions. Every record of a card goes to the same partition, as the processor keeps
// state per partition. (Kafka's default partitioner uses murmur2 instead; produce with
// kgo.ManualPartitioner so this choice is kept.)
func Partition(key []byte, partitions int32) int32 {
	h := uint32(2166136261)
	for _, b := range key {
		h ^= uint32(b)
		h *= 16777619
	}
	return int32(h % uint32(partitions))
}

// Txn returns the content of record i and true, or false when record i is malformed (its
// value then says nothing reliable).
func (c *Cards) Txn(i int64) (Txn, bool) {
	t, _ := c.txn(i)
	return t, !c.Bad(i)
}

// txn draws record i's content and returns the random stream for further draws. A
// malformed record's next draw is its kind; a well-formed one's is its merchant, drawn after
// every earlier field so that adding it changed none of them. The fraud pattern's draws come
// last of all, for the same reason.
func (c *Cards) txn(i int64) (Txn, *stream) {
	ns, r := c.onTime(i)
	onTime := ns
	if c.Late(i) {
		ns -= int64(c.LateBy)
	}
	t := Txn{Card: r.card, Amount: r.amount, EventTime: ns / int64(time.Millisecond), Seq: i}
	if !c.Bad(i) {
		m := r.next()
		if c.Fraud.on() {
			m = c.fraud(&t, r, m, onTime)
		}
		t.Merchant = "m-" + strconv.FormatUint(m%uint64(c.merchants()), 10)
	}
	return t, &r.stream
}

// draws are the first draws of record i.
type draws struct {
	stream
	card   string
	cardN  uint64 // the card's number, N of "card-N"
	amount float64
}

// onTime returns record i's event time in nanoseconds before any late shift, with its card
// and amount and the stream positioned after those draws.
func (c *Cards) onTime(i int64) (int64, *draws) {
	r := &draws{stream: stream{s: mix64(c.Seed ^ mix64(uint64(i)))}}
	r.cardN = r.next() % uint64(c.cards())
	r.card = "card-" + strconv.FormatUint(r.cardN, 10)
	r.amount = float64(1+r.next()%50000) / 100
	step := c.Step
	if step == 0 {
		step = DefaultStep
	}
	disorder := c.MaxDisorder
	if disorder == 0 {
		disorder = DefaultMaxDisorder
	}
	ns := c.start().UnixNano() + i*int64(step)
	jitter := r.next() // drawn even without disorder, so MaxDisorder does not shift the stream
	if ms := disorder.Milliseconds(); ms > 0 {
		ns -= int64(jitter%uint64(ms)) * int64(time.Millisecond)
	}
	return ns, r
}

func (c *Cards) start() time.Time {
	if c.Start.IsZero() {
		return DefaultStart
	}
	return c.Start
}

// Record returns record i: its partition, key and JSON value. It is a pure function of the
// configuration and i.
func (c *Cards) Record(i int64) (partition int32, key, value []byte) {
	if orig, ok := c.Dup(i); ok {
		i = orig
	}
	t, r := c.txn(i)
	key = []byte(t.Card)
	partition = Partition(key, c.partitions())
	if c.Bad(i) {
		return partition, key, c.badValue(t, c.badKind(r))
	}
	fs := fieldsOf(c, t)
	var id field
	if c.IDField != "" {
		id = field{c.IDField, appendJSONString(nil, c.ID(i))}
	}
	return partition, key, appendValue(make([]byte, 0, 144), fs[:], field{MerchantField, appendJSONString(nil, t.Merchant)}, id)
}

// ID is the event id of record i, written to IDField: "t-<seed in hex>-<i>".
func (c *Cards) ID(i int64) string {
	return "t-" + strconv.FormatUint(c.Seed, 16) + "-" + strconv.FormatInt(i, 10)
}

// Dup reports whether Record(i) is a copy (DupEvery), and of which record: record
// i-DupLag, or the one before it when that is a copy itself, so that every copy repeats a
// record the stream holds.
func (c *Cards) Dup(i int64) (orig int64, ok bool) {
	if !c.isCopy(i) {
		return 0, false
	}
	orig = i - c.dupLag()
	if c.isCopy(orig) {
		orig-- // copies are DupEvery >= 2 apart: the one before is an original
	}
	return orig, true
}

func (c *Cards) dupLag() int64 {
	if c.DupLag <= 0 {
		return DefaultDupLag
	}
	return int64(c.DupLag)
}

// isCopy reports whether record i is a copy of an earlier one.
func (c *Cards) isCopy(i int64) bool {
	return c.DupEvery > 0 && i%int64(c.DupEvery) == int64(c.DupEvery-1) && i >= c.dupLag()+1
}

// field is one member of a record value: its name and its raw JSON value.
type field struct {
	name string
	raw  []byte
}

func fieldsOf(c *Cards, t Txn) [4]field {
	kf, tf, af := c.fields()
	return [4]field{
		{kf, appendJSONString(nil, t.Card)},
		{af, strconv.AppendFloat(nil, t.Amount, 'f', -1, 64)},
		{tf, strconv.AppendInt(nil, t.EventTime, 10)},
		{"seq", strconv.AppendInt(nil, t.Seq, 10)},
	}
}

func appendValue(b []byte, fs []field, more ...field) []byte {
	b = append(b, '{')
	first := true
	for _, f := range append(fs, more...) {
		if f.name == "" { // dropped by a bad-record kind
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		b = appendJSONString(b, f.name)
		b = append(b, ':')
		b = append(b, f.raw...)
	}
	return append(b, '}')
}

// BadKinds names the kinds of malformed record, in the order [Cards.BadKind] numbers them.
// Each is rejected by the processor's decoder (processor/decode.go) as a decode or schema
// error, so it goes to the dead-letter topic.
var BadKinds = []string{
	"truncated-json",
	"amount-string",
	"amount-missing",
	"key-null",
	"key-missing",
	"key-empty",
	"key-bool",
	"time-string",
	"time-negative",
	"time-fraction",
	"amount-nan",
	"amount-overflow",
	"not-object",
	"empty-value",
	"invalid-utf8",
}

// PoisonKinds are the kinds of malformed record that Cards.Poison adds, numbered by
// [Cards.BadKind] after BadKinds. Each is rejected by the processor's decoder, given the
// rules of PoisonSchema for those that are valid JSON.
var PoisonKinds = []string{
	"amount-infinity",
	"deep-nesting",
	"byte-order-mark",
	"time-absurd",
	"time-unparsable",
	"key-null-repeated",
	"amount-above-max",
	"amount-negative",
	"key-pattern",
	"key-too-long",
	"currency-not-allowed",
	"seq-fraction",
	"secure-not-bool",
	"huge-value",
}

// KindName returns the name of a kind that BadKind returns: of BadKinds, then PoisonKinds.
func KindName(kind int) string {
	if kind < len(BadKinds) {
		return BadKinds[kind]
	}
	return PoisonKinds[kind-len(BadKinds)]
}

// notJSONObject are the kinds whose value is not a UTF-8 JSON object.
var notJSONObject = map[string]bool{
	"truncated-json": true, "amount-nan": true, "not-object": true, "empty-value": true, "invalid-utf8": true,
	"amount-infinity": true, "deep-nesting": true, "byte-order-mark": true,
}

// KindReason returns the reason class of the dead letter of a kind that BadKind returns:
// "decode" for a value that is not a UTF-8 JSON object, else "schema".
func KindReason(kind int) string {
	if notJSONObject[KindName(kind)] {
		return "decode"
	}
	return "schema"
}

// BadKind returns the index of malformed record i's kind, in BadKinds and then (with
// Poison) PoisonKinds, or -1 when record i is well-formed.
func (c *Cards) BadKind(i int64) int {
	if !c.Bad(i) {
		return -1
	}
	_, r := c.txn(i)
	return c.badKind(r)
}

// badKind draws a malformed record's kind: the draw of BadKinds, and with Poison one more.
func (c *Cards) badKind(r *stream) int {
	d := r.next()
	if c.Poison {
		return int(r.next() % uint64(len(BadKinds)+len(PoisonKinds)))
	}
	return int(d % uint64(len(BadKinds)))
}

func (c *Cards) badValue(t Txn, kind int) []byte {
	fs := fieldsOf(c, t)
	const key, amount, ts, seq = 0, 1, 2, 3
	var extra []field
	switch KindName(kind) {
	case "truncated-json":
		v := appendValue(nil, fs[:])
		return v[:len(v)/2]
	case "amount-string":
		fs[amount].raw = appendJSONString(nil, string(fs[amount].raw))
	case "amount-missing":
		fs[amount].name = ""
	case "key-null":
		fs[key].raw = []byte("null")
	case "key-missing":
		fs[key].name = ""
	case "key-empty":
		fs[key].raw = []byte(`""`)
	case "key-bool":
		fs[key].raw = []byte("true")
	case "time-string":
		fs[ts].raw = appendJSONString(nil, time.UnixMilli(t.EventTime).UTC().Format(time.RFC3339Nano))
	case "time-negative":
		fs[ts].raw = []byte("-1")
	case "time-fraction":
		fs[ts].raw = append(fs[ts].raw, ".5"...)
	case "amount-nan":
		fs[amount].raw = []byte("NaN") // not JSON at all
	case "amount-overflow":
		fs[amount].raw = []byte("1e999") // valid JSON, but not a finite float64
	case "not-object":
		return append(append([]byte("["), fs[key].raw...), ']')
	case "empty-value":
		return []byte{}
	case "invalid-utf8":
		fs[key].raw = []byte("\"" + t.Card + "\xff\"")
	case "amount-infinity":
		fs[amount].raw = []byte("Infinity") // not JSON
	case "deep-nesting":
		// Deeper than encoding/json's nesting limit of 10000, so not valid JSON to it.
		fs[amount].raw = append(bytes.Repeat([]byte("["), 10001), bytes.Repeat([]byte("]"), 10001)...)
	case "byte-order-mark":
		return append([]byte("\ufeff"), appendValue(nil, fs[:])...)
	case "time-absurd":
		fs[ts].raw = []byte("99999999999999999") // about year 3170843
	case "time-unparsable":
		fs[ts].raw = []byte(`"yesterday"`)
	case "key-null-repeated":
		extra = append(extra, field{fs[key].name, []byte("null")}) // the last occurrence counts
	case "amount-above-max":
		fs[amount].raw = []byte("1e9")
	case "amount-negative":
		fs[amount].raw = append([]byte("-"), fs[amount].raw...)
	case "key-pattern":
		fs[key].raw = appendJSONString(nil, "CARD#"+strings.TrimPrefix(t.Card, "card-"))
	case "key-too-long":
		fs[key].raw = appendJSONString(nil, t.Card+strings.Repeat("0", 32))
	case "currency-not-allowed":
		extra = append(extra, field{"currency", []byte(`"XXX"`)})
	case "seq-fraction":
		fs[seq].raw = append(fs[seq].raw, ".5"...)
	case "secure-not-bool":
		extra = append(extra, field{"secure", []byte(`"yes"`)})
	case "huge-value":
		n := c.HugeBytes
		if n == 0 {
			n = DefaultHugeBytes
		}
		memo := make([]byte, 0, n+2)
		memo = append(memo, '"')
		memo = append(memo, bytes.Repeat([]byte("x"), n)...)
		extra = append(extra, field{"memo", append(memo, '"')})
	}
	return appendValue(nil, fs[:], extra...)
}

// appendJSONString appends s quoted as a JSON string. Card ids and field names are plain
// ASCII in practice; quotes, backslashes and control characters are escaped anyway.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		switch ch := s[i]; {
		case ch == '"' || ch == '\\':
			b = append(b, '\\', ch)
		case ch < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[ch>>4], hex[ch&0xf])
		default:
			b = append(b, ch)
		}
	}
	return append(b, '"')
}

// stream is a splitmix64 generator: tiny, fast and good enough to spread cards and amounts.
type stream struct{ s uint64 }

func (r *stream) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
