// Package pipeline owns the definition of a pipeline: the YAML file format, the equivalent
// Go API (Definition), the defaults, and the validation rules that both share.
//
// A definition names the pipeline (which is also its consumer group id and the prefix of
// its internal topics: <name>-changelog, <name>-dlq, <name>-late and, with quality.drift,
// <name>-drift, none of which may be an input or the output), its input topics and how to
// read a key and an event time from their records, the operators to run, the output topic,
// what to do with records that cannot be processed, the data-quality checks, and the
// commit settings. Parse and Load read the file strictly and report every problem at once,
// each with its file, line, column and field path, in a Problems error;
// Definition.Validate applies the same rules to a definition built in Go. See
// examples/card-totals.yaml for a commented file.
//
// The package is pure. It must never import Kafka, Pebble, zap or Prometheus, never touch
// the network, never read the wall clock, and never create topics or directories: it says
// what a pipeline is and whether that is well-formed, not whether the topics exist or the
// state directory is writable, nor whether a model file or a drift reference exists or
// parses (those are checked where they are used). Load is its only I/O: it reads the one file it is given.
//
// There are three kinds of operator, and the operators of a pipeline are one of
// [aggregate], [window], [score] or [window, score].
// Aggregate keeps a running count, sum, min and max per record key. Window aggregates per
// record key over event-time windows (tumbling, hopping, sliding or session) with the
// functions of AggFunc, and emits each window's results when it closes (EmitFinal) or at
// every change (EmitUpdate); Aggregation.Name says how each result is named in the output.
// Window durations are whole milliseconds, the unit of event times;
// input.max_out_of_orderness is the windows' allowed out-of-orderness, and records that
// come after all their windows have closed go to the late topic. Score scores every record
// with a model (a file, or a compacted topic of models) on features that are numeric
// fields of the record or, as window.<aggregate name>, the aggregates of the key's current
// window of the window operator before it, which is then a feature stage whose own results
// are not written; scores that reach a threshold also go to an alert topic, and a shadow
// model can be scored beside the model. Definition.WindowOp and Definition.ScoreOp return
// the settings of a pipeline's window and score operators.
//
// The input's records can be held to rules (input.schema: a FieldRule per field) and
// deduplicated by an event-id field over a horizon of event time (input.dedup: Dedup).
// on_error sets a Policy (dlq, skip or fail) per reason class: decode, schema, late,
// scoring and duplicate. The default is dlq, and skip for duplicates; a policy other than
// the default for late records needs a window operator, one for scoring errors a score
// operator, and one for duplicates input.dedup. The
// quality section holds the checks beyond the schema (Quality): histograms of numeric
// fields, the freshness threshold, and drift monitoring, the PSI of features and of the
// score against a reference over a sliding event-time window, written to the drift topic.
// The durations of dedup and drift are whole milliseconds, as those of windows are.
//
// Paths of model files and of the drift reference in a pipeline file are relative to the
// directory of that file: Parse and Load resolve them, so that a pipeline runs the same
// from any working directory. A definition built in Go keeps its paths as given. Neither
// checks that the files exist, which is the business of whatever loads them.
//
// Adding an operator kind means a field on Operator, a settings type, one entry in the
// kinds table of operator.go, and its place in the shapes of shapeProblems in check.go;
// the parser, the messages and Validate pick it up from there.
package pipeline
