package drift

import (
	"cmp"
	"fmt"
	"slices"
)

// Event times and durations are milliseconds since the Unix epoch. They are bounded, as in
// package windows, so that no pane or window arithmetic can overflow an int64.
const (
	// MinTime is the smallest event time a Monitor counts.
	MinTime int64 = -(1 << 62)
	// MaxTime is the largest event time a Monitor counts.
	MaxTime int64 = 1<<62 - 1
	// MaxDuration is the largest Window, Every or OutOfOrderness accepted.
	MaxDuration int64 = 1 << 59
)

// maxPaneRecords bounds the records of one pane that Restore accepts, far above any real
// pane, so that the sums of a window cannot overflow.
const maxPaneRecords = 1 << 40

// Config is what a Monitor computes.
type Config struct {
	// Series are the reference Bins of each series, in the order of Add's values. At least
	// one; each valid (Bins.Validate). NewMonitor copies them.
	Series []*Bins
	// Window is the length of a window in ms: a positive whole multiple of Every.
	Window int64
	// Every is how often, in ms of event time, a window ends: windows end at multiples of
	// Every. More than 0.
	Every int64
	// MinRecords is the fewest records of a series a window needs to give a Result for it;
	// with fewer, the PSI would be mostly sampling noise. At least 1.
	MinRecords int64
	// OutOfOrderness is how far in ms the watermark trails the largest event time seen: a
	// window is evaluated once the watermark reaches its end. At least 0.
	OutOfOrderness int64
}

// Monitor computes the PSI of one or more series over a sliding event-time window, for one
// input partition. The same calls give the same results, whatever happens between them: a
// Monitor rebuilt with Restore from the state of another continues exactly as that one
// would. It is not safe for concurrent use.
type Monitor struct {
	series                              []*Bins
	off                                 []int // series i's bins are flat counts[off[i]:off[i+1]]
	window, every, minRecords, lateness int64

	clock        Clock
	panes        []*pane // ascending start
	free         []*pane // dropped panes, for reuse
	sums         []int64 // scratch of evaluate
	deleted      []int64 // starts of stored panes dropped since ResetChanges
	clockChanged bool
}

// pane counts the records of Every ms of event time, per series and bin.
type pane struct {
	start  int64
	counts []int64 // flat: series i at Monitor.off[i]
	dirty  bool    // changed since ResetChanges
	stored bool    // the caller has it: reported before a ResetChanges, or restored
}

// NewMonitor returns a Monitor of c, before any record.
func NewMonitor(c Config) (*Monitor, error) {
	switch {
	case len(c.Series) == 0:
		return nil, fmt.Errorf("%w: no series to monitor", ErrInvalid)
	case c.Every <= 0 || c.Every > MaxDuration:
		return nil, fmt.Errorf("%w: every must be in [1, %d] ms, got %d", ErrInvalid, MaxDuration, c.Every)
	case c.Window <= 0 || c.Window > MaxDuration || c.Window%c.Every != 0:
		return nil, fmt.Errorf("%w: window %d ms must be a positive whole multiple of every (%d ms), at most %d ms",
			ErrInvalid, c.Window, c.Every, MaxDuration)
	case c.MinRecords < 1:
		return nil, fmt.Errorf("%w: min records must be at least 1, got %d", ErrInvalid, c.MinRecords)
	case c.OutOfOrderness < 0 || c.OutOfOrderness > MaxDuration:
		return nil, fmt.Errorf("%w: out-of-orderness must be in [0, %d] ms, got %d", ErrInvalid, MaxDuration, c.OutOfOrderness)
	}
	m := &Monitor{
		window: c.Window, every: c.Every, minRecords: c.MinRecords, lateness: c.OutOfOrderness,
		off: make([]int, len(c.Series)+1),
	}
	for i, b := range c.Series {
		if b == nil {
			return nil, fmt.Errorf("%w: series %d has no bins", ErrInvalid, i)
		}
		if err := b.Validate(); err != nil {
			return nil, fmt.Errorf("%w: series %d: %w", ErrInvalid, i, err)
		}
		m.series = append(m.series, b.clone())
		m.off[i+1] = m.off[i] + b.Len()
	}
	m.sums = make([]int64, m.off[len(c.Series)])
	return m, nil
}

