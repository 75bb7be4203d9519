package processor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/kappa-stream/kappa/model"
)

// fakeKafka is an in-memory Kafka cluster for one pipeline, faithful to the contract of the
// processor's Client and Changelog interfaces (kafka.go):
//
//   - every topic is a set of partition logs with contiguous offsets; transactional records
//     take their offset when produced (as a broker appends them), are invisible to
//     read_committed readers until the transaction commits, and each commit or abort appends
//     a control record (marker) to every partition the transaction touched, so the readable
//     offsets of outputs and changelogs have gaps, as in Kafka;
//   - the last stable offset (LSO) of a partition is the offset of its first record of an
//     open transaction, or its end;
//   - the consumer group has committed offsets per input partition; End(commit=true)
//     atomically makes the transaction's records readable and commits the position of every
//     record polled since the previous End; End(commit=false) aborts and rewinds the
//     positions to the committed offsets;
//   - group membership is cooperative: a partition moves to another member only after its
//     owner revoked it, and owners change partitions only between transactions (from a
//     non-empty Poll until AllowRebalance the member holds rebalances back, as franz-go's
//     BlockRebalanceOnPoll does); assignment callbacks run inside Poll;
//   - a new client of an instance fences the older clients of the same instance id
//     (KIP-447 / InitProducerID with the same transactional id): their open transaction is
//     aborted and their later calls fail with model.ErrFenced;
//   - produce callbacks run on a separate goroutine, in produce order, and End flushes
//     (waits for all of them) first. The broker copies a produced record at End (the flush),
//     not at Produce: like franz-go, the fake keeps the caller's slices until then.
//
// Faults are injected by a hook called at named points (see fakePoint).
type fakeKafka struct {
	cfg fakeConfig

	mu        sync.Mutex
	logs      map[topicPartition]*fakeLog
	committed map[topicPartition]int64   // group offsets of the input partitions
	target    map[string][]int32         // instance id -> partitions it should own; nil: all to the newest client
	owner     map[int32]*fakeClient      // input partition number -> member that owns it
	clients   []*fakeClient              // every client ever created, oldest first
	wake      chan struct{}              // closed (and replaced) on every change a waiter may wait for
	hook      func(fakePoint) fakeAction // fault injection; nil: none
	turn      int                        // rotates the partition order of Poll
	ends      int                        // End calls that committed, for tests
}

// fakeConfig is the shape of the fake cluster.
type fakeConfig struct {
	Inputs     []string // input topics
	Output     string   // output topic
	Changelog  string   // changelog topic
	DeadLetter string   // dead-letter topic
	Late       string   // late-record topic
	Extra      []string // more output topics (alerts)
	Partitions int32    // partitions of every topic
	// MaxPerPoll bounds the records one Poll returns (0: no bound).
	MaxPerPoll int
	// MaxPerTxn bounds the records returned between two AllowRebalance calls (0: no bound),
	// so that a test with all its input written up front still runs many transactions.
	MaxPerTxn int
	// ChangelogChunk is the number of records per Changelog.Read callback (0: 1024).
	ChangelogChunk int
	// Bounded makes Poll return ErrEndOfInput once the group has committed every input
	// partition to its end, as a replay's client does at the end of its range.
	Bounded bool
	// ReuseBuffers makes Poll overwrite the key, value and header bytes of the records it
	// returned on the previous call, as the Record contract allows a source to do.
	ReuseBuffers bool
	// SlowCallbacks delays each produce callback, as a slow broker does. End's flush waits
	// for them only as long as its context lives: like franz-go's GroupTransactSession.End,
	// End returns the context's error at once when it ends during the flush, and the
	// remaining callbacks run later.
	SlowCallbacks time.Duration
}

type topicPartition struct {
	topic     string
	partition int32
}

func (tp topicPartition) String() string { return fmt.Sprintf("%s/%d", tp.topic, tp.partition) }

type entryState uint8

const (
	entryCommitted entryState = iota // readable: a committed (or non-transactional) record
	entryPending                     // in an open transaction
	entryAborted                     // in an aborted transaction
	entryControl                     // a transaction marker
)

// fakeEntry is one offset of a partition log.
type fakeEntry struct {
	state     entryState
	key       []byte
	value     []byte
	headers   []model.Header
	timestamp time.Time
	owner     *fakeClient // producer until the record is flushed (copied); nil after
}

