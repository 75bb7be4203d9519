package eostest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"

	"github.com/kappa-stream/kappa/internal/gen"
)

// TestReplayDeterminism is T10: a pipeline runs live from offset 0 with three instances that
// are killed with kill -9 (inside open transactions) and stopped with SIGTERM as in T1; once
// the group has committed all input, `kappa replay` reprocesses the same offset range into
// <output>.v2, and `kappa replay --verify` compares it with the live output topic record by
// record. The verify line must show identical records and nothing different, missing or
// extra.
//
// Two pipelines: hopping windows followed by the fraud example's score operator and model
// (the windows are features; one score per record, matched by source offset), and hopping
// windows written as results (matched by window key; the windows the end of the range
// closes are the flushed ones).
func TestReplayDeterminism(t *testing.T) {
	model, err := filepath.Abs(filepath.Join("..", "..", "examples", "fraud", "model.json"))
	if err != nil {
		t.Fatal(err)
	}
	pipelines := []struct {
		name      string
		operators string
		flushed   bool // the output has window results, so the end of the range flushes some
	}{{
		name: "windows-score",
		operators: fmt.Sprintf(`  - window:
      type: hopping
      size: 10s
      advance: 2s
      grace: 1s
      aggregates:
        - {fn: count, as: txn_count}
        - {fn: sum, field: amount, as: amount_sum}
        - {fn: max, field: amount, as: amount_max}
        - {fn: count_distinct, field: merchant, as: merchants}
  - score:
      model: {file: %q, name: fraud}
      features: [amount, window.txn_count, window.amount_sum, window.amount_max, window.merchants]
`, model),
	}, {
		name: "windows",
		operators: `  - window:
      type: hopping
      size: 10s
      advance: 2s
      grace: 1s
      aggregates:
        - {fn: count}
        - {fn: sum, field: amount}
        - {fn: quantile, field: amount, q: 0.9}
        - {fn: count_distinct, field: merchant}
`,
		flushed: true,
	}}
	for _, pl := range pipelines {
		t.Run(pl.name, func(t *testing.T) {
			s := sizes(t)
			bin := kappaBinary(t)
			cards := gen.Cards{Seed: s.seed, Partitions: 5, Cards: 500, BadEvery: 400, LateEvery: 500, LateBy: time.Minute}
			su := newPipelineSetup(t, s, cards, pl.operators, 2*time.Second)
			brokers := strings.Join(su.broker.Addrs, ",")

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
			defer cancel()
			// The live run, with faults.
			su.liveWithFaults(ctx, t, s, bin)

			// The replay of the committed range, then the comparison.
			from, to := su.committedRange(ctx, t)
			replay := []string{"replay", "-f", su.file, "--brokers", brokers, "--from-offsets", from, "--to-offsets", to}
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				_, _ = su.broker.Admin().DeleteTopics(ctx, su.output+".v2", su.name+"-dlq.v2", su.name+"-late.v2")
			})
			out, err := runKappa(ctx, t, bin, append(replay, "--output-version", "2")...)
			if err != nil {
				t.Fatalf("kappa replay: %v\n%s", err, out)
			}
			t.Logf("kappa replay --from-offsets %s --to-offsets %s --output-version 2: %s", from, to, lastLines(out, 3))
			out, err = runKappa(ctx, t, bin, append(replay, "--output-version", "2", "--verify", su.output)...)
			line := verifyLine.FindString(out)
			if line == "" {
				t.Fatalf("kappa replay --verify printed no verify line (%v):\n%s", err, out)
			}
			t.Log(line)
			c := parseVerify(t, line)
			if c["different"] != 0 || c["missing"] != 0 || c["extra"] != 0 || c["identical"] == 0 {
				t.Fatalf("replay differs from live: %s\n%s", line, out)
			}
			if pl.flushed && c["flushed"] == 0 {
				t.Errorf("flushed=0: the end of the range closed no window; want the windows still open flushed")
			}
			if err != nil {
				t.Fatalf("kappa replay --verify exited with %v although %s:\n%s", err, line, out)
			}
		})
	}
}

// liveWithFaults runs the pipeline live with three instances under kill -9s and SIGTERMs
// while s.records are produced, waits until the group has committed all of them, and stops
// the instances.
func (su *setup) liveWithFaults(ctx context.Context, t *testing.T, s size, bin string) {
	t.Helper()
	f := newFleet(t, bin, su.file, strings.Join(su.broker.Addrs, ","), "--session-timeout", "10s", "--transaction-timeout", "20s")
	ids := []string{"p0", "p1", "p2"}
	for _, id := range ids {
		f.start(id)
	}
	wait := su.produce(t, s)
	injectFaults(f, s, ids)
	generated := wait()
	if err := su.waitCaughtUp(ctx, 3*time.Minute); err != nil {
		t.Fatalf("%v\n%s", err, f.logs(15))
	}
	close(f.quiet)
	f.stopAll()
	f.check()
	faults, _ := f.finish()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("live: generated=%d faults=%v", generated, faults)
}

// verifyLine is the summary line of `kappa replay --verify`.
var verifyLine = regexp.MustCompile(`(?m)^verify: identical=\d+ different=\d+ missing=\d+ extra=\d+ flushed=\d+$`)

// parseVerify returns the counters of a verify line by name.
func parseVerify(t *testing.T, line string) map[string]int64 {
	t.Helper()
	c := map[string]int64{}
	for _, f := range strings.Fields(strings.TrimPrefix(line, "verify: ")) {
		name, v, _ := strings.Cut(f, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			t.Fatalf("verify line %q: %s: %v", line, f, err)
		}
		c[name] = n
	}
	return c
}

// committedRange returns the group's committed input offsets as the --from-offsets and
// --to-offsets of a replay of everything the live run processed: p:0,... and p:end,...
func (su *setup) committedRange(ctx context.Context, t *testing.T) (from, to string) {
	t.Helper()
	offs, err := su.broker.Admin().FetchOffsets(kadm.RequireStable(ctx), su.name)
	if err == nil {
		err = offs.Error()
	}
	if err != nil {
		t.Fatalf("committed offsets of group %s: %v", su.name, err)
	}
	var ps []int32
	ends := map[int32]int64{}
	for p, o := range offs[su.input] {
		ps = append(ps, p)
		ends[p] = o.At
	}
	if int32(len(ps)) != su.partitions {
		t.Fatalf("group %s committed %d partitions of %s, want %d", su.name, len(ps), su.input, su.partitions)
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i] < ps[j] })
	var fb, tb strings.Builder
	for i, p := range ps {
		if i > 0 {
			fb.WriteByte(',')
			tb.WriteByte(',')
		}
		fmt.Fprintf(&fb, "%d:0", p)
		fmt.Fprintf(&tb, "%d:%d", p, ends[p])
	}
	return fb.String(), tb.String()
}

// runKappa runs the kappa binary to completion and returns its combined output. A binary
// without the command fails the test with what to do.
func runKappa(ctx context.Context, t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(ctx, bin, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if strings.Contains(out.String(), fmt.Sprintf("unknown command %q", args[0])) {
		t.Fatalf("kappa has no %q command in this build: merge the branch that adds it", args[0])
	}
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run kappa %s: %v", args[0], err)
	}
	return out.String(), err
}

// lastLines returns the last n lines of s.
func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