// clone returns a deep copy of b.
func (b *Bins) clone() *Bins {
	return &Bins{Edges: slices.Clone(b.Edges), Proportions: slices.Clone(b.Proportions), Records: b.Records}
}

// Result is the PSI of one series over one window.
type Result struct {
	// Series is the index of the series in Config.Series.
	Series int
	// Start and End are the window [Start, End); End is a multiple of Every.
	Start, End int64
	// Records is the number of records of the series in the window, missing included.
	Records int64
	// PSI is the population stability index of Counts against the series' reference.
	PSI float64
	// Counts are the records per bin (Bins.Len of them, the missing bin last). The slice is
	// the caller's to keep.
	Counts []int64
}

// Add counts one record with event time t: values[i] is its value of series i (NaN for
// missing), and len(values) must be len(Config.Series), or Add panics. It appends to dst
// the Result of every window that the watermark passed because of this record, in order of
// End then Series, and returns it.
//
// late reports that the record was not counted: its pane is before every window still to
// be evaluated, or t is outside [MinTime, MaxTime]. A late record changes nothing, not even
// the largest event time (its t is below the watermark anyway).
//
// Add does not allocate when dst has room and no pane is created and no window ends.
func (m *Monitor) Add(dst []Result, t int64, values []float64) (_ []Result, late bool) {
	if len(values) != len(m.series) {
		panic(fmt.Sprintf("drift: Add of %d values to a monitor of %d series", len(values), len(m.series)))
	}
	if t < MinTime || t > MaxTime {
		return dst, true
	}
	start := floorTo(t, m.every)
	if !m.clock.Started {
		// The first window to evaluate is the one ending right after the first pane:
		// earlier ones would hold no record.
		m.clock = Clock{MaxEventTime: t, Emitted: start, Started: true}
		m.clockChanged = true
	} else if start < m.firstPane() {
		return dst, true
	}
	p := m.pane(start)
	for i, b := range m.series {
		p.counts[m.off[i]+b.Bin(values[i])]++
	}
	p.dirty = true
	if t > m.clock.MaxEventTime {
		m.clock.MaxEventTime = t
		m.clockChanged = true
	}
	return m.advance(dst), false
}

// firstPane is the start of the first pane of the next window to evaluate: panes before it
// are in no window still to come.
func (m *Monitor) firstPane() int64 { return m.clock.Emitted + m.every - m.window }

// pane returns the pane starting at start, creating it if needed.
func (m *Monitor) pane(start int64) *pane {
	if n := len(m.panes); n > 0 && m.panes[n-1].start == start {
		return m.panes[n-1] // the common case: records in order
	}
	i, found := slices.BinarySearchFunc(m.panes, start, func(p *pane, s int64) int { return cmp.Compare(p.start, s) })
	if found {
		return m.panes[i]
	}
	var p *pane
	if n := len(m.free); n > 0 {
		p = m.free[n-1]
		m.free = m.free[:n-1]
		clear(p.counts)
		p.dirty, p.stored = false, false
	} else {
		p = &pane{counts: make([]int64, len(m.sums))}
	}
	p.start = start
	m.panes = slices.Insert(m.panes, i, p)
	return p
}

// advance evaluates every window that ends at or before the watermark and was not evaluated
// yet, in order of end, and drops the panes that no later window covers.
func (m *Monitor) advance(dst []Result) []Result {
	w := m.clock.MaxEventTime - m.lateness
	for {
		end := m.clock.Emitted + m.every
		if end > w {
			return dst
		}
		if len(m.panes) == 0 || m.panes[0].start+m.every > w {
			// No window up to the watermark holds a record, and a window without records
			// gives nothing: skip them all at once, however many. The panes left all start
			// at or after the new Emitted, so none is dropped.
			m.setEmitted(floorTo(w, m.every))
			return dst
		}
		// The first window holding a record: earlier ones give nothing.
		end = max(end, m.panes[0].start+m.every)
		dst = m.evaluate(dst, end)
		m.setEmitted(end)
		m.drop(m.firstPane())
	}
}

func (m *Monitor) setEmitted(end int64) {
	m.clock.Emitted = end
	m.clockChanged = true
}