type fakeLog struct {
	start   int64 // log start offset; entries[0] has this offset
	entries []fakeEntry
	stable  int // index below which no entry is pending
}

func (l *fakeLog) end() int64 { return l.start + int64(len(l.entries)) }

// lso is the last stable offset: the first offset of an open transaction, or the end.
func (l *fakeLog) lso() int64 {
	for l.stable < len(l.entries) && l.entries[l.stable].state != entryPending {
		l.stable++
	}
	return l.start + int64(l.stable)
}

// fakeRecord is a committed record as a read_committed consumer sees it.
type fakeRecord struct {
	Offset    int64
	Key       []byte
	Value     []byte
	Headers   []model.Header
	Timestamp time.Time
}

// fakePoint is where the hook is called. The hook runs on the caller's goroutine without the
// fake's lock held; it may call the fake (and take a crash clone of a store).
type fakePoint struct {
	// Name is one of:
	//   "poll"             at the start of Poll
	//   "begin"            at Begin
	//   "end-start"        at End, before the flush (Commit: asked)
	//   "produce"          at Produce, before the record is appended (Topic, Partition set)
	//   "end-before"       at End, after the flush, before the commit or abort (Commit: asked)
	//   "end-after-commit" at End, after the transaction and offsets committed
	//   "allow-rebalance"  at AllowRebalance (Commit: the last End committed)
	//   "changelog-bounds" at Changelog.Bounds (Partition set)
	//   "changelog-read"   at Changelog.Read, before each chunk is passed on (Partition, Chunk set)
	Name      string
	Instance  *fakeInstance
	Topic     string
	Partition int32
	Commit    bool
	Chunk     int   // 0-based chunk number of this Read call
	Offset    int64 // changelog-read: the offset of the chunk's first record
}

// fakeAction is what the hook wants to happen at a point.
type fakeAction int

const (
	// fakeContinue: nothing; the operation proceeds.
	fakeContinue fakeAction = iota
	// fakeFail: the operation fails with errInjected. At "end-before" End aborts and returns
	// the error (outcome unknown to the caller; not committed). At "end-after-commit" End
	// returns the error although the transaction committed (outcome unknown; committed).
	// At "allow-rebalance" it is ignored (AllowRebalance cannot fail).
	fakeFail
	// fakeAbort (at "end-before"): End aborts and reports committed=false with no error, as
	// when a rebalance ended the transaction.
	fakeAbort
	// fakeCrash: the instance dies here: nothing it does from now on reaches Kafka (its open
	// transaction stays open until a new client of the same instance id fences it), and the
	// operation fails with errCrashed. The hook takes its crash clone before returning.
	fakeCrash
)

var (
	errInjected     = errors.New("fakekafka: injected fault")
	errCrashed      = errors.New("fakekafka: the instance crashed")
	errClientClosed = errors.New("fakekafka: client closed")
)

func newFakeKafka(cfg fakeConfig) *fakeKafka {
	if cfg.ChangelogChunk <= 0 {
		cfg.ChangelogChunk = 1024
	}
	k := &fakeKafka{
		cfg:       cfg,
		logs:      map[topicPartition]*fakeLog{},
		committed: map[topicPartition]int64{},
		owner:     map[int32]*fakeClient{},
		wake:      make(chan struct{}),
	}
	topics := append(slices.Clone(cfg.Inputs), cfg.Output, cfg.Changelog, cfg.DeadLetter, cfg.Late)
	for _, t := range topics {
		for p := range cfg.Partitions {
			k.logs[topicPartition{t, p}] = &fakeLog{}
		}
	}
	return k
}

// addTopic adds an output topic (alerts) with the partitions of the others.
func (k *fakeKafka) addTopic(topic string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.cfg.Extra = append(k.cfg.Extra, topic)
	for p := range k.cfg.Partitions {
		k.logs[topicPartition{topic, p}] = &fakeLog{}
	}
}

// broadcast wakes every waiter. Call with k.mu held.
func (k *fakeKafka) broadcast() {
	close(k.wake)
	k.wake = make(chan struct{})
}

// setHook installs the fault hook (nil removes it).
func (k *fakeKafka) setHook(h func(fakePoint) fakeAction) {
	k.mu.Lock()
	k.hook = h
	k.mu.Unlock()
}

