package gen_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/kappa-stream/kappa/internal/gen"
)

func TestRecordIsDeterministic(t *testing.T) {
	c := gen.Cards{Seed: 7, Partitions: 5, BadEvery: 10}
	d := c // a copy generates the same records, in any order
	for _, i := range []int64{999, 0, 17, 500, 1 << 40} {
		p1, k1, v1 := c.Record(i)
		p2, k2, v2 := d.Record(i)
		if p1 != p2 || !bytes.Equal(k1, k2) || !bytes.Equal(v1, v2) {
			t.Fatalf("record %d: got (%d %q %q) and (%d %q %q), want equal", i, p1, k1, v1, p2, k2, v2)
		}
	}
	other := gen.Cards{Seed: 8, Partitions: 5, BadEvery: 10}
	same := 0
	for i := range int64(100) {
		_, _, v1 := c.Record(i)
		_, _, v2 := other.Record(i)
		if bytes.Equal(v1, v2) {
			same++
		}
	}
	if same > 5 {
		t.Fatalf("seeds 7 and 8 agree on %d of 100 records, want different streams", same)
	}
}

func TestRecordDefaultsMatchTheExamplePipeline(t *testing.T) {
	var c gen.Cards
	p, key, value := c.Record(0)
	tx, ok := c.Txn(0)
	if !ok || p != 0 {
		t.Fatalf("record 0: got ok=%v partition=%d, want true, 0", ok, p)
	}
	want := fmt.Sprintf(`{"card_id":%q,"amount":%s,"ts":%d,"seq":0,"merchant":%q}`,
		tx.Card, strconv.FormatFloat(tx.Amount, 'f', -1, 64), tx.EventTime, tx.Merchant)
	if string(value) != want {
		t.Fatalf("value: got %s, want %s", value, want)
	}
	if string(key) != tx.Card {
		t.Fatalf("key: got %q, want %q", key, tx.Card)
	}
	if base := gen.DefaultStart.UnixMilli(); tx.EventTime > base || tx.EventTime <= base-gen.DefaultMaxDisorder.Milliseconds() {
		t.Fatalf("event time: got %d, want in (%d, %d]", tx.EventTime, base-gen.DefaultMaxDisorder.Milliseconds(), base)
	}
}

// TestRecordsBeforeMerchants pins records as they were before the merchant field: adding it
// (and late injection, off by default) changed no earlier field of any record, and no
// malformed record at all.
func TestRecordsBeforeMerchants(t *testing.T) {
	c := gen.Cards{Seed: 7, Partitions: 5, BadEvery: 10}
	for _, tc := range []struct {
		i         int64
		partition int32
		key, old  string
	}{
		{0, 0, "card-355", `{"card_id":"card-355","amount":287.26,"ts":1767225599792,"seq":0}`},
		{1, 2, "card-176", `{"card_id":"card-176","amount":255.8,"ts":1767225599148,"seq":1}`},
		{9, 0, "card-41", `{"card_id":"card-41","amount":454.14,"ts":"2025-12-31T23:59:59.555Z","seq":9}`},
		{19, 0, "card-296", "{\"card_id\":\"card-296\xff\",\"amount\":194.91,\"ts\":1767225599229,\"seq\":19}"},
		{123, 1, "card-388", `{"card_id":"card-388","amount":140.82,"ts":1767225600278,"seq":123}`},
	} {
		p, k, v := c.Record(tc.i)
		want := tc.old
		if !c.Bad(tc.i) {
			tx, _ := c.Txn(tc.i)
			want = strings.TrimSuffix(tc.old, "}") + `,"merchant":"` + tx.Merchant + `"}`
		}
		if p != tc.partition || string(k) != tc.key || string(v) != want {
			t.Errorf("record %d: got %d %q %s, want %d %q %s", tc.i, p, k, v, tc.partition, tc.key, want)
		}
	}
}

func TestMerchants(t *testing.T) {
	for _, tc := range []struct{ merchants, want int }{{0, gen.DefaultMerchants}, {3, 3}, {1, 1}} {
		c := gen.Cards{Seed: 5, Merchants: tc.merchants, BadEvery: 9}
		seen := map[string]int{}
		for i := range int64(20000) {
			tx, ok := c.Txn(i)
			_, _, v := c.Record(i)
			var m map[string]any
			_ = json.Unmarshal(v, &m)
			switch {
			case !ok && tx.Merchant != "":
				t.Fatalf("record %d is malformed but has merchant %q", i, tx.Merchant)
			case !ok:
				continue
			case m[gen.MerchantField] != tx.Merchant:
				t.Fatalf("record %d: value %s, want merchant %q", i, v, tx.Merchant)
			}
			seen[tx.Merchant]++
		}
		if len(seen) != tc.want {
			t.Errorf("Merchants=%d: got %d distinct merchants, want %d", tc.merchants, len(seen), tc.want)
		}
		for n := range tc.want {
			if seen["m-"+strconv.Itoa(n)] == 0 {
				t.Errorf("Merchants=%d: m-%d never drawn", tc.merchants, n)
			}
		}
	}
}

