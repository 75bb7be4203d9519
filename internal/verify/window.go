package verify

import (
	"errors"
	"fmt"
	"time"

	"github.com/kappa-stream/kappa/pipeline"
)

// validateWindow reports what the verifier cannot check in w, the pipeline's window
// operator, and settings that are wrong. Only what the verifier can recompute exactly is
// accepted: tumbling and hopping windows, emit final, and the aggregates count, sum, min,
// max, avg, first and last. Gap and Q are not read: they belong to session windows and
// quantiles, which it refuses.
func validateWindow(w *pipeline.Window, maxOutOfOrderness time.Duration) []error {
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
	case pipeline.WindowTumbling:
		ms("Size", w.Size, false)
		if w.Advance != 0 {
			bad("Advance is a setting of hopping windows; remove it or use Type %q", pipeline.WindowHopping)
		}
	case pipeline.WindowHopping:
		ms("Size", w.Size, false)
		ms("Advance", w.Advance, false)
		if w.Advance > w.Size {
			bad("Advance %s exceeds Size %s; want 0 < Advance <= Size", w.Advance, w.Size)
		}
	case pipeline.WindowSliding, pipeline.WindowSession:
		bad("Type %q is not checked by the verifier; it recomputes tumbling and hopping windows only", w.Type)
	default:
		bad("Type %q; want %q or %q", w.Type, pipeline.WindowTumbling, pipeline.WindowHopping)
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
	case "", pipeline.EmitFinal:
	case pipeline.EmitUpdate:
		bad("Emit %q is not checked by the verifier; it checks emit %q only", w.Emit, pipeline.EmitFinal)
	default:
		bad("Emit %q; want %q", w.Emit, pipeline.EmitFinal)
	}
	if len(w.Aggregates) == 0 {
		bad("no Aggregates; want at least one, e.g. {Func: %q}", pipeline.AggCount)
	}
	names := map[string]int{}
	for i, a := range w.Aggregates {
		switch a.Func {
		case pipeline.AggCount:
			if a.Field != "" {
				bad("Aggregates[%d]: count takes no Field; remove %q", i, a.Field)
			}
		case pipeline.AggSum, pipeline.AggMin, pipeline.AggMax, pipeline.AggAvg, pipeline.AggFirst, pipeline.AggLast:
			if a.Field == "" {
				bad("Aggregates[%d]: %s needs a Field, e.g. amount", i, a.Func)
			}
		case pipeline.AggCountDistinct, pipeline.AggQuantile:
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

// windowSpec is a validated window operator in milliseconds, as the reference uses it.
type windowSpec struct {
	size, advance, grace, outOfOrder int64
	aggs                             []pipeline.Aggregation
}

func newWindowSpec(w *pipeline.Window, maxOutOfOrderness time.Duration) (*windowSpec, error) {
	if errs := validateWindow(w, maxOutOfOrderness); len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	s := &windowSpec{
		size: w.Size.Milliseconds(), advance: w.Advance.Milliseconds(), grace: w.Grace.Milliseconds(),
		outOfOrder: maxOutOfOrderness.Milliseconds(), aggs: w.Aggregates,
	}
	if w.Type == pipeline.WindowTumbling {
		s.advance = s.size // tumbling windows are hopping windows that advance by their size
	}
	return s, nil
}
