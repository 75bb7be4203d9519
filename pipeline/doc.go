// Package pipeline owns the definition of a pipeline: the YAML file format, the equivalent
// Go API (Definition), the defaults, and the validation rules that both share.
//
// A definition names the pipeline (which is also its consumer group id and the prefix of
// its internal topics), its input topics and how to read a key and an event time from
// their records, the operators to run, the output topic, and the commit settings. Parse
// and Load read the file strictly and report every problem at once, each with its file,
// line, column and field path, in a Problems error; Definition.Validate applies the same
// rules to a definition built in Go. See examples/card-totals.yaml for a commented file.
//
// The package is pure. It must never import Kafka, Pebble, zap or Prometheus, never touch
// the network, never read the wall clock, and never create topics or directories: it says
// what a pipeline is and whether that is well-formed, not whether the topics exist or the
// state directory is writable (those are checked where they are used). Load is its only
// I/O: it reads the one file it is given.
//
// Adding an operator kind means a field on Operator, a settings type, and one entry in the
// kinds table of operator.go; the parser, the messages and Validate pick it up from there.
package pipeline
