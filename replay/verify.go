package replay

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// VerifyConfig says what Verify compares: the output a replay wrote (a topic or a JSONL file)
// with the live output topic, over the input range the replay read.
type VerifyConfig struct {
	// Brokers are the seed brokers, host:port. Required.
	Brokers []string
	// ClientOpts are added to the clients Verify creates (TLS, SASL, ...).
	ClientOpts []kgo.Opt
	// Live is the live pipeline's output topic. Required.
	Live string
	// Replay is the topic the replay wrote, such as <Live>.v2. Exactly one of Replay and
	// ReplayFile is required.
	Replay string
	// ReplayFile is the JSONL file the replay wrote (--output out.jsonl): one object per line
	// with topic, partition, key, value and headers, a key or value as a string when it is
	// valid UTF-8, else base64 in key_base64 or value_base64, absent when there is none. Only
	// lines whose topic is Live or a version of it (<Live>.vN) are compared; the rest
	// (alerts, late and dead-letter records) are ignored.
	ReplayFile string
	// From and To are the replayed input range, by input topic and partition: offsets
	// [From[t][p], To[t][p]) (a replay plan's From and End). To is required; a partition
	// absent from From starts at offset 0. Live outputs are counted as extra only inside this
	// range (see Verify).
	From, To map[string]map[int32]int64
	// MinWindowEnd is the replay's warm-up bound (epoch ms): it writes no window that ends
	// before it. Zero: no bound for a partition replayed from offset 0, else the earliest
	// window end in the replay's output of that partition.
	MinWindowEnd int64
	// Idle ends the reading of a partition that returns nothing for this long although its
	// last stable offset is not reached yet: its remaining records were aborted (their
	// marker lies beyond the last stable offset). Default 5s.
	Idle time.Duration
	// Examples is how many differences of each kind (different, missing, extra) the result
	// keeps to show. Default 5.
	Examples int
}

// VerifyCounts are the outcomes of a comparison.
type VerifyCounts struct {
	// Identical records have the same identity in both outputs and the same key and value
	// bytes; Different ones the same identity and other bytes.
	Identical, Different int64
	// Missing records are in the replay but not in the live output; Extra records are in the
	// live output, inside the replayed range, but not in the replay.
	Missing, Extra int64
	// Flushed are the replay's end-of-range window results (watermark math.MaxInt64): the
	// live run has not closed those windows, so they are not compared.
	Flushed int64
}

// VerifyDifference is one record that is not identical, with both sides' key and value (nil
// for the side that has none).
type VerifyDifference struct {
	Kind      string // "different", "missing" or "extra"
	Partition int32
	// Identity is what matched the two records: "source t/p/o", "window <key>" or "record".
	Identity               string
	LiveKey, LiveValue     []byte
	ReplayKey, ReplayValue []byte
	// LiveOffset and ReplayOffset are the records' offsets (for a file, its line number);
	// -1 for the side that has no record.
	LiveOffset, ReplayOffset int64
}

// VerifyResult is what Verify found, in total and per output partition.
type VerifyResult struct {
	VerifyCounts
	Partitions map[int32]VerifyCounts
	// Examples are the first differences of each kind, in partition and offset order.
	Examples []VerifyDifference
}

// OK reports whether the replay matched: identical records and nothing else, apart from
// flushed ones.
func (r *VerifyResult) OK() bool {
	return r.Identical > 0 && r.Different == 0 && r.Missing == 0 && r.Extra == 0
}

// String is the summary line:
//
//	verify: identical=N different=N missing=N extra=N flushed=N
func (r *VerifyResult) String() string {
	return fmt.Sprintf("verify: identical=%d different=%d missing=%d extra=%d flushed=%d",
		r.Identical, r.Different, r.Missing, r.Extra, r.Flushed)
}

// Print writes the examples, then the summary line, to w.
func (r *VerifyResult) Print(w io.Writer) error {
	var b strings.Builder
	for _, d := range r.Examples {
		b.WriteString(d.String())
		b.WriteByte('\n')
	}
	b.WriteString(r.String())
	b.WriteByte('\n')
	_, err := io.WriteString(w, b.String())
	return err
}

// String shows the difference on three lines: what, then the live record, then the replay's.
func (d *VerifyDifference) String() string {
	side := func(off int64, k, v []byte) string {
		if off < 0 {
			return "(none)"
		}
		return fmt.Sprintf("offset %d key=%s value=%s", off, quote(k), quote(v))
	}
	return fmt.Sprintf("verify: %s: partition %d, %s\n  live:   %s\n  replay: %s",
		d.Kind, d.Partition, d.Identity,
		side(d.LiveOffset, d.LiveKey, d.LiveValue),
		side(d.ReplayOffset, d.ReplayKey, d.ReplayValue))
}

