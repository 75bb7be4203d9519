package verify

import (
	"errors"
	"fmt"
	"time"

	"github.com/kappa-stream/kappa/pipeline"
)

// The window types and aggregate functions the verifier checks; pipelines name them the same
// way (spec windows-wiring.md, section 1).
const (
	WindowTumbling = "tumbling"
	WindowHopping  = "hopping"

	EmitFinal = "final"

	AggCount = "count"
	AggSum   = "sum"
	AggMin   = "min"
	AggMax   = "max"
	AggAvg   = "avg"
	AggFirst = "first"
	AggLast  = "last"
)

// Window is the window operator of the pipeline under test, as its definition writes it
// (the window: operator of spec windows-wiring.md, section 1). The verifier reads it
// through its own type and recomputes its windows with its own simulation, so that nothing of
// the processor's window code is trusted.
//
// Only what the verifier can recompute exactly is accepted: tumbling and hopping windows,
// emit final, and the aggregates count, sum, min, max, avg, first and last. Sliding and
// session windows, emit update, count_distinct and quantile are refused by Config.Validate.
type Window struct {
	// Type is WindowTumbling or WindowHopping.
	Type string
	// Size is the window length, whole milliseconds, more than 0.
	Size time.Duration
	// Advance is the distance between window starts of hopping windows: whole
	// milliseconds, 0 < Advance <= Size. Zero for tumbling windows.
	Advance time.Duration
	// Grace keeps a window open this long after its end, past the watermark. At least 0.
	Grace time.Duration
	// Emit is EmitFinal; empty means EmitFinal.
	Emit string
	// Aggregates are the window's aggregates, in output order. At least one.
	Aggregates []Aggregation
}

// Aggregation is one aggregate of a window.
type Aggregation struct {
	// Func is AggCount, AggSum, AggMin, AggMax, AggAvg, AggFirst or AggLast.
	Func string
	// Field is the numeric input field aggregated; required for every Func but AggCount,
	// which takes none.
	Field string
	// As names the aggregate in the output; empty means the default of Name.
	As string
}

// Name is the aggregate's name in output records: As, or by default "count" for count and
// "<func>_<field>" for the others (sum_amount).
func (a Aggregation) Name() string {
	switch {
	case a.As != "":
		return a.As
	case a.Func == AggCount:
		return AggCount
	}
	return a.Func + "_" + a.Field
}

// WindowOf returns the verifier's description of a pipeline's window operator, so that a
// test checks exactly the window its pipeline file defines. Settings the verifier does not
// check (a session Gap, a quantile's Q) are left out: Config.Validate refuses their window
// types and functions anyway.
func WindowOf(w *pipeline.Window) *Window {
	out := &Window{Type: string(w.Type), Size: w.Size, Advance: w.Advance, Grace: w.Grace, Emit: string(w.Emit)}
	for _, a := range w.Aggregates {
		out.Aggregates = append(out.Aggregates, Aggregation{Func: string(a.Func), Field: a.Field, As: a.As})
	}
	return out
}

// validate reports what the verifier cannot check in w, and settings that are wrong.
func (w *Window) validate(maxOutOfOrderness time.Duration) []error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("verify: Window: "+format, args...))
	}
	ms := func(name string, d time.Duration, zeroOK bool) {
		switch {
		case d < 0 || (d == 0 && !zeroOK):
			bad("%s is %s; want more than 0", name, d)
		case d%time.Millisecond != 0:
			bad("%s is %s; want whole milliseconds", name, d)
		}
	}
	switch w.Type {
	case WindowTumbling:
		ms("Size", w.Size, false)
		if w.Advance != 0 {
			bad("Advance is a setting of hopping windows; remove it or use Type %q", WindowHopping)
		}
	case WindowHopping:
		ms("Size", w.Size, false)
		ms("Advance", w.Advance, false)
		if w.Advance > w.Size {
			bad("Advance %s exceeds Size %s; want 0 < Advance <= Size", w.Advance, w.Size)
		}
	case "sliding", "session":
		bad("Type %q is not checked by the verifier; it recomputes tumbling and hopping windows only", w.Type)
	default:
		bad("Type %q; want %q or %q", w.Type, WindowTumbling, WindowHopping)
	}
	if w.Grace < 0 {
		bad("Grace is %s; want 0 or more", w.Grace)
	} else {
		ms("Grace", w.Grace, true)
	}
	if maxOutOfOrderness < 0 || maxOutOfOrderness%time.Millisecond != 0 {
		errs = append(errs, fmt.Errorf("verify: MaxOutOfOrderness is %s; want 0 or more whole milliseconds", maxOutOfOrderness))
	}
	switch w.Emit {
	case "", EmitFinal:
	case "update":
		bad("Emit %q is not checked by the verifier; it checks emit %q only", w.Emit, EmitFinal)
	default:
		bad("Emit %q; want %q", w.Emit, EmitFinal)
	}
	if len(w.Aggregates) == 0 {
		bad("no Aggregates; want at least one, e.g. {Func: %q}", AggCount)
	}
	names := map[string]int{}
	for i, a := range w.Aggregates {
		switch a.Func {
		case AggCount:
			if a.Field != "" {
				bad("Aggregates[%d]: count takes no Field; remove %q", i, a.Field)
			}
		case AggSum, AggMin, AggMax, AggAvg, AggFirst, AggLast:
			if a.Field == "" {
				bad("Aggregates[%d]: %s needs a Field, e.g. amount", i, a.Func)
			}
		case "count_distinct", "quantile":
			bad("Aggregates[%d]: %s is an estimate the verifier cannot recompute exactly; it checks count, sum, min, max, avg, first and last", i, a.Func)
		default:
			bad("Aggregates[%d]: Func %q; want count, sum, min, max, avg, first or last", i, a.Func)
		}
		if j, ok := names[a.Name()]; ok {
			bad("Aggregates[%d] and [%d] are both named %q; set As to tell them apart", j, i, a.Name())
		}
		names[a.Name()] = i
	}
	return errs
}

// windowSpec is a validated Window in milliseconds, as the reference uses it.
type windowSpec struct {
	size, advance, grace, outOfOrder int64
	aggs                             []Aggregation
}

func newWindowSpec(w *Window, maxOutOfOrderness time.Duration) (*windowSpec, error) {
	if errs := w.validate(maxOutOfOrderness); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s := &windowSpec{
		size: w.Size.Milliseconds(), advance: w.Advance.Milliseconds(), grace: w.Grace.Milliseconds(),
		outOfOrder: maxOutOfOrderness.Milliseconds(), aggs: w.Aggregates,
	}
	if w.Type == WindowTumbling {
		s.advance = s.size // tumbling windows are hopping windows that advance by their size
	}
	return s, nil
}