func TestFieldNames(t *testing.T) {
	c := gen.Cards{KeyField: "account", TimeField: "at", AmountField: "value"}
	_, _, v := c.Record(3)
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		t.Fatalf("value %s: %v", v, err)
	}
	for _, f := range []string{"account", "at", "value", "seq", "merchant"} {
		if _, ok := m[f]; !ok {
			t.Errorf("value %s: field %q missing", v, f)
		}
	}
}

func TestPartitionIsStablePerCard(t *testing.T) {
	c := gen.Cards{Seed: 1, Cards: 50, Partitions: 7, BadEvery: 13}
	partOf := map[string]int32{}
	used := map[int32]bool{}
	for i := range int64(5000) {
		p, key, _ := c.Record(i)
		if p < 0 || p >= 7 {
			t.Fatalf("record %d: partition %d, want in [0, 7)", i, p)
		}
		if p != gen.Partition(key, 7) {
			t.Fatalf("record %d: partition %d, want Partition(%q) = %d", i, p, key, gen.Partition(key, 7))
		}
		if q, ok := partOf[string(key)]; ok && q != p {
			t.Fatalf("card %s: partitions %d and %d, want one", key, q, p)
		}
		partOf[string(key)] = p
		used[p] = true
	}
	if len(partOf) != 50 || len(used) != 7 {
		t.Fatalf("got %d cards over %d partitions, want 50 over 7", len(partOf), len(used))
	}
	// The spread is FNV-1a 32 (the standard library's hash/fnv), so it never changes silently.
	for _, k := range []string{"card-17", "card-0", "x"} {
		h := fnv.New32a()
		h.Write([]byte(k))
		if got, want := gen.Partition([]byte(k), 1000), int32(h.Sum32()%1000); got != want {
			t.Fatalf("Partition(%s, 1000): got %d, want %d", k, got, want)
		}
	}
}

func TestEventTimesHaveBoundedDisorder(t *testing.T) {
	c := gen.Cards{Seed: 3, Step: 5 * time.Millisecond, MaxDisorder: time.Second}
	var maxSeen int64
	late := 0
	for i := range int64(10000) {
		tx, _ := c.Txn(i)
		if tx.EventTime < maxSeen {
			late++
			if behind := maxSeen - tx.EventTime; behind >= time.Second.Milliseconds() {
				t.Fatalf("record %d: %d ms behind the latest event time, want less than 1000", i, behind)
			}
		}
		maxSeen = max(maxSeen, tx.EventTime)
	}
	if late == 0 {
		t.Fatal("no record is out of order; want some disorder")
	}
	none := gen.Cards{Seed: 3, MaxDisorder: -1}
	prev := int64(math.MinInt64)
	for i := range int64(1000) {
		tx, _ := none.Txn(i)
		if tx.EventTime < prev {
			t.Fatalf("MaxDisorder<0: record %d at %d after %d, want in order", i, tx.EventTime, prev)
		}
		prev = tx.EventTime
	}
}