// quote shows b as text, cut at 400 bytes; nil is null.
func quote(b []byte) string {
	if b == nil {
		return "null"
	}
	const limit = 400
	if len(b) > limit {
		return strconv.Quote(string(b[:limit])) + "..."
	}
	return strconv.Quote(string(b))
}

// Validate reports what is missing or inconsistent in c.
func (c *VerifyConfig) Validate() error {
	var errs []error
	if len(c.Brokers) == 0 && c.ReplayFile == "" {
		errs = append(errs, errors.New("no brokers"))
	}
	if len(c.Brokers) == 0 && c.ReplayFile != "" {
		errs = append(errs, errors.New("no brokers to read the live topic from"))
	}
	if c.Live == "" {
		errs = append(errs, errors.New("no live topic"))
	}
	if (c.Replay == "") == (c.ReplayFile == "") {
		errs = append(errs, errors.New("exactly one of Replay (a topic) and ReplayFile must be set"))
	}
	if c.Replay != "" && c.Replay == c.Live {
		errs = append(errs, fmt.Errorf("the replay topic is the live topic %q", c.Live))
	}
	if len(c.To) == 0 {
		errs = append(errs, errors.New("no input range: To needs the end offset of every replayed partition"))
	}
	for t, ps := range c.To {
		for p, to := range ps {
			if from := c.From[t][p]; from < 0 || to < from {
				errs = append(errs, fmt.Errorf("%s/%d: range [%d, %d) is not a range of offsets", t, p, from, to))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("replay: verify config: %w", err)
	}
	return nil
}

// Verify compares, per output partition, the output a replay wrote with the live output
// topic, read read_committed from its log start to its last stable offset. Run it once the
// live pipeline has committed input beyond the replayed range.
//
// Records are matched by identity, and the n-th record of an identity in a partition with
// the n-th of the same identity on the other side:
//
//   - a record whose value has a "source" object (score and aggregate outputs) by its
//     source topic, partition and offset;
//   - a window result (its value has a "window" object, or it is a tombstone under a window
//     key) by its Kafka key, {"key":...,"start":...,"end":...};
//   - anything else by its key and value bytes.
//
// A matched pair is identical when key and value bytes are equal, else different (headers
// are not compared). A replay record without a live match is missing. A live record without
// a replay match is extra when it lies inside the replayed range:
//
//   - a sourced record: its source offset is within [From, To) of its source topic and
//     partition;
//   - a final window result: its watermark is at most the replay's last watermark W of the
//     partition (the largest watermark among the replay's window results there, flushed
//     ones aside), and its window ends at or after MinWindowEnd (see VerifyConfig). A
//     watermark only rises, and a window closes when the watermark passes its end, so the
//     live results with watermark <= W are exactly the windows the live run closed while
//     reading the range: the ones the replay must have. An update (emit mode update) is
//     inside when its watermark is below W;
//   - a session tombstone or any other record: never (nothing ties it to the range).
//
// The replay's end-of-range window results (watermark math.MaxInt64) are counted as flushed
// and not compared: the live run closes those windows only when later input arrives.
func Verify(ctx context.Context, cfg VerifyConfig) (VerifyResult, error) {
	if err := cfg.Validate(); err != nil {
		return VerifyResult{}, err
	}
	if cfg.Idle <= 0 {
		cfg.Idle = 5 * time.Second
	}
	if cfg.Examples <= 0 {
		cfg.Examples = 5
	}
	v := &verifier{cfg: &cfg}
	live, err := v.readTopic(ctx, cfg.Live)
	if err != nil {
		return VerifyResult{}, err
	}
	var rep map[int32][]verifyRecord
	if cfg.ReplayFile != "" {
		rep, err = v.readFile(cfg.ReplayFile)
	} else {
		rep, err = v.readTopic(ctx, cfg.Replay)
	}
	if err != nil {
		return VerifyResult{}, err
	}
	return v.compare(live, rep), nil
}

// verifier holds one Verify call's configuration; its methods do the work.
type verifier struct {
	cfg *VerifyConfig
}

// verifyRecord is one output record, with its place in its topic (or file).
type verifyRecord struct {
	key, value []byte
	offset     int64
}

// readTopic reads every partition of topic read_committed, from its log start offset to its
// last stable offset.
func (v *verifier) readTopic(ctx context.Context, topic string) (map[int32][]verifyRecord, error) {
	opts := append([]kgo.Opt{kgo.SeedBrokers(v.cfg.Brokers...)}, v.cfg.ClientOpts...)
	admCl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("replay: verify: client: %w", err)
	}
	adm := kadm.NewClient(admCl)
	starts, err := v.listOffsets(ctx, topic, "log start", adm.ListStartOffsets)
	if err == nil {
		var ends map[int32]int64
		ends, err = v.listOffsets(ctx, topic, "last stable", adm.ListCommittedOffsets)
		if err == nil {
			admCl.Close()
			return v.readRange(ctx, topic, starts, ends)
		}
	}
	admCl.Close()
	return nil, err
}

// listOffsets lists one kind of offset of every partition of topic.
func (v *verifier) listOffsets(ctx context.Context, topic, what string,
	list func(context.Context, ...string) (kadm.ListedOffsets, error),
) (map[int32]int64, error) {
	l, err := list(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("replay: verify: list %s offsets of %s: %w", what, topic, err)
	}
	out := map[int32]int64{}
	for p, o := range l[topic] {
		if errors.Is(o.Err, kerr.UnknownTopicOrPartition) {
			return nil, fmt.Errorf("replay: verify: topic %s does not exist: check the name (the replay writes <topic>.v<N>)", topic)
		}
		if o.Err != nil {
			return nil, fmt.Errorf("replay: verify: list %s offsets of %s/%d: %w", what, topic, p, o.Err)
		}
		out[p] = o.Offset
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("replay: verify: topic %s does not exist: check the name (the replay writes <topic>.v<N>)", topic)
	}
	return out, nil
}

// readRange reads offsets [starts[p], ends[p]) of topic read_committed. A partition is done
// at its first record or transaction marker at or past ends[p]-1, or when nothing has
// arrived for Idle (its tail was aborted and the marker lies beyond the last stable offset).
func (v *verifier) readRange(ctx context.Context, topic string, starts, ends map[int32]int64) (map[int32][]verifyRecord, error) {
	out := map[int32][]verifyRecord{}
	at := map[int32]kgo.Offset{}
	for p, end := range ends {
		out[p] = nil
		if starts[p] < end {
			at[p] = kgo.NewOffset().At(starts[p])
		}
	}
	if len(at) == 0 {
		return out, nil
	}
	opts := append([]kgo.Opt{kgo.SeedBrokers(v.cfg.Brokers...)}, v.cfg.ClientOpts...)
	opts = append(opts,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: at}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.KeepControlRecords(),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("replay: verify: reader client: %w", err)
	}
	defer cl.Close()
	left := len(at)
	done := map[int32]bool{}
	for left > 0 {
		pctx, cancel := context.WithTimeout(ctx, v.cfg.Idle)
		fs := cl.PollFetches(pctx)
		idle := pctx.Err() != nil && fs.NumRecords() == 0
		cancel()
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("replay: verify: reading %s: %w", topic, err)
		}
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if ferr == nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) && !kerr.IsRetriable(err) {
				ferr = fmt.Errorf("replay: verify: reading %s/%d: %w", t, p, err)
			}
		})
		if ferr != nil {
			return nil, ferr
		}
		fs.EachRecord(func(r *kgo.Record) {
			p := r.Partition
			if done[p] {
				return
			}
			if r.Offset < ends[p] && !r.Attrs.IsControl() {
				out[p] = append(out[p], verifyRecord{key: r.Key, value: r.Value, offset: r.Offset})
			}
			if r.Offset >= ends[p]-1 {
				done[p] = true
				left--
				cl.PauseFetchPartitions(map[string][]int32{topic: {p}})
			}
		})
		if idle {
			break // the rest of every partition left was aborted
		}
	}
	return out, nil
}