// evaluate appends the results of the window ending at end. Every pane kept starts at or
// after end-Window, so the window's panes are those starting before end.
func (m *Monitor) evaluate(dst []Result, end int64) []Result {
	clear(m.sums)
	for _, p := range m.panes {
		if p.start >= end {
			break
		}
		for j, c := range p.counts {
			m.sums[j] += c
		}
	}
	var backing []int64 // one allocation for the Counts of the window's results
	for i, b := range m.series {
		lo, hi := m.off[i], m.off[i+1]
		var n int64
		for _, c := range m.sums[lo:hi] {
			n += c
		}
		if n < m.minRecords {
			continue
		}
		if backing == nil {
			backing = make([]int64, len(m.sums))
		}
		counts := backing[lo:hi:hi]
		copy(counts, m.sums[lo:hi])
		dst = append(dst, Result{
			Series: i, Start: end - m.window, End: end, Records: n,
			PSI: PSI(b.Proportions, counts), Counts: counts,
		})
	}
	return dst
}

// drop removes the panes that start before limit.
func (m *Monitor) drop(limit int64) {
	k := 0
	for k < len(m.panes) && m.panes[k].start < limit {
		p := m.panes[k]
		if p.stored {
			m.deleted = append(m.deleted, p.start)
		}
		m.free = append(m.free, p)
		k++
	}
	if k > 0 {
		n := copy(m.panes, m.panes[k:])
		clear(m.panes[n:])
		m.panes = m.panes[:n]
	}
}

// floorTo rounds t down to a multiple of m (m > 0), also for negative t.
func floorTo(t, m int64) int64 {
	r := t % m
	if r < 0 {
		r += m
	}
	return t - r
}

// Clock is a Monitor's event-time clock, to be kept with its panes.
type Clock struct {
	// MaxEventTime is the largest event time counted.
	MaxEventTime int64
	// Emitted is the End of the last window evaluated (or skipped): the next window to
	// evaluate ends at Emitted+Every. Before the first window, the start of the first pane.
	Emitted int64
	// Started reports that a record was counted; the times are 0 otherwise.
	Started bool
}

// Clock returns the monitor's clock.
func (m *Monitor) Clock() Clock { return m.clock }

// Pane is the counts of the records of Every ms of event time: the unit of a Monitor's state.
type Pane struct {
	// Start is the pane's start, a multiple of Every; the pane is [Start, Start+Every).
	Start int64
	// Counts are the records per series and bin: Counts[series][bin].
	Counts [][]int64
}

// Changes reports what changed since the last ResetChanges (or Restore): the panes changed,
// with their full counts, and the starts of the panes deleted, each in ascending order of
// start, and whether the clock changed. A pane made and dropped in between is in neither
// list: the caller never had it. The slices are the caller's.
//
// A processor writes the changes with its transaction and then calls ResetChanges.
func (m *Monitor) Changes() (changed []Pane, deleted []int64, clockChanged bool) {
	for _, p := range m.panes {
		if p.dirty {
			changed = append(changed, m.export(p))
		}
	}
	if len(m.deleted) > 0 {
		deleted = slices.Clone(m.deleted)
	}
	return changed, deleted, m.clockChanged
}

// ResetChanges records that the caller has stored the changes Changes reports.
func (m *Monitor) ResetChanges() {
	for _, p := range m.panes {
		p.dirty, p.stored = false, true
	}
	m.deleted = m.deleted[:0]
	m.clockChanged = false
}

// export copies p as a Pane.
func (m *Monitor) export(p *pane) Pane {
	counts := slices.Clone(p.counts)
	out := Pane{Start: p.start, Counts: make([][]int64, len(m.series))}
	for i := range m.series {
		out.Counts[i] = counts[m.off[i]:m.off[i+1]:m.off[i+1]]
	}
	return out
}

