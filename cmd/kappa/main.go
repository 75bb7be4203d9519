package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/debug"
)

// usageError is returned for bad command lines; main exits 2 for it, 1 for other errors.
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"run", "run a pipeline against a Kafka cluster", runRun},
		{"replay", "reprocess a range of the retained input into a versioned topic or a file", runReplay},
		{"profile", "write the reference distributions of quality.drift from a range of the retained input", runProfile},
		{"validate", "check a pipeline file and list every problem", runValidate},
		{"demo", "run the example pipeline on an embedded in-process Kafka broker", runDemo},
		{"gen", "produce generated card transactions to a Kafka topic", runGen},
		{"version", "print the version", runVersion},
	}
}

func main() {
	ctx, stop := signalContext(context.Background(), os.Stderr)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	var ue usageError
	switch {
	case err == nil:
	case errors.As(err, &ue):
		fmt.Fprintf(os.Stderr, "kappa: %v\n", err)
		os.Exit(2)
	default:
		fmt.Fprintf(os.Stderr, "kappa: %v\n", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		usage(stdout)
		return nil
	}
	for _, c := range commands() {
		if c.name == args[0] {
			return c.run(ctx, args[1:], stdout, stderr)
		}
	}
	usage(stderr)
	return usageError{fmt.Sprintf("unknown command %q; see the list above", args[0])}
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "kappa: an exactly-once, stateful stream processor on Kafka")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "usage: kappa <command> [flags]")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-10s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Run 'kappa <command> -h' for a command's flags.")
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("kappa "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// parseFlags parses args, turning a flag error into a usageError and -h into a clean exit.
func parseFlags(fs *flag.FlagSet, args []string) (help bool, err error) {
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return true, nil
	case err != nil:
		return false, usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return false, usageError{fmt.Sprintf("%s: unexpected arguments %q", fs.Name(), fs.Args())}
	}
	return false, nil
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", stderr)
	if help, err := parseFlags(fs, args); help || err != nil {
		return err
	}
	fmt.Fprintf(stdout, "kappa %s\n", version())
	return nil
}

// version is the module version stamped by the Go toolchain, or "devel" in a source build.
func version() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "devel"
}
