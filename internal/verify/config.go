package verify

import (
	"errors"
	"fmt"
	"regexp"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kappa-stream/kappa/pipeline"
)

// Defaults of Config, matching examples/card-totals.yaml.
const (
	DefaultWaitTimeout = time.Minute
	DefaultKeyField    = "card_id"
	DefaultAmountField = "amount"
	DefaultTimeField   = "ts"
)

// Config says what to verify: one pipeline's topics and consumer group, and what the test
// did to it. The pipeline is the card-totals aggregate, or a window pipeline when Window is
// set.
type Config struct {
	// Brokers are the seed brokers, host:port. Required.
	Brokers []string
	// ClientOpts are added to every client the verifier creates: TLS, SASL, logging.
	ClientOpts []kgo.Opt

	// Group is the pipeline's consumer group: its name. Required.
	Group string
	// Input is the pipeline's input topic. Required; one topic.
	Input string
	// Output is the pipeline's output topic. Required.
	Output string
	// DeadLetter is the pipeline's dead-letter topic ("<name>-dlq"). Empty when the pipeline
	// has none: then every invalid input record counts as lost. A topic that does not exist
	// counts as empty.
	DeadLetter string
	// Changelog is the pipeline's state changelog topic, checked only for open
	// transactions. Optional.
	Changelog string

	// Window, when set, is the pipeline's window operator: Output then holds its window
	// records (spec windows-wiring.md, section 2), which the verifier compares with its own
	// per-partition recompute of section 4; see Run. Nil for the aggregate pipeline.
	//
	// The verifier reads only the settings of the definition and recomputes the windows
	// with its own simulation, never package windows, so that nothing of the processor's
	// window code is trusted. It recomputes exactly only tumbling and hopping windows, emit
	// final, and the aggregates count, sum, min, max, avg, first and last; Validate refuses
	// sliding and session windows, emit update, count_distinct and quantile.
	Window *pipeline.Window
	// MaxOutOfOrderness is the pipeline's input.max_out_of_orderness: the watermark trails
	// the largest event time by this much. Window pipelines only; default 0.
	MaxOutOfOrderness time.Duration
	// Late is the pipeline's late topic ("<name>-late"). Required with Window, unused
	// without. A topic that does not exist counts as empty.
	Late string

	// Generated is the number of records the test produced to Input.
	Generated int64
	// Faults is how many faults of each kind the test injected (kill9, sigterm, ...), for the
	// verdict line.
	Faults map[string]int
	// MaxRecovery is the longest recovery the test measured, for the verdict line.
	MaxRecovery time.Duration
	// WaitTimeout bounds the wait for the group to commit the whole input and for open
	// transactions to end. Default DefaultWaitTimeout.
	WaitTimeout time.Duration

	// KeyField, AmountField and TimeField are the input's JSON fields, as in the pipeline
	// definition. Defaults DefaultKeyField, DefaultAmountField, DefaultTimeField. A window
	// pipeline reads its aggregates' fields instead of AmountField.
	KeyField, AmountField, TimeField string
	// TimeFormat is how TimeField is written. Default pipeline.TimeEpochMillis.
	TimeFormat pipeline.TimeFormat
	// Schema is the pipeline's input.schema: a record that breaks a rule is invalid (a
	// schema dead letter). The verifier applies the rules with its own code. Optional.
	Schema []pipeline.FieldRule
	// Dedup is the pipeline's input.dedup, with on_error.duplicate: dlq: a record whose
	// event id its partition saw within the horizon is invalid (a duplicate dead letter).
	// The verifier keeps every id it reads, with no expiry, and applies the rule of
	// pipeline.Dedup with its own code. Aggregate pipelines only. Optional.
	Dedup *pipeline.Dedup
}

// Validate reports missing or invalid settings, all at once.
func (c *Config) Validate() error {
	var errs []error
	for _, r := range c.Schema {
		if r.Pattern != "" {
			if _, err := regexp.Compile(r.Pattern); err != nil {
				errs = append(errs, fmt.Errorf("verify: Schema: field %q: %w", r.Field, err))
			}
		}
	}
	if len(c.Brokers) == 0 {
		errs = append(errs, errors.New("verify: no Brokers; want at least one host:port"))
	}
	for _, f := range [][2]string{{"Group", c.Group}, {"Input", c.Input}, {"Output", c.Output}} {
		if f[1] == "" {
			errs = append(errs, fmt.Errorf("verify: %s is empty; it is required", f[0]))
		}
	}
	if c.Input != "" && (c.Input == c.Output || c.Input == c.DeadLetter) {
		errs = append(errs, fmt.Errorf("verify: topic %q is both the input and an output", c.Input))
	}
	if c.Output != "" && c.Output == c.DeadLetter {
		errs = append(errs, fmt.Errorf("verify: topic %q is both the output and the dead-letter topic", c.Output))
	}
	switch {
	case c.Window != nil:
		errs = append(errs, validateWindow(c.Window, c.MaxOutOfOrderness)...)
		switch c.Late {
		case "":
			errs = append(errs, errors.New("verify: Late is empty; a window pipeline writes its late records to <name>-late: set it"))
		case c.Input, c.Output, c.DeadLetter:
			errs = append(errs, fmt.Errorf("verify: the late topic %q is also the input, output or dead-letter topic", c.Late))
		}
	case c.Late != "" || c.MaxOutOfOrderness != 0:
		errs = append(errs, errors.New("verify: Late and MaxOutOfOrderness are settings of window pipelines; set Window too, or remove them"))
	}
	if d := c.Dedup; d != nil {
		switch {
		case c.Window != nil:
			errs = append(errs, errors.New("verify: Dedup is checked for aggregate pipelines only; remove Window or Dedup"))
		case d.Field == "" || d.Horizon <= 0:
			errs = append(errs, fmt.Errorf("verify: Dedup %+v: want a field and a positive horizon", *d))
		}
	}
	if c.Generated < 0 {
		errs = append(errs, fmt.Errorf("verify: Generated is %d; want 0 or more", c.Generated))
	}
	if c.WaitTimeout < 0 {
		errs = append(errs, fmt.Errorf("verify: WaitTimeout is %s; want 0 (default %s) or more", c.WaitTimeout, DefaultWaitTimeout))
	}
	switch c.TimeFormat {
	case "", pipeline.TimeEpochMillis, pipeline.TimeRFC3339:
	default:
		errs = append(errs, fmt.Errorf("verify: TimeFormat %q; want %q or %q", c.TimeFormat, pipeline.TimeEpochMillis, pipeline.TimeRFC3339))
	}
	return errors.Join(errs...)
}

// withDefaults returns c with defaults applied.
func (c Config) withDefaults() Config {
	if c.WaitTimeout == 0 {
		c.WaitTimeout = DefaultWaitTimeout
	}
	if c.KeyField == "" {
		c.KeyField = DefaultKeyField
	}
	if c.AmountField == "" {
		c.AmountField = DefaultAmountField
	}
	if c.TimeField == "" {
		c.TimeField = DefaultTimeField
	}
	if c.TimeFormat == "" {
		c.TimeFormat = pipeline.TimeEpochMillis
	}
	return c
}
