package gen_test

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/kappa-stream/kappa/internal/gen"
)

// TestFraudOffKeepsTheStream pins a hash of the first 100k records of two configurations,
// taken before the fraud pattern existed: the zero Fraud must leave every byte unchanged.
func TestFraudOffKeepsTheStream(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    gen.Cards
		want uint64
	}{
		{"zero", gen.Cards{}, 0xeb2b659b5b50d34d},
		{"configured", gen.Cards{
			Seed: 7, Partitions: 5, BadEvery: 10, LateEvery: 97, LateBy: time.Hour,
			Start: gen.DefaultStart.Add(2 * time.Hour), Merchants: 30, Cards: 50,
		}, 0x7f0296db680ebf2d},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := fnv.New64a()
			for i := range int64(100000) {
				p, k, v := tc.c.Record(i)
				fmt.Fprintf(h, "%d %s %s\n", p, k, v)
				if tc.c.IsFraud(i) {
					t.Fatalf("record %d: IsFraud with Fraud off", i)
				}
			}
			if got := h.Sum64(); got != tc.want {
				t.Errorf("hash of records [0, 100000): got %#x, want %#x", got, tc.want)
			}
		})
	}
}

// fraudCards is the demo's stream (2000 records/s over 500 cards) with the pattern on and
// no disorder, so that a record's event time is its on-time event time.
func fraudCards() gen.Cards {
	return gen.Cards{
		Seed: 11, Partitions: 4, BadEvery: 500, Step: 500 * time.Microsecond, MaxDisorder: -1,
		Fraud: gen.Fraud{Compromised: 5},
	}
}

func TestFraudPattern(t *testing.T) {
	c := fraudCards()
	plain := c
	plain.Fraud = gen.Fraud{}
	const n = 400_000 // 200 s of event time
	var frauds, good int
	home := map[string]map[string]bool{} // card -> merchants of its legitimate records
	fraudMerchants := map[string]bool{}
	compromised := map[string]bool{}
	for i := range int64(n) {
		tx, ok := c.Txn(i)
		old, _ := plain.Txn(i)
		p, k, v := c.Record(i)
		if c.IsFraud(i) != tx.Fraud {
			t.Fatalf("record %d: IsFraud %v, Txn.Fraud %v", i, c.IsFraud(i), tx.Fraud)
		}
		if !ok {
			_, k0, v0 := plain.Record(i)
			if tx.Fraud || !bytes.Equal(k, k0) || !bytes.Equal(v, v0) {
				t.Fatalf("malformed record %d: got fraud=%v %s %s, want not fraud and %s %s", i, tx.Fraud, k, v, k0, v0)
			}
			continue
		}
		good++
		if string(k) != tx.Card || p != gen.Partition(k, 4) || !bytes.Contains(v, []byte(`"merchant":"`+tx.Merchant+`"`)) {
			t.Fatalf("record %d: %d %s %s does not match %+v", i, p, k, v, tx)
		}
		if tx.EventTime != old.EventTime || tx.Seq != old.Seq {
			t.Fatalf("record %d: event time or seq changed: got %+v, want those of %+v", i, tx, old)
		}
		if !tx.Fraud {
			if tx.Card != old.Card || tx.Amount != old.Amount {
				t.Fatalf("legitimate record %d: got %+v, want the card and amount of %+v", i, tx, old)
			}
			if home[tx.Card] == nil {
				home[tx.Card] = map[string]bool{}
			}
			home[tx.Card][tx.Merchant] = true
			continue
		}
		frauds++
		fraudMerchants[tx.Merchant] = true
		compromised[tx.Card] = true
		if tx.Amount < gen.FraudMinAmount || tx.Amount > gen.FraudMaxAmount || tx.Amount != math.Round(tx.Amount*100)/100 {
			t.Fatalf("fraudulent record %d: amount %v, want whole cents in [%v, %v]", i, tx.Amount, gen.FraudMinAmount, gen.FraudMaxAmount)
		}
		if cards := c.Compromised(time.UnixMilli(tx.EventTime)); !slices.Contains(cards, tx.Card) {
			t.Fatalf("fraudulent record %d: card %s at %d, want one of the compromised %v", i, tx.Card, tx.EventTime, cards)
		}
	}
	if share := float64(frauds) / float64(good); math.Abs(share-gen.DefaultFraudShare) > 0.002 {
		t.Errorf("fraudulent share: got %.4f (%d of %d), want %.3f ± 0.002", share, frauds, good, gen.DefaultFraudShare)
	}
	for card, ms := range home {
		if len(ms) > gen.DefaultHomeMerchants {
			t.Fatalf("card %s: legitimate records at %d merchants, want at most %d", card, len(ms), gen.DefaultHomeMerchants)
		}
	}
	// 200 s of 1-minute compromises in 5 staggered slots: 5*200/60+5 ≈ 21 periods at most.
	if len(compromised) < 15 || len(compromised) > 22 {
		t.Errorf("compromised cards: got %d, want 15 to 22", len(compromised))
	}
	if len(fraudMerchants) < gen.DefaultMerchants*9/10 {
		t.Errorf("fraudulent records at %d merchants, want nearly all %d", len(fraudMerchants), gen.DefaultMerchants)
	}
}