// point runs the hook at pt and, for fakeCrash, kills the instance.
func (k *fakeKafka) point(pt fakePoint) fakeAction {
	k.mu.Lock()
	h := k.hook
	k.mu.Unlock()
	if h == nil {
		return fakeContinue
	}
	a := h(pt)
	if a == fakeCrash && pt.Instance != nil {
		pt.Instance.crash()
	}
	return a
}

// setTarget sets which instance should own which partitions; the members move partitions
// at their next polls between transactions. nil gives every partition to the newest client.
func (k *fakeKafka) setTarget(target map[string][]int32) {
	k.mu.Lock()
	k.target = target
	k.broadcast()
	k.mu.Unlock()
}

// waitAssigned waits until every partition of target is owned by a client of its instance.
func (k *fakeKafka) waitAssigned(ctx context.Context, target map[string][]int32) error {
	for {
		k.mu.Lock()
		done := true
		for id, ps := range target {
			for _, p := range ps {
				if o := k.owner[p]; o == nil || o.inst.id != id {
					done = false
				}
			}
		}
		wake := k.wake
		k.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("partitions not assigned as %v: %w", target, ctx.Err())
		case <-wake:
		}
	}
}

// appendInput writes a record to an input partition (non-transactionally) and returns its
// offset.
func (k *fakeKafka) appendInput(topic string, partition int32, key, value []byte, headers []model.Header, ts time.Time) int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	l := k.logs[topicPartition{topic, partition}]
	if l == nil {
		panic(fmt.Sprintf("fakekafka: no partition %s/%d", topic, partition))
	}
	off := l.end()
	l.entries = append(l.entries, fakeEntry{state: entryCommitted, key: key, value: value, headers: headers, timestamp: ts})
	k.broadcast()
	return off
}

// records returns the committed records of a partition (read_committed), copied.
func (k *fakeKafka) records(topic string, partition int32) []fakeRecord {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.recordsLocked(topic, partition, 0, -1)
}

// recordsLocked returns the committed records in [from, end) (end -1: the LSO), copied.
func (k *fakeKafka) recordsLocked(topic string, partition int32, from, end int64) []fakeRecord {
	l := k.logs[topicPartition{topic, partition}]
	if l == nil {
		panic(fmt.Sprintf("fakekafka: no partition %s/%d", topic, partition))
	}
	lso := l.lso()
	if end < 0 || end > lso {
		end = lso
	}
	var out []fakeRecord
	for off := max(from, l.start); off < end; off++ {
		e := &l.entries[off-l.start]
		if e.state != entryCommitted {
			continue
		}
		out = append(out, fakeRecord{
			Offset: off, Key: slices.Clone(e.key), Value: slices.Clone(e.value),
			Headers: cloneHeaders(e.headers), Timestamp: e.timestamp,
		})
	}
	return out
}

// endOffset returns the end (high watermark) and the last stable offset of a partition.
func (k *fakeKafka) endOffset(topic string, partition int32) (end, lso int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	l := k.logs[topicPartition{topic, partition}]
	return l.end(), l.lso()
}

// committedOffset returns the group's committed offset of an input partition (0 if none).
func (k *fakeKafka) committedOffset(topic string, partition int32) int64 {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.committed[topicPartition{topic, partition}]
}

// allConsumed reports whether the group committed the end of every input partition.
func (k *fakeKafka) allConsumed() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, t := range k.cfg.Inputs {
		for p := range k.cfg.Partitions {
			tp := topicPartition{t, p}
			if k.committed[tp] != k.logs[tp].end() {
				return false
			}
		}
	}
	return true
}