// Restore sets the clock and panes of a monitor that has counted no record, as a processor
// reloads them from its state; the monitor then continues as the one that saved them would.
// Panes may come in any order. Panes that no window still to be evaluated covers (possible
// when Window was made shorter) are not kept, and Changes reports them as deleted.
//
// It returns an error wrapping ErrCorrupt, and changes nothing, for state this monitor could
// not have written: a clock with times but no record, Emitted not a multiple of Every
// (Every was changed) or after the pane of the largest event time, panes of another shape (series or bins
// changed), duplicate panes, panes after the largest event time, or counts that are
// negative or differ in total between series. Restore panics if the monitor has counted a
// record: that is a bug of the caller.
func (m *Monitor) Restore(c Clock, panes []Pane) error {
	if m.clock.Started {
		panic("drift: Restore on a monitor that has counted records")
	}
	if !c.Started {
		if c != (Clock{}) {
			return fmt.Errorf("%w: clock with times (max event time %d, emitted %d) but no record", ErrCorrupt, c.MaxEventTime, c.Emitted)
		}
		if len(panes) > 0 {
			return fmt.Errorf("%w: %d panes but a clock without a record", ErrCorrupt, len(panes))
		}
		return nil
	}
	switch {
	case c.MaxEventTime < MinTime || c.MaxEventTime > MaxTime:
		return fmt.Errorf("%w: max event time %d outside [%d, %d]", ErrCorrupt, c.MaxEventTime, MinTime, MaxTime)
	case floorTo(c.Emitted, m.every) != c.Emitted:
		return fmt.Errorf("%w: emitted %d is not a multiple of every (%d ms); was the drift definition changed?", ErrCorrupt, c.Emitted, m.every)
	case c.Emitted > floorTo(c.MaxEventTime, m.every) || c.Emitted < floorTo(MinTime, m.every):
		return fmt.Errorf("%w: emitted %d is not in the pane of max event time %d or before", ErrCorrupt, c.Emitted, c.MaxEventTime)
	}
	sorted := slices.SortedFunc(slices.Values(panes), func(a, b Pane) int { return cmp.Compare(a.Start, b.Start) })
	for i, p := range sorted {
		if i > 0 && p.Start == sorted[i-1].Start {
			return fmt.Errorf("%w: two panes start at %d", ErrCorrupt, p.Start)
		}
		if err := m.checkPane(c, p); err != nil {
			return err
		}
	}
	m.clock = c
	first := m.firstPane()
	for _, p := range sorted {
		if p.Start < first {
			m.deleted = append(m.deleted, p.Start)
			continue
		}
		q := &pane{start: p.Start, counts: make([]int64, 0, len(m.sums)), stored: true}
		for _, counts := range p.Counts {
			q.counts = append(q.counts, counts...)
		}
		m.panes = append(m.panes, q)
	}
	return nil
}

// checkPane reports a pane that this monitor, with clock c, could not have written.
func (m *Monitor) checkPane(c Clock, p Pane) error {
	switch {
	case floorTo(p.Start, m.every) != p.Start:
		return fmt.Errorf("%w: pane start %d is not a multiple of every (%d ms); was the drift definition changed?", ErrCorrupt, p.Start, m.every)
	case p.Start > c.MaxEventTime:
		return fmt.Errorf("%w: pane %d starts after the max event time %d", ErrCorrupt, p.Start, c.MaxEventTime)
	case len(p.Counts) != len(m.series):
		return fmt.Errorf("%w: pane %d has %d series, the monitor %d; was the drift definition changed?", ErrCorrupt, p.Start, len(p.Counts), len(m.series))
	}
	var total int64
	for i, counts := range p.Counts {
		if len(counts) != m.series[i].Len() {
			return fmt.Errorf("%w: pane %d series %d has %d bins, the reference %d; was the reference changed?",
				ErrCorrupt, p.Start, i, len(counts), m.series[i].Len())
		}
		var n int64
		for _, x := range counts {
			if x < 0 || x > maxPaneRecords {
				return fmt.Errorf("%w: pane %d series %d: count %d out of range", ErrCorrupt, p.Start, i, x)
			}
			n += x
		}
		switch {
		case n == 0 || n > maxPaneRecords:
			return fmt.Errorf("%w: pane %d series %d: %d records", ErrCorrupt, p.Start, i, n)
		case i > 0 && n != total:
			return fmt.Errorf("%w: pane %d: series %d has %d records, series 0 %d", ErrCorrupt, p.Start, i, n, total)
		}
		total = n
	}
	return nil
}
