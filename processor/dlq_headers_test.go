package processor

import (
	"math/rand/v2"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"

	"github.com/kappa-stream/kappa/model"
)

// Regression: a dead letter once shared the input record's header value buffers, which the
// source may reuse once a record is processed (model.Record). Dead letters copy them.

// TestDeadLetterHeadersDoNotAliasInput: changing the input record's header bytes after
// deadLetter returned must not change the dead letter.
func TestDeadLetterHeadersDoNotAliasInput(t *testing.T) {
	def := testDef(t, "alias", true, "in")
	rec := &model.Record{
		Key:       []byte("k"),
		Value:     []byte("not json"),
		Headers:   []model.Header{{Key: "trace", Value: []byte("abc")}},
		Timestamp: time.UnixMilli(1),
		Position:  model.Position{Topic: "in", Partition: 0, Offset: 7},
	}
	out := deadLetter(def, rec, &DecodeError{Reason: ReasonDecode, Msg: "bad"})
	// The source reuses its buffers for the next fetch.
	copy(rec.Key, "X")
	copy(rec.Value, "XXXXXXXX")
	copy(rec.Headers[0].Value, "XXX")
	if string(out.Key) != "k" || string(out.Value) != "not json" {
		t.Fatalf("dead letter key/value changed with the input's buffers: %q %q", out.Key, out.Value)
	}
	if got, _ := headerValue(out.Headers, "trace"); got != "abc" {
		t.Fatalf("dead letter header trace: got %q after the source reused its buffers, want %q (the header value aliases the input record)", got, "abc")
	}
}

// TestDeadLetterHeadersWithReusedBuffers runs dead letters end to end with a source that
// reuses its buffers at every Poll.
func TestDeadLetterHeadersWithReusedBuffers(t *testing.T) {
	def := testDef(t, "reuse", true, "in")
	k := fakeFor(def, 2, fakeConfig{MaxPerPoll: 2, MaxPerTxn: 8, ReuseBuffers: true})
	w := newWorkload(def)
	w.add(k, rand.New(rand.NewPCG(21, 22)), 120, 30)
	store := openStore(t, vfs.NewMem())
	defer store.Close()
	r := start(t, def, store, k.instance("pod-0", true))
	waitConsumed(t, k, r)
	if err := r.stop(t); err != nil {
		t.Fatalf("Run: %v", err)
	}
	checkState(t, store, checkOutputs(t, k, w))
}