// waitConsumed waits until the group committed the end of every input partition.
func (k *fakeKafka) waitConsumed(ctx context.Context) error {
	for {
		k.mu.Lock()
		wake := k.wake
		k.mu.Unlock()
		if k.allConsumed() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("input not consumed: %w; committed %v", ctx.Err(), k.progress())
		case <-wake:
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// progress describes the committed offsets and ends of the inputs, for failure messages.
func (k *fakeKafka) progress() string {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := ""
	for _, t := range k.cfg.Inputs {
		for p := range k.cfg.Partitions {
			tp := topicPartition{t, p}
			s += fmt.Sprintf(" %s=%d/%d", tp, k.committed[tp], k.logs[tp].end())
		}
	}
	return s
}

// commits returns the number of transactions (or at-least-once offset commits) that
// committed.
func (k *fakeKafka) commits() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.ends
}

func cloneHeaders(hs []model.Header) []model.Header {
	if hs == nil {
		return nil
	}
	out := make([]model.Header, len(hs))
	for i, h := range hs {
		out[i] = model.Header{Key: h.Key, Value: slices.Clone(h.Value)}
	}
	return out
}

// fakeInstance is one incarnation of a kappa process with an instance id: the clients it
// creates and its changelog reader. A crash kills the incarnation; a new incarnation with the
// same id fences the old one's clients when it creates its first client.
type fakeInstance struct {
	k    *fakeKafka
	id   string
	eos  bool
	dead bool // under k.mu

	newClients int // under k.mu
}

// instance returns a new incarnation of instance id. eos selects transactional clients.
func (k *fakeKafka) instance(id string, eos bool) *fakeInstance {
	return &fakeInstance{k: k, id: id, eos: eos}
}

func (in *fakeInstance) crash() {
	k := in.k
	k.mu.Lock()
	in.dead = true
	for _, c := range k.clients {
		if c.inst == in {
			c.dead = true
		}
	}
	k.broadcast()
	k.mu.Unlock()
}

// clientsCreated returns how many clients the incarnation created.
func (in *fakeInstance) clientsCreated() int {
	in.k.mu.Lock()
	defer in.k.mu.Unlock()
	return in.newClients
}

// NewClient is the processor's Config.NewClient for this incarnation.
func (in *fakeInstance) NewClient(a Assignment) (Client, error) {
	k := in.k
	k.mu.Lock()
	defer k.mu.Unlock()
	if in.dead {
		return nil, errCrashed
	}
	in.newClients++
	c := &fakeClient{
		k: k, inst: in, a: a, eos: in.eos,
		owned:  map[int32]bool{},
		pos:    map[topicPartition]int64{},
		polled: map[topicPartition]bool{},
		cbq:    newCallbackQueue(k.cfg.SlowCallbacks),
	}
	// Fence the older clients of the same instance id (InitProducerID, static member id).
	for _, old := range k.clients {
		if old.inst.id == in.id && !old.fenced {
			old.fenced = true
			k.abortLocked(old)
			k.releaseLocked(old)
		}
	}
	k.clients = append(k.clients, c)
	k.broadcast()
	return c, nil
}

// Changelog is the processor's Config.Changelog for this incarnation.
func (in *fakeInstance) Changelog() Changelog { return &fakeChangelog{in: in} }

// fakeClient implements Client.
type fakeClient struct {
	k    *fakeKafka
	inst *fakeInstance
	a    Assignment
	eos  bool
	cbq  *callbackQueue

	// under k.mu
	closed, dead, fenced bool
	owned                map[int32]bool
	pos                  map[topicPartition]int64 // next offset to poll
	polled               map[topicPartition]bool  // polled since the last End
	blocked              bool                     // a non-empty poll since AllowRebalance
	budget               int                      // records returned since AllowRebalance
	txn                  *fakeTxn
	lastCommitted        bool       // the last End committed (reset by AllowRebalance)
	lent                 [][]byte   // buffers of the last Poll, for ReuseBuffers
	txnless              []entryRef // at-least-once records produced since the last End
	alosFailed           bool       // an at-least-once produce failed since the last End
}

type fakeTxn struct {
	failed  bool
	entries []entryRef
}

type entryRef struct {
	tp  topicPartition
	off int64
}

// usableLocked returns why c cannot act, if it cannot.
func (c *fakeClient) usableLocked() error {
	switch {
	case c.dead:
		return errCrashed
	case c.closed:
		return errClientClosed
	case c.fenced:
		return fmt.Errorf("fakekafka: %w", model.ErrFenced)
	}
	return nil
}

// wantLocked returns the partitions c should own now.
func (k *fakeKafka) wantLocked(c *fakeClient) map[int32]bool {
	want := map[int32]bool{}
	if c.usableLocked() != nil {
		return want
	}
	// The newest usable client of c's instance (or of all, with no target) is the member.
	for i := len(k.clients) - 1; i >= 0; i-- {
		o := k.clients[i]
		if o.usableLocked() != nil || (k.target != nil && o.inst.id != c.inst.id) {
			continue
		}
		if o != c {
			return want
		}
		break
	}
	if k.target == nil {
		for p := range k.cfg.Partitions {
			want[p] = true
		}
		return want
	}
	for _, p := range k.target[c.inst.id] {
		want[p] = true
	}
	return want
}

// releaseLocked gives up every partition c owns.
func (k *fakeKafka) releaseLocked(c *fakeClient) {
	for p := range c.owned {
		if k.owner[p] == c {
			delete(k.owner, p)
		}
	}
	clear(c.owned)
	k.broadcast()
}

// abortLocked aborts c's open transaction, if any, and rewinds c to the committed offsets.
func (k *fakeKafka) abortLocked(c *fakeClient) {
	if c.txn != nil {
		k.finishTxnLocked(c.txn, entryAborted)
		c.txn = nil
	}
	for tp := range c.pos {
		c.pos[tp] = k.committed[tp]
	}
	clear(c.polled)
}

// finishTxnLocked commits or aborts a transaction: its records change state and every
// partition it touched gets a marker.
func (k *fakeKafka) finishTxnLocked(t *fakeTxn, to entryState) {
	touched := map[topicPartition]bool{}
	for _, r := range t.entries {
		l := k.logs[r.tp]
		e := &l.entries[r.off-l.start]
		e.state = to
		touched[r.tp] = true
	}
	tps := make([]topicPartition, 0, len(touched))
	for tp := range touched {
		tps = append(tps, tp)
	}
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].topic != tps[j].topic {
			return tps[i].topic < tps[j].topic
		}
		return tps[i].partition < tps[j].partition
	})
	for _, tp := range tps {
		l := k.logs[tp]
		l.entries = append(l.entries, fakeEntry{state: entryControl})
	}
	k.broadcast()
}

