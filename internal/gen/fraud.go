package gen

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Defaults of [Fraud] once the pattern is on (Compromised > 0).
const (
	DefaultFraudDuration = time.Minute
	DefaultFraudShare    = 0.02
	DefaultHomeMerchants = 8
	// FraudMinAmount and FraudMaxAmount bound a fraudulent amount, in whole cents between
	// them. Legitimate amounts stay in (0, 500], so the two overlap between 200 and 500.
	FraudMinAmount = 200.0
	FraudMaxAmount = 2000.0
)

// Fraud is a fraud pattern that a model can learn from a card's recent transactions. The
// zero value turns it off; Compromised > 0 turns it on.
//
// At every event time, Compromised cards are compromised. Each compromise lasts Duration:
// compromise slot k (0 <= k < Compromised) picks a new card by a hash of the Seed, k and
// the period number at Start + k*Duration/Compromised + p*Duration, so the slots change
// cards at staggered times. (A card may hold two slots at once, rarely.)
//
// Each well-formed record becomes fraudulent with probability Share. A fraudulent record
// keeps its index, event time and place in the stream, but moves to the card of a slot
// drawn at random, compromised at the record's event time (before any late shift), with an
// amount drawn uniformly from [FraudMinAmount, FraudMaxAmount] and a merchant drawn
// uniformly from all Merchants. The other records are the cardholders' own: with the
// pattern on, each card buys only at its HomeMerchants merchants (picked by a hash of the
// Seed and the card), still with amounts in (0, 500].
//
// So, while compromised, a card's transactions come in a burst: its rate grows by
// Share * records-per-second / Compromised (with the demo's 2000 records/s over 500 cards
// and the defaults: from 4/s to 12/s), at many distinct merchants instead of a handful, with
// larger amounts. Window aggregates such as a card's transaction count, total and largest
// amount and distinct merchants over the last minute, with the record's amount, separate the
// fraudulent records well; the cardholder's own transactions during a compromise, with
// amounts between 200 and 500, are the hard cases. [Cards.IsFraud] is the label.
//
// The pattern draws after every other draw of a record, so with Fraud off the stream is the
// same as it was before Fraud existed; with it on, merchants change (home merchants) and
// fraudulent records change card, amount and merchant, nothing else.
type Fraud struct {
	// Compromised is the number of cards compromised at any event time. 0 turns the pattern
	// off.
	Compromised int
	// Duration is how long, in event time, a compromise lasts. Default DefaultFraudDuration.
	Duration time.Duration
	// Share is the probability that a well-formed record is fraudulent, in [0, 1]. Default
	// (0) DefaultFraudShare.
	Share float64
	// HomeMerchants is the number of merchants each card's legitimate transactions go to.
	// Default DefaultHomeMerchants.
	HomeMerchants int
}

func (f *Fraud) on() bool { return f.Compromised > 0 }

func (f *Fraud) duration() time.Duration {
	if f.Duration <= 0 {
		return DefaultFraudDuration
	}
	return f.Duration
}

func (f *Fraud) share() float64 {
	if f.Share == 0 {
		return DefaultFraudShare
	}
	return f.Share
}

func (f *Fraud) homeMerchants() uint64 {
	if f.HomeMerchants <= 0 {
		return DefaultHomeMerchants
	}
	return uint64(f.HomeMerchants)
}

func (f *Fraud) validate() error {
	var errs []error
	if f.Compromised < 0 {
		errs = append(errs, fmt.Errorf("gen: Fraud.Compromised is %d; want 0 (off) or more", f.Compromised))
	}
	if f.Duration < 0 {
		errs = append(errs, fmt.Errorf("gen: Fraud.Duration is %s; want 0 (default %s) or more", f.Duration, DefaultFraudDuration))
	}
	if !(f.Share >= 0 && f.Share <= 1) {
		errs = append(errs, fmt.Errorf("gen: Fraud.Share is %g; want 0 (default %g) to 1", f.Share, DefaultFraudShare))
	}
	if f.HomeMerchants < 0 {
		errs = append(errs, fmt.Errorf("gen: Fraud.HomeMerchants is %d; want 0 (default %d) or more", f.HomeMerchants, DefaultHomeMerchants))
	}
	return errors.Join(errs...)
}

// IsFraud reports whether record i is a fraudulent transaction: the label a fraud model
// learns. It is false for every record when Fraud is off, and for malformed records.
func (c *Cards) IsFraud(i int64) bool {
	if !c.Fraud.on() || c.Bad(i) {
		return false
	}
	t, _ := c.txn(i)
	return t.Fraud
}

// Compromised returns the cards compromised at event time t, by slot (see [Fraud]), or
// nil when Fraud is off. A card holding two slots is listed once.
func (c *Cards) Compromised(t time.Time) []string {
	if !c.Fraud.on() {
		return nil
	}
	var cards []string
	for k := range c.Fraud.Compromised {
		card := c.cardName(c.compromisedCard(uint64(k), t.UnixNano()))
		if !slices.Contains(cards, card) {
			cards = append(cards, card)
		}
	}
	return cards
}

func (c *Cards) cardName(n uint64) string { return "card-" + strconv.FormatUint(n, 10) }

// Salts keep the pattern's hashes apart from the records' streams and from each other.
const (
	saltSlot = 0x6672617564736c74 // "fraudslt"
	saltHome = 0x686f6d656d657263 // "homemerc"
)

// compromisedCard is the card number that compromise slot k holds at event time ns.
func (c *Cards) compromisedCard(k uint64, ns int64) uint64 {
	d := int64(c.Fraud.duration())
	from := c.start().UnixNano() + int64(k)*d/int64(c.Fraud.Compromised)
	p := floorDiv(ns-from, d)
	return mix64(mix64(c.Seed^saltSlot)^mix64(k)^mix64(uint64(p)*0x9e3779b97f4a7c15)) % uint64(c.cards())
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// fraud applies the pattern to a well-formed record t with its merchant draw m, drawing
// from r (after every other draw of the record), and returns the merchant draw to use.
func (c *Cards) fraud(t *Txn, r *draws, m uint64, onTime int64) uint64 {
	f := &c.Fraud
	if float64(r.next()>>11)/(1<<53) >= f.share() {
		// The cardholder's own: one of the card's home merchants, picked by the draw m.
		return mix64(mix64(c.Seed^saltHome) + mix64(r.cardN) + m%f.homeMerchants())
	}
	slot := r.next() % uint64(f.Compromised)
	t.Card = c.cardName(c.compromisedCard(slot, onTime))
	const lo, hi = uint64(FraudMinAmount * 100), uint64(FraudMaxAmount * 100)
	t.Amount = float64(lo+r.next()%(hi-lo+1)) / 100
	t.Fraud = true
	return r.next()
}
