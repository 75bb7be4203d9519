package replay

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"
)

// IsTerminal reports whether w is a terminal (a character device), where progress is a bar
// rewritten in place rather than a line every interval.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress reports how far a replay is: on a terminal a bar line rewritten with \r, else a
// plain line every interval.
type progress struct {
	w        io.Writer
	terminal bool
	interval time.Duration
	total    int64        // offsets to read
	pos      func() int64 // offsets read so far
	records  func() int64 // records processed so far
	start    time.Time
}

// run reports until ctx ends, then writes the final state (and ends the bar's line).
func (p *progress) run(ctx context.Context) {
	every := p.interval
	if p.terminal {
		every = 250 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			p.report(true)
			return
		case <-t.C:
			p.report(false)
		}
	}
}

func (p *progress) report(final bool) {
	pos, recs := p.pos(), p.records()
	elapsed := time.Since(p.start)
	pct := 100.0
	if p.total > 0 {
		pct = 100 * float64(pos) / float64(p.total)
	}
	rate := 0.0
	if s := elapsed.Seconds(); s > 0 {
		rate = float64(recs) / s
	}
	eta := "?"
	if pos > 0 && p.total >= pos {
		left := time.Duration(float64(elapsed) * float64(p.total-pos) / float64(pos))
		eta = left.Round(time.Second).String()
	}
	if !p.terminal {
		fmt.Fprintf(p.w, "replay: %.1f%% (%d/%d offsets) records=%d records_per_s=%.0f eta=%s\n", pct, pos, p.total, recs, rate, eta)
		return
	}
	const width = 30
	filled := min(int(pct/100*width), width)
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = ' '
		if i < filled {
			bar[i] = '='
		}
	}
	fmt.Fprintf(p.w, "\rreplay [%s] %5.1f%% %d/%d offsets %.0f records/s ETA %-8s", bar, pct, pos, p.total, rate, eta)
	if final {
		fmt.Fprintln(p.w)
	}
}