// readFile reads the replay's JSONL output: the records of the live topic or a version of
// it, per partition in line order (offset is the line number).
func (v *verifier) readFile(path string) (map[int32][]verifyRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("replay: verify: %w", err)
	}
	defer f.Close()
	out := map[int32][]verifyRecord{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64<<10), 64<<20)
	var line int64
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		var l struct {
			Topic       string  `json:"topic"`
			Partition   *int32  `json:"partition"`
			Key         *string `json:"key"`
			KeyBase64   []byte  `json:"key_base64"`
			Value       *string `json:"value"`
			ValueBase64 []byte  `json:"value_base64"`
		}
		if err := json.Unmarshal(raw, &l); err != nil {
			return nil, fmt.Errorf("replay: verify: %s:%d: not a JSON object with topic, partition, key and value: %w", path, line, err)
		}
		if l.Partition == nil {
			return nil, fmt.Errorf("replay: verify: %s:%d: no partition", path, line)
		}
		if !v.isLiveVersion(l.Topic) {
			continue
		}
		key, value := l.KeyBase64, l.ValueBase64
		if l.Key != nil {
			key = []byte(*l.Key)
		}
		if l.Value != nil {
			value = []byte(*l.Value)
		}
		out[*l.Partition] = append(out[*l.Partition], verifyRecord{key: key, value: value, offset: line})
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("replay: verify: read %s: %w", path, err)
	}
	return out, nil
}