// flushLocked copies the records c produced, as the broker receives them at the flush.
func (k *fakeKafka) flushLocked(c *fakeClient, refs []entryRef) {
	for _, r := range refs {
		l := k.logs[r.tp]
		e := &l.entries[r.off-l.start]
		if e.owner != c {
			continue
		}
		e.key, e.value, e.headers = slices.Clone(e.key), slices.Clone(e.value), cloneHeaders(e.headers)
		e.owner = nil
	}
}

// Poll implements Client.
func (c *fakeClient) Poll(ctx context.Context) ([]model.Record, error) {
	k := c.k
	if k.point(fakePoint{Name: "poll", Instance: c.inst}) != fakeContinue {
		if c.isDead() {
			return nil, errCrashed
		}
		return nil, errInjected
	}
	for {
		k.mu.Lock()
		if k.cfg.ReuseBuffers {
			for _, b := range c.lent {
				for i := range b {
					b[i] = 'X'
				}
			}
			c.lent = nil
		}
		if err := c.usableLocked(); err != nil {
			k.mu.Unlock()
			return nil, err
		}
		var assigned, revoked []int32
		if !c.blocked {
			assigned, revoked = k.rebalanceLocked(c)
		}
		recs := k.fetchLocked(c)
		if len(recs) > 0 {
			c.blocked = true
		}
		wake := k.wake
		k.mu.Unlock()
		if len(revoked) > 0 {
			c.a.Revoked(revoked)
		}
		if len(assigned) > 0 {
			c.a.Assigned(assigned)
		}
		if len(recs) > 0 {
			return recs, nil
		}
		if k.cfg.Bounded && k.allConsumed() {
			return nil, ErrEndOfInput
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-wake:
		}
	}
}

func (c *fakeClient) isDead() bool {
	c.k.mu.Lock()
	defer c.k.mu.Unlock()
	return c.dead
}

// rebalanceLocked moves partitions to and from c as the target says: revocations first, and
// a partition is taken only once no other member owns it.
func (k *fakeKafka) rebalanceLocked(c *fakeClient) (assigned, revoked []int32) {
	want := k.wantLocked(c)
	for p := range c.owned {
		if !want[p] {
			revoked = append(revoked, p)
		}
	}
	slices.Sort(revoked)
	for _, p := range revoked {
		delete(c.owned, p)
		delete(k.owner, p)
		for _, t := range k.cfg.Inputs {
			delete(c.pos, topicPartition{t, p})
		}
	}
	for p := range want {
		if c.owned[p] {
			continue
		}
		if o := k.owner[p]; o != nil && o != c {
			if !o.dead {
				continue // the owner has not revoked it yet
			}
			// A crashed member keeps its partitions until its session times out; the fake
			// lets them go at once.
		}
		assigned = append(assigned, p)
	}
	slices.Sort(assigned)
	for _, p := range assigned {
		c.owned[p] = true
		k.owner[p] = c
		for _, t := range k.cfg.Inputs {
			tp := topicPartition{t, p}
			c.pos[tp] = k.committed[tp]
		}
	}
	if len(assigned)+len(revoked) > 0 {
		k.broadcast()
	}
	return assigned, revoked
}