func TestBadRecords(t *testing.T) {
	for _, tc := range []struct {
		every int
		n     int64
	}{{0, 1000}, {1, 100}, {7, 1000}, {100, 10000}, {1000, 999}} {
		t.Run(fmt.Sprintf("every=%d n=%d", tc.every, tc.n), func(t *testing.T) {
			c := gen.Cards{Seed: 11, Partitions: 3, BadEvery: tc.every}
			var bad int64
			kinds := map[int]int{}
			for i := range tc.n {
				_, _, v := c.Record(i)
				_, ok := c.Txn(i)
				err := strictDecode(v)
				switch {
				case c.Bad(i) == ok:
					t.Fatalf("record %d: Bad=%v but Txn ok=%v", i, c.Bad(i), ok)
				case c.Bad(i) && err == nil:
					t.Fatalf("record %d (%s) is meant to be malformed but decodes: %s", i, gen.BadKinds[c.BadKind(i)], v)
				case !c.Bad(i) && err != nil:
					t.Fatalf("record %d is meant to be valid: %v: %s", i, err, v)
				}
				if c.Bad(i) {
					bad++
					kinds[c.BadKind(i)]++
				} else if c.BadKind(i) != -1 {
					t.Fatalf("record %d: BadKind %d for a good record, want -1", i, c.BadKind(i))
				}
			}
			want := int64(0)
			if tc.every > 0 {
				want = tc.n / int64(tc.every)
			}
			if bad != want || c.BadCount(0, tc.n) != want {
				t.Fatalf("got %d malformed records (BadCount %d), want %d", bad, c.BadCount(0, tc.n), want)
			}
			if bad >= 1000 && len(kinds) != len(gen.BadKinds) {
				t.Fatalf("got %d kinds of malformed record, want all %d", len(kinds), len(gen.BadKinds))
			}
		})
	}
	c := gen.Cards{BadEvery: 10}
	if got := c.BadCount(5, 35); got != 3 { // records 9, 19, 29
		t.Fatalf("BadCount(5, 35): got %d, want 3", got)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []gen.Cards{
		{Cards: -1},
		{Partitions: -2},
		{BadEvery: -3},
		{Step: -time.Second},
		{Merchants: -1},
		{LateEvery: -1},
		{LateBy: -time.Second},
		{LateEvery: 10},
	} {
		if c.Validate() == nil {
			t.Errorf("Validate(%+v): got nil, want an error", c)
		}
	}
	if err := (&gen.Cards{}).Validate(); err != nil {
		t.Errorf("Validate(zero): got %v, want nil", err)
	}
}

// strictDecode applies the processor's rules (processor/decode.go) for the default fields:
// a JSON object; card_id a non-empty string or a number; amount a finite number; ts integer
// epoch milliseconds in years 1970 to 9999.
func strictDecode(v []byte) error {
	if !utf8.Valid(v) || !json.Valid(v) {
		return fmt.Errorf("not valid UTF-8 JSON")
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(v, &m); err != nil {
		return err
	}
	var key string
	if err := json.Unmarshal(m["card_id"], &key); err != nil || key == "" {
		return fmt.Errorf("bad key %s", m["card_id"])
	}
	raw := string(m["amount"])
	if raw == "" || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) {
		return fmt.Errorf("bad amount %s", raw)
	}
	if f, err := strconv.ParseFloat(raw, 64); err != nil || math.IsInf(f, 0) {
		return fmt.Errorf("bad amount %s", raw)
	}
	ts, err := strconv.ParseInt(string(m["ts"]), 10, 64)
	if err != nil || ts < 0 || ts > 253402300799999 {
		return fmt.Errorf("bad ts %s", m["ts"])
	}
	return nil
}

func BenchmarkRecord(b *testing.B) {
	c := gen.Cards{Seed: 1, Partitions: 8, BadEvery: 100}
	b.ReportAllocs()
	for i := range int64(b.N) {
		_, _, v := c.Record(i)
		b.SetBytes(int64(len(v)))
	}
}

// TestPoison: Poison changes only the values of malformed records, and draws every kind of
// BadKinds and PoisonKinds.
func TestPoison(t *testing.T) {
	plain := gen.Cards{Seed: 8, Partitions: 3, BadEvery: 7}
	poison := plain
	poison.Poison, poison.HugeBytes = true, 100
	seen := map[string]int{}
	for i := range int64(5000) {
		p1, k1, v1 := plain.Record(i)
		p2, k2, v2 := poison.Record(i)
		if p1 != p2 || string(k1) != string(k2) {
			t.Fatalf("record %d: got partition %d key %q, want %d %q as without Poison", i, p2, k2, p1, k1)
		}
		if !poison.Bad(i) {
			if string(v1) != string(v2) {
				t.Fatalf("well-formed record %d: got %s, want %s as without Poison", i, v2, v1)
			}
			continue
		}
		seen[gen.KindName(poison.BadKind(i))]++
		if gen.KindName(poison.BadKind(i)) == "huge-value" && !strings.Contains(string(v2), strings.Repeat("x", 100)+`"`) {
			t.Fatalf("huge-value record %d: got %.200s, want a memo of HugeBytes", i, v2)
		}
	}
	for _, k := range append(append([]string{}, gen.BadKinds...), gen.PoisonKinds...) {
		if seen[k] == 0 {
			t.Errorf("kind %s: never drawn in 5000 records", k)
		}
	}
}

// TestDup: with IDField and DupEvery, every DupEvery-th record is an exact copy of one about
// DupLag before it that is no copy itself, event id included, and every other record has an
// id of its own.
func TestDup(t *testing.T) {
	// A lag that is a multiple of DupEvery: record i-DupLag of a copy is a copy too, so the
	// one before it is copied.
	c := gen.Cards{Seed: 5, Partitions: 3, IDField: "txn_id", DupEvery: 10, DupLag: 20}
	ids := map[string]int64{}
	copies := 0
	for i := range int64(1000) {
		p, k, v := c.Record(i)
		var m map[string]any
		if err := json.Unmarshal(v, &m); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		id, _ := m["txn_id"].(string)
		orig, dup := c.Dup(i)
		if !dup {
			if id != c.ID(i) {
				t.Fatalf("record %d: id %q, want %q", i, id, c.ID(i))
			}
			ids[id] = i
			continue
		}
		copies++
		op, ok, ov := c.Record(orig)
		if _, again := c.Dup(orig); i%10 != 9 || orig != i-20 && orig != i-21 || again || op != p || string(ok) != string(k) || string(ov) != string(v) {
			t.Fatalf("record %d: a copy of %d (%d %q %s), want an exact copy of record %d or %d, which is no copy (%d %q %s)", i, orig, p, k, v, i-20, i-21, op, ok, ov)
		}
		if ids[id] != orig {
			t.Fatalf("record %d: id %q, want the id of record %d", i, id, orig)
		}
	}
	if copies != 98 {
		t.Errorf("got %d copies in 1000 records, want 98 (records 29, 39, ..., 999)", copies)
	}
}