// isLiveVersion reports whether a file record's topic is the live topic or <live>.vN.
func (v *verifier) isLiveVersion(topic string) bool {
	if topic == v.cfg.Live {
		return true
	}
	n, ok := strings.CutPrefix(topic, v.cfg.Live+".v")
	if !ok || n == "" {
		return false
	}
	_, err := strconv.ParseUint(n, 10, 32)
	return err == nil
}

// Kinds of output record, by what identifies them.
const (
	kindOther  = iota // by key and value bytes
	kindSource        // by the source position in the value
	kindWindow        // by the window key
)

// verifyIdentity is what Verify knows of one output record.
type verifyIdentity struct {
	kind     int
	id       string // the identity, without the occurrence number
	show     string // the identity for people
	srcTopic string // kindSource: the source topic, partition and offset
	srcPart  int32
	srcOff   int64
	end      int64 // kindWindow: the window's end
	wm       int64 // kindWindow: the watermark; set when hasWM
	hasWM    bool
	update   bool // kindWindow: an update, not a final result
	flushed  bool // kindWindow: written at the end of a replay's range
}

// identify classifies a record by its key and value.
func identify(key, value []byte) verifyIdentity {
	var v struct {
		Source *struct {
			Topic     string `json:"topic"`
			Partition int32  `json:"partition"`
			Offset    int64  `json:"offset"`
		} `json:"source"`
		Window *struct {
			End int64 `json:"end"`
		} `json:"window"`
		Emit      string `json:"emit"`
		Watermark *int64 `json:"watermark"`
	}
	if len(value) > 0 && value[0] == '{' && json.Unmarshal(value, &v) == nil {
		switch {
		case v.Source != nil:
			s := v.Source
			return verifyIdentity{
				kind: kindSource, id: fmt.Sprintf("s\x00%s\x00%d\x00%d", s.Topic, s.Partition, s.Offset),
				show:     fmt.Sprintf("source %s/%d/%d", s.Topic, s.Partition, s.Offset),
				srcTopic: s.Topic, srcPart: s.Partition, srcOff: s.Offset,
			}
		case v.Window != nil:
			id := verifyIdentity{kind: kindWindow, id: "w\x00" + string(key), show: "window " + string(key), end: v.Window.End, update: v.Emit == "update"}
			if v.Watermark != nil {
				id.wm, id.hasWM = *v.Watermark, true
				id.flushed = *v.Watermark == math.MaxInt64
			}
			return id
		}
	}
	if value == nil {
		var k struct {
			Key   *json.RawMessage `json:"key"`
			Start *int64           `json:"start"`
			End   *int64           `json:"end"`
		}
		if len(key) > 0 && key[0] == '{' && json.Unmarshal(key, &k) == nil && k.Key != nil && k.Start != nil && k.End != nil {
			return verifyIdentity{kind: kindWindow, id: "w\x00" + string(key), show: "window tombstone " + string(key), end: *k.End}
		}
	}
	return verifyIdentity{kind: kindOther, id: fmt.Sprintf("o\x00%d\x00%s\x00%s", len(key), key, value), show: "record"}
}

// verifyEntry is an identified record of one side.
type verifyEntry struct {
	rec     verifyRecord
	id      verifyIdentity
	matched bool
}