// fetchLocked returns the next records of c's partitions, in offset order per partition.
func (k *fakeKafka) fetchLocked(c *fakeClient) []model.Record {
	limit := -1
	if k.cfg.MaxPerPoll > 0 {
		limit = k.cfg.MaxPerPoll
	}
	if k.cfg.MaxPerTxn > 0 {
		left := k.cfg.MaxPerTxn - c.budget
		if left <= 0 {
			return nil
		}
		if limit < 0 || left < limit {
			limit = left
		}
	}
	var tps []topicPartition
	for p := range c.owned {
		for _, t := range k.cfg.Inputs {
			tps = append(tps, topicPartition{t, p})
		}
	}
	sort.Slice(tps, func(i, j int) bool {
		if tps[i].partition != tps[j].partition {
			return tps[i].partition < tps[j].partition
		}
		return tps[i].topic < tps[j].topic
	})
	if len(tps) == 0 {
		return nil
	}
	k.turn++
	var recs []model.Record
	for i := range tps {
		tp := tps[(i+k.turn)%len(tps)]
		l := k.logs[tp]
		lso := l.lso()
		for off := c.pos[tp]; off < lso && limit != 0; off++ {
			e := &l.entries[off-l.start]
			c.pos[tp] = off + 1
			c.polled[tp] = true
			if e.state != entryCommitted {
				continue
			}
			rec := model.Record{
				Key: slices.Clone(e.key), Value: slices.Clone(e.value), Headers: cloneHeaders(e.headers),
				Timestamp: e.timestamp,
				Position:  model.Position{Topic: tp.topic, Partition: tp.partition, Offset: off},
			}
			if k.cfg.ReuseBuffers {
				c.lent = append(c.lent, rec.Key, rec.Value)
				for _, h := range rec.Headers {
					c.lent = append(c.lent, h.Value)
				}
			}
			recs = append(recs, rec)
			limit--
			c.budget++
		}
	}
	return recs
}

// AllowRebalance implements Client.
func (c *fakeClient) AllowRebalance() {
	k := c.k
	k.mu.Lock()
	committed := c.lastCommitted
	k.mu.Unlock()
	k.point(fakePoint{Name: "allow-rebalance", Instance: c.inst, Commit: committed})
	k.mu.Lock()
	c.blocked = false
	c.budget = 0
	c.lastCommitted = false
	k.broadcast()
	k.mu.Unlock()
}