// TestFraudBursts checks the property the model learns: within a compromise, the card's
// rate and distinct merchants jump.
func TestFraudBursts(t *testing.T) {
	c := fraudCards()
	type card struct{ n, fraud int }
	const n = 120_000 // the first minute
	counts := map[string]*card{}
	for i := range int64(n) {
		tx, ok := c.Txn(i)
		if !ok {
			continue
		}
		if counts[tx.Card] == nil {
			counts[tx.Card] = &card{}
		}
		counts[tx.Card].n++
		if tx.Fraud {
			counts[tx.Card].fraud++
		}
	}
	// The slot of card-X compromised for the whole first minute, if any, shows the burst;
	// others were compromised for part of it. Each compromised card got at least twice a
	// legitimate card's count over the minute it was compromised (4/s legit + 8/s fraud).
	var maxLegit, maxFraudCard int
	for _, cc := range counts {
		if cc.fraud == 0 {
			maxLegit = max(maxLegit, cc.n)
		} else {
			maxFraudCard = max(maxFraudCard, cc.n)
		}
	}
	if maxFraudCard < 2*maxLegit {
		t.Errorf("busiest compromised card: %d records in a minute, want at least twice the busiest legitimate card's %d", maxFraudCard, maxLegit)
	}
}

func TestFraudIsDeterministic(t *testing.T) {
	c := fraudCards()
	d := c
	for _, i := range []int64{123_456, 0, 99, 1 << 35} {
		p1, k1, v1 := c.Record(i)
		p2, k2, v2 := d.Record(i)
		if p1 != p2 || !bytes.Equal(k1, k2) || !bytes.Equal(v1, v2) || c.IsFraud(i) != d.IsFraud(i) {
			t.Fatalf("record %d: got (%d %q %q) and (%d %q %q), want equal", i, p1, k1, v1, p2, k2, v2)
		}
	}
}

func TestFraudValidate(t *testing.T) {
	for _, f := range []gen.Fraud{
		{Compromised: -1},
		{Compromised: 1, Duration: -time.Second},
		{Compromised: 1, Share: 1.5},
		{Compromised: 1, Share: -0.1},
		{Compromised: 1, Share: math.NaN()},
		{Compromised: 1, HomeMerchants: -1},
	} {
		c := gen.Cards{Fraud: f}
		if c.Validate() == nil {
			t.Errorf("Validate(Fraud: %+v): got nil, want an error", f)
		}
	}
	if err := (&gen.Cards{Fraud: gen.Fraud{Compromised: 3, Share: 1}}).Validate(); err != nil {
		t.Errorf("Validate(Fraud on): got %v, want nil", err)
	}
}

func TestCompromised(t *testing.T) {
	c := gen.Cards{Cards: 1_000_000, Fraud: gen.Fraud{Compromised: 4, Duration: 4 * time.Minute}}
	if got := (&gen.Cards{}).Compromised(gen.DefaultStart); got != nil {
		t.Fatalf("Compromised with Fraud off: got %v, want nil", got)
	}
	// Slot k changes card at Start + k minutes + p*4 minutes: one slot per minute.
	at := func(d time.Duration) []string { return c.Compromised(gen.DefaultStart.Add(d)) }
	for m := range 8 {
		before, after := at(time.Duration(m)*time.Minute-time.Millisecond), at(time.Duration(m)*time.Minute)
		if len(before) != 4 || len(after) != 4 {
			t.Fatalf("minute %d: got %v and %v, want 4 cards each", m, before, after)
		}
		changed := 0
		for k := range 4 {
			if before[k] != after[k] {
				changed++
			}
		}
		if changed != 1 {
			t.Errorf("minute %d: %d slots changed card (%v -> %v), want 1", m, changed, before, after)
		}
	}
}