// compare matches the two sides partition by partition.
func (v *verifier) compare(live, rep map[int32][]verifyRecord) VerifyResult {
	res := VerifyResult{Partitions: map[int32]VerifyCounts{}}
	parts := map[int32]bool{}
	for p := range rep {
		parts[p] = true
	}
	for _, ps := range v.cfg.To {
		for p := range ps {
			parts[p] = true
		}
	}
	order := make([]int32, 0, len(parts))
	for p := range parts {
		order = append(order, p)
	}
	sort.Slice(order, func(i, j int) bool { return order[i] < order[j] })
	shown := map[string]int{}
	show := func(d VerifyDifference) {
		if shown[d.Kind] < v.cfg.Examples {
			shown[d.Kind]++
			res.Examples = append(res.Examples, d)
		}
	}
	for _, p := range order {
		c := v.comparePartition(p, live[p], rep[p], show)
		res.Partitions[p] = c
		res.Identical += c.Identical
		res.Different += c.Different
		res.Missing += c.Missing
		res.Extra += c.Extra
		res.Flushed += c.Flushed
	}
	sort.SliceStable(res.Examples, func(i, j int) bool {
		return kindOrder(res.Examples[i].Kind) < kindOrder(res.Examples[j].Kind)
	})
	return res
}

func kindOrder(k string) int {
	return map[string]int{"different": 0, "missing": 1, "extra": 2}[k]
}

// comparePartition matches one output partition's records.
func (v *verifier) comparePartition(p int32, live, rep []verifyRecord, show func(VerifyDifference)) VerifyCounts {
	var c VerifyCounts
	// The live side, by identity and occurrence.
	liveBy := make(map[string]*verifyEntry, len(live))
	liveAll := make([]*verifyEntry, 0, len(live))
	seen := map[string]int{}
	for _, r := range live {
		e := &verifyEntry{rec: r, id: identify(r.key, r.value)}
		if e.id.flushed {
			continue // a live run never writes these; nothing to compare them with
		}
		n := seen[e.id.id]
		seen[e.id.id] = n + 1
		liveBy[e.id.id+"\x00#"+strconv.Itoa(n)] = e
		liveAll = append(liveAll, e)
	}
	// The replay side: match, and find its last watermark and earliest window end.
	var (
		lastWM  = int64(math.MinInt64)
		minEnd  = int64(math.MaxInt64)
		anyWM   bool
		repSeen = map[string]int{}
	)
	for _, r := range rep {
		id := identify(r.key, r.value)
		if id.kind == kindWindow {
			minEnd = min(minEnd, id.end)
		}
		if id.flushed {
			c.Flushed++
			continue
		}
		if id.kind == kindWindow && id.hasWM {
			lastWM, anyWM = max(lastWM, id.wm), true
		}
		n := repSeen[id.id]
		repSeen[id.id] = n + 1
		e, ok := liveBy[id.id+"\x00#"+strconv.Itoa(n)]
		d := VerifyDifference{Partition: p, Identity: id.show, ReplayKey: r.key, ReplayValue: r.value, ReplayOffset: r.offset}
		switch {
		case !ok:
			c.Missing++
			d.Kind, d.LiveOffset = "missing", -1
			show(d)
		default:
			e.matched = true
			if bytes.Equal(e.rec.key, r.key) && bytes.Equal(e.rec.value, r.value) {
				c.Identical++
				continue
			}
			c.Different++
			d.Kind = "different"
			d.LiveKey, d.LiveValue, d.LiveOffset = e.rec.key, e.rec.value, e.rec.offset
			show(d)
		}
	}
	lowEnd := int64(math.MinInt64)
	switch {
	case v.cfg.MinWindowEnd != 0:
		lowEnd = v.cfg.MinWindowEnd
	case v.fromLater(p):
		lowEnd = minEnd
	}
	for _, e := range liveAll {
		if e.matched || !v.inRange(e.id, anyWM, lastWM, lowEnd) {
			continue
		}
		c.Extra++
		show(VerifyDifference{
			Kind: "extra", Partition: p, Identity: e.id.show,
			LiveKey: e.rec.key, LiveValue: e.rec.value, LiveOffset: e.rec.offset, ReplayOffset: -1,
		})
	}
	return c
}

// inRange reports whether an unmatched live record lies inside the replayed range (see
// Verify).
func (v *verifier) inRange(id verifyIdentity, anyWM bool, lastWM, lowEnd int64) bool {
	switch id.kind {
	case kindSource:
		to, ok := v.cfg.To[id.srcTopic][id.srcPart]
		return ok && id.srcOff >= v.cfg.From[id.srcTopic][id.srcPart] && id.srcOff < to
	case kindWindow:
		if !anyWM || !id.hasWM || id.end < lowEnd {
			return false
		}
		if id.update {
			return id.wm < lastWM
		}
		return id.wm <= lastWM
	default:
		return false
	}
}

// fromLater reports whether the replay of partition p of some input topic starts after offset
// 0.
func (v *verifier) fromLater(p int32) bool {
	for _, ps := range v.cfg.From {
		if ps[p] > 0 {
			return true
		}
	}
	return false
}