// Begin implements Client.
func (c *fakeClient) Begin() error {
	k := c.k
	if a := k.point(fakePoint{Name: "begin", Instance: c.inst}); a == fakeCrash {
		return errCrashed
	} else if a != fakeContinue {
		return errInjected
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if err := c.usableLocked(); err != nil {
		return err
	}
	if !c.eos {
		return nil
	}
	if c.txn != nil {
		return errors.New("fakekafka: Begin with a transaction already open")
	}
	c.txn = &fakeTxn{}
	return nil
}

// Produce implements Client.
func (c *fakeClient) Produce(out *model.Output, done func(offset int64, err error)) {
	k := c.k
	a := k.point(fakePoint{Name: "produce", Instance: c.inst, Topic: out.Topic, Partition: out.Partition})
	k.mu.Lock()
	off, err := int64(-1), error(nil)
	tp := topicPartition{out.Topic, out.Partition}
	l := k.logs[tp]
	switch {
	case a == fakeCrash:
		err = errCrashed
	case a != fakeContinue:
		err = errInjected
	case c.usableLocked() != nil:
		err = c.usableLocked()
	case l == nil || (out.Topic != k.cfg.Output && out.Topic != k.cfg.Changelog && out.Topic != k.cfg.DeadLetter && out.Topic != k.cfg.Late && !slices.Contains(k.cfg.Extra, out.Topic)):
		err = fmt.Errorf("fakekafka: produce to %s: unknown topic or partition, or an input topic", tp)
	case c.eos && c.txn == nil:
		err = fmt.Errorf("fakekafka: produce to %s outside a transaction", tp)
	default:
		off = l.end()
		st := entryCommitted
		if c.eos {
			st = entryPending
			c.txn.entries = append(c.txn.entries, entryRef{tp, off})
		}
		l.entries = append(l.entries, fakeEntry{
			state: st, key: out.Key, value: out.Value, headers: out.Headers, timestamp: time.Now(), owner: c,
		})
		if !c.eos {
			// Non-transactional records are flushed at End too; remember them there.
			c.txnless = append(c.txnless, entryRef{tp, off})
		}
		k.broadcast()
	}
	if err != nil && c.txn != nil {
		c.txn.failed = true
	}
	if err != nil && !c.eos {
		c.alosFailed = true
	}
	k.mu.Unlock()
	c.cbq.push(func() { done(off, err) })
}

// End implements Client.
func (c *fakeClient) End(ctx context.Context, commit bool) (bool, error) {
	k := c.k
	k.point(fakePoint{Name: "end-start", Instance: c.inst, Commit: commit})
	if err := c.cbq.flush(ctx); err != nil {
		k.mu.Lock()
		k.abortLocked(c)
		k.mu.Unlock()
		return false, fmt.Errorf("fakekafka: flush (outcome unknown): %w", err)
	}
	before := k.point(fakePoint{Name: "end-before", Instance: c.inst, Commit: commit})
	k.mu.Lock()
	if err := c.usableLocked(); err != nil {
		k.mu.Unlock()
		return false, err
	}
	if before == fakeCrash {
		k.mu.Unlock()
		return false, errCrashed
	}
	var refs []entryRef
	if c.txn != nil {
		refs = c.txn.entries
	}
	refs = append(refs, c.txnless...)
	c.txnless = nil
	k.flushLocked(c, refs)
	if c.eos && c.txn == nil {
		k.mu.Unlock()
		return false, errors.New("fakekafka: End without Begin")
	}
	if err := ctx.Err(); err != nil {
		k.abortLocked(c)
		k.mu.Unlock()
		return false, fmt.Errorf("fakekafka: End with a done context (outcome unknown): %w", err)
	}
	switch before {
	case fakeFail:
		k.abortLocked(c)
		k.mu.Unlock()
		return false, fmt.Errorf("fakekafka: end transaction: %w", errInjected)
	case fakeAbort:
		k.abortLocked(c)
		k.mu.Unlock()
		return false, nil
	}
	failed := (c.txn != nil && c.txn.failed) || c.alosFailed
	c.alosFailed = false
	if !commit || failed {
		k.abortLocked(c)
		k.mu.Unlock()
		if !c.eos {
			// As source.Client: an at-least-once client cannot take back what it produced.
			return false, errors.New("fakekafka: outputs failed; rewinding to the committed offsets")
		}
		return false, nil
	}
	if c.txn != nil {
		k.finishTxnLocked(c.txn, entryCommitted)
		c.txn = nil
	}
	for tp := range c.polled {
		k.committed[tp] = c.pos[tp]
	}
	clear(c.polled)
	k.ends++
	c.lastCommitted = true
	k.broadcast()
	k.mu.Unlock()

	switch k.point(fakePoint{Name: "end-after-commit", Instance: c.inst, Commit: true}) {
	case fakeFail:
		return false, fmt.Errorf("fakekafka: end transaction: %w", errInjected)
	case fakeCrash:
		return false, errCrashed
	}
	return true, nil
}

// Close implements Client. A crashed client's Close does nothing to Kafka: a dead process
// does not close anything; its transaction stays open until a new client fences it.
func (c *fakeClient) Close() {
	k := c.k
	k.mu.Lock()
	if !c.closed {
		c.closed = true
		if !c.dead {
			k.abortLocked(c)
			k.releaseLocked(c)
		}
		k.broadcast()
	}
	k.mu.Unlock()
	c.cbq.close()
}

// fakeChangelog implements Changelog for one incarnation.
type fakeChangelog struct{ in *fakeInstance }

// Bounds implements Changelog. Like source.Changelog, it waits until no transaction is open
// on the partition.
func (f *fakeChangelog) Bounds(ctx context.Context, partition int32) (int64, int64, error) {
	k := f.in.k
	switch k.point(fakePoint{Name: "changelog-bounds", Instance: f.in, Partition: partition}) {
	case fakeContinue:
	case fakeCrash:
		return 0, 0, errCrashed
	default:
		return 0, 0, errInjected
	}
	deadline := time.After(5 * time.Second)
	for {
		k.mu.Lock()
		if f.in.dead {
			k.mu.Unlock()
			return 0, 0, errCrashed
		}
		l := k.logs[topicPartition{k.cfg.Changelog, partition}]
		if l == nil {
			k.mu.Unlock()
			return 0, 0, fmt.Errorf("fakekafka: changelog has no partition %d", partition)
		}
		start, end, lso := l.start, l.end(), l.lso()
		wake := k.wake
		k.mu.Unlock()
		if lso == end {
			return start, lso, nil
		}
		select {
		case <-ctx.Done():
			return 0, 0, ctx.Err()
		case <-deadline:
			return 0, 0, fmt.Errorf("fakekafka: changelog partition %d has a transaction open (LSO %d, end %d)", partition, lso, end)
		case <-wake:
		}
	}
}

// Read implements Changelog: the committed records in [from, end), in chunks.
func (f *fakeChangelog) Read(ctx context.Context, partition int32, from, end int64, fn func([]model.Record) error) error {
	k := f.in.k
	if from >= end {
		return nil
	}
	k.mu.Lock()
	recs := k.recordsLocked(k.cfg.Changelog, partition, from, end)
	k.mu.Unlock()
	for chunk := 0; len(recs) > 0; chunk++ {
		n := min(len(recs), k.cfg.ChangelogChunk)
		switch k.point(fakePoint{Name: "changelog-read", Instance: f.in, Partition: partition, Chunk: chunk, Offset: recs[0].Offset}) {
		case fakeContinue:
		case fakeCrash:
			return errCrashed
		default:
			return errInjected
		}
		k.mu.Lock()
		dead := f.in.dead
		k.mu.Unlock()
		if dead {
			return errCrashed
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		batch := make([]model.Record, n)
		for i, r := range recs[:n] {
			batch[i] = model.Record{
				Key: r.Key, Value: r.Value, Headers: r.Headers, Timestamp: r.Timestamp,
				Position: model.Position{Topic: k.cfg.Changelog, Partition: partition, Offset: r.Offset},
			}
		}
		if err := fn(batch); err != nil {
			return err
		}
		recs = recs[n:]
	}
	return nil
}

// callbackQueue runs produce callbacks in order on its own goroutine, as franz-go does.
type callbackQueue struct {
	delay  time.Duration
	mu     sync.Mutex
	cond   *sync.Cond
	fns    []func()
	busy   bool
	closed bool
	done   chan struct{}
	late   sync.WaitGroup // callbacks left behind by a flush whose context ended
}

func newCallbackQueue(delay time.Duration) *callbackQueue {
	q := &callbackQueue{delay: delay, done: make(chan struct{})}
	q.cond = sync.NewCond(&q.mu)
	go q.run()
	return q
}

func (q *callbackQueue) push(fn func()) {
	q.mu.Lock()
	q.fns = append(q.fns, fn)
	q.cond.Broadcast()
	q.mu.Unlock()
}

func (q *callbackQueue) run() {
	defer close(q.done)
	q.mu.Lock()
	for {
		for len(q.fns) == 0 && !q.closed {
			q.cond.Wait()
		}
		if len(q.fns) == 0 {
			q.mu.Unlock()
			return
		}
		fn := q.fns[0]
		q.fns = q.fns[1:]
		q.busy = true
		q.mu.Unlock()
		if q.delay > 0 {
			time.Sleep(q.delay)
		}
		fn()
		q.mu.Lock()
		q.busy = false
		q.cond.Broadcast()
	}
}

// flush waits until every pushed callback ran, or until ctx ends.
func (q *callbackQueue) flush(ctx context.Context) error {
	stop := context.AfterFunc(ctx, func() {
		q.mu.Lock()
		q.cond.Broadcast()
		q.mu.Unlock()
	})
	defer stop()
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.fns) > 0 || q.busy {
		if err := ctx.Err(); err != nil {
			// The flush gives up; the broker answers the records left later. Their
			// callbacks run on their own goroutine, after the caller has moved on.
			if fns := q.fns; len(fns) > 0 {
				q.fns = nil
				q.late.Go(func() {
					time.Sleep(max(q.delay, time.Millisecond))
					for _, fn := range fns {
						fn()
					}
				})
			}
			return err
		}
		q.cond.Wait()
	}
	return nil
}

// close runs the remaining callbacks and stops the goroutine.
func (q *callbackQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.cond.Broadcast()
	q.mu.Unlock()
	<-q.done
	q.late.Wait()
}
