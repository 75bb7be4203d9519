package pipeline

import "time"

// Definition is a pipeline: where its records come from, what it computes, and where the
// results go. Parse builds one from a file, with defaults applied; one built in Go should
// call ApplyDefaults and Validate before use.
type Definition struct {
	// Name identifies the pipeline: it is the consumer group id and the prefix of the
	// internal topics. Required; letters, digits, ".", "_" and "-", at most 200 of them.
	Name string
	// Input is the topics to read and how to read their records.
	Input Input
	// Operators run in order on every record. One of [aggregate], [window], [score] or
	// [window, score]: a score is last, and a window before it is its feature stage.
	Operators []Operator
	// Output is where results go.
	Output Output
	// OnError says what to do with records that cannot be processed, by reason class.
	// The zero value sends them all to the dead-letter (or late) topic, and skips
	// duplicates.
	OnError OnError
	// Quality are the data-quality checks beyond the schema: field distributions,
	// freshness and drift. Optional.
	Quality Quality
	// ExactlyOnce commits outputs, state and input offsets in one Kafka transaction. The
	// file default is true; the Go zero value is false, so set it explicitly in Go.
	ExactlyOnce bool
	// CommitInterval is how often a transaction commits: more than 0, at most
	// MaxCommitInterval. Default DefaultCommitInterval.
	CommitInterval time.Duration
	// StateDir is the directory of the local state, used as given. Default
	// DefaultStateDir(Name).
	StateDir string
}

// Input is the topics a pipeline reads and how to read their records.
type Input struct {
	// Topics are the input topic names: one or more, distinct, valid Kafka topic names,
	// none of them an internal topic of the pipeline.
	Topics []string
	// Format is the encoding of the record values. Required.
	Format Format
	// KeyField is the top-level field of a record that holds its key. Required.
	KeyField string
	// EventTime says where a record's event time is and how it is written.
	EventTime EventTime
	// MaxOutOfOrderness is how far behind the latest event time seen a record may be and
	// still count as on time: the watermark is the stream time minus this. At least 0;
	// default 0. With a window operator, a whole number of milliseconds: it is the
	// windows' allowed out-of-orderness.
	MaxOutOfOrderness time.Duration
	// Schema are the rules the fields of every record must keep, in the order they are
	// checked (the order of the file): the first rule a record breaks is its error.
	// Optional. See FieldRule.
	Schema []FieldRule
	// Dedup drops duplicates by an event-id field; see Dedup. nil (in the file, dedup left
	// out or null): no deduplication.
	Dedup *Dedup
}

// EventTime says where a record's event time is and how it is written.
type EventTime struct {
	// Field is the top-level field that holds the event time. Required.
	Field string
	// Format is how the event time is written. Required.
	Format TimeFormat
}

// Format is the encoding of input record values.
type Format string

// FormatJSON is a JSON object per record; the only format for now.
const FormatJSON Format = "json"

// TimeFormat is how an event time is written in a record.
type TimeFormat string

// The event time formats.
const (
	// TimeRFC3339 is a string such as "2025-06-01T12:00:00.123Z" (RFC 3339, fractional
	// seconds allowed).
	TimeRFC3339 TimeFormat = "rfc3339"
	// TimeEpochMillis is a number of milliseconds since the Unix epoch.
	TimeEpochMillis TimeFormat = "epoch_millis"
)

// Output is where a pipeline writes its results.
type Output struct {
	// Topic is the output topic: a valid Kafka topic name, not an input topic and none of
	// the pipeline's internal topics (changelog, dead letters, late records and, with
	// quality.drift, drift evaluations). Required.
	Topic string
}

// Defaults and limits of the optional settings.
const (
	// DefaultCommitInterval is the commit interval when none is given.
	DefaultCommitInterval = 100 * time.Millisecond
	// MaxCommitInterval bounds the commit interval: a transaction stays open for a whole
	// interval and must end well within the broker's transaction timeout.
	MaxCommitInterval = time.Minute
)

// Limits of names, as Kafka sets them for topics; a pipeline name leaves room for the
// suffixes of its internal topics.
const (
	maxNameLen  = 200
	maxTopicLen = 249
)

// DefaultStateDir is the state directory of the named pipeline when none is given:
// "./kappa-state/<name>".
func DefaultStateDir(name string) string { return "./kappa-state/" + name }

// ChangelogTopic is the compacted topic that holds the pipeline's state changes:
// "<name>-changelog".
func (d *Definition) ChangelogTopic() string { return d.Name + "-changelog" }

// DeadLetterTopic is the topic that takes the records the pipeline cannot process, such as
// malformed ones: "<name>-dlq".
func (d *Definition) DeadLetterTopic() string { return d.Name + "-dlq" }

// LateTopic is the topic that takes the records that arrive after every window they belong
// to has closed: "<name>-late". Only pipelines with a window operator write to it.
func (d *Definition) LateTopic() string { return d.Name + "-late" }

// HasWindow reports whether the pipeline has a window operator, and so a late topic.
func (d *Definition) HasWindow() bool { return d.WindowOp() != nil }

// WindowOp returns the settings of the pipeline's window operator, or nil when it has none.
// A valid pipeline has at most one; of several, it returns the first.
func (d *Definition) WindowOp() *Window {
	for _, op := range d.Operators {
		if op.Window != nil {
			return op.Window
		}
	}
	return nil
}

// ScoreOp returns the settings of the pipeline's score operator, or nil when it has none.
// A valid pipeline has at most one, its last operator; of several, it returns the first.
func (d *Definition) ScoreOp() *Score {
	for _, op := range d.Operators {
		if op.Score != nil {
			return op.Score
		}
	}
	return nil
}

// GroupID is the Kafka consumer group id of the pipeline: its name.
func (d *Definition) GroupID() string { return d.Name }

// ApplyDefaults sets CommitInterval, StateDir, the Emit of window operators, the Name of
// the model files of score operators (ModelRef.Name), Quality.Freshness and, with
// Quality.Drift, its Window, Every (a quarter of the window), Threshold, MinRecords and
// Bins when they are zero, as Parse does for a file that leaves them out. It cannot
// default ExactlyOnce, whose zero value is a choice. It leaves file paths as they are, and
// the Buckets of histograms empty (see Histogram).
func (d *Definition) ApplyDefaults() {
	if d.CommitInterval == 0 {
		d.CommitInterval = DefaultCommitInterval
	}
	if d.StateDir == "" {
		d.StateDir = DefaultStateDir(d.Name)
	}
	if d.Quality.Freshness == 0 {
		d.Quality.Freshness = DefaultFreshness
	}
	if d.Quality.Drift != nil {
		d.Quality.Drift.applyDefaults()
	}
	for _, op := range d.Operators {
		if op.Window != nil && op.Window.Emit == "" {
			op.Window.Emit = EmitFinal
		}
		if op.Score != nil {
			op.Score.Model.applyDefaults()
			if op.Score.Shadow != nil {
				op.Score.Shadow.applyDefaults()
			}
		}
	}
}

// Validate checks a definition built in Go against the rules Parse applies to a file, and
// returns every problem as Problems, in field order, or nil. The problems carry the field
// paths of the file format ("input.topics[0]") and no positions.
func (d *Definition) Validate() error {
	var r goReporter
	check(d, &r)
	if len(r.problems) == 0 {
		return nil
	}
	return r.problems
}

// goReporter words the problems of a definition built in Go, which has no positions and
// no difference between a field left out and one set to its zero value.
type goReporter struct{ problems Problems }

func (r *goReporter) missing(path, hint string) {
	r.problems = append(r.problems, Problem{Path: path, Msg: "required field is missing; " + hint})
}

func (r *goReporter) invalid(path, msg string) {
	r.problems = append(r.problems, Problem{Path: path, Msg: msg})
}

// unreadable is always false: a definition built in Go is all there.
func (r *goReporter) unreadable(string) bool { return false }
