package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kappa-stream/kappa/drift"
	"github.com/kappa-stream/kappa/internal/kafkaconf"
	"github.com/kappa-stream/kappa/pipeline"
	"github.com/kappa-stream/kappa/replay"
)

// DefaultProfileSample is the reservoir size per series of `kappa profile`.
const DefaultProfileSample = 200_000

// runProfile is `kappa profile`: it replays a range of the input through the pipeline, as
// `kappa replay` does, and writes the distributions of quality.drift's features and score
// over that range: the reference drift is measured against.
func runProfile(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fset := newFlagSet("profile", stderr)
	var f replayFlags
	f.registerRange(fset, "profile")
	out := fset.String("out", "", "the reference file to write (default: quality.drift.reference of the pipeline)")
	sample := fset.Int("sample", DefaultProfileSample, "values kept per series (a uniform sample) to place the bins")
	if err := kafkaconf.RejectPasswordFlag(args); err != nil {
		return usageError{err.Error()}
	}
	if help, err := parseFlags(fset, args); help || err != nil {
		return err
	}
	f.batchInterval = replay.DefaultBatchInterval
	cfg, err := f.config(time.Now(), false)
	if err != nil {
		return usageError{strings.Replace(err.Error(), "replay:", "profile:", 1)}
	}
	def, err := pipeline.Load(f.file)
	if err != nil {
		return err
	}
	d := def.Quality.Drift
	if d == nil {
		return fmt.Errorf("profile: %s has no quality.drift; add one naming the features to watch (and score: true for the model's score), e.g.\n"+
			"quality:\n  drift:\n    features: [amount]\n    reference: %s-reference.json", f.file, def.Name)
	}
	path := *out
	if path == "" {
		if path = d.Reference; path == "" {
			return usageError{"profile: give --out FILE, or set quality.drift.reference in the pipeline"}
		}
	}
	if *sample < d.Bins {
		return usageError{fmt.Sprintf("profile: --sample %d is below quality.drift.bins %d", *sample, d.Bins)}
	}
	log, err := newLogger(f.logLevel, stderr)
	if err != nil {
		return usageError{err.Error()}
	}
	defer func() { _ = log.Sync() }()
	if cfg.Kafka, err = replayKafkaOpts(f); err != nil {
		return usageError{err.Error()}
	}
	if cfg.Profile, err = drift.NewProfiler(d.Features, d.Score, d.Bins, *sample); err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	cfg.Definition, cfg.Logger, cfg.Progress = def, log, stderr
	var stopModels func()
	cfg.Model, cfg.Shadow, stopModels, err = startModels(ctx, def, cfg.Kafka, prometheus.NewRegistry(), log)
	if err != nil {
		return err
	}
	defer stopModels()

	sum, err := replay.Run(ctx, cfg)
	if err != nil {
		return err
	}
	ref, err := cfg.Profile.Reference(def.Name, profileSource(def, sum.Plan))
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	data, err := ref.Marshal()
	if err != nil {
		return err
	}
	if err := writeFileAtomic(path, data); err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	fmt.Fprintf(stdout, "profile: wrote %s: %s records_in=%d duration=%s\n", path, describeReference(ref), sum.RecordsIn, sum.Duration.Round(time.Millisecond))
	return nil
}

// profileSource says what a reference was computed from: the input's offset ranges.
func profileSource(def *pipeline.Definition, plan *replay.Plan) string {
	var b strings.Builder
	fmt.Fprintf(&b, "kappa profile of %s over", def.Input.Topics[0])
	for _, pp := range plan.Partitions {
		fmt.Fprintf(&b, " %d:[%d,%d)", pp.Partition, pp.From, pp.End)
	}
	return b.String()
}

// describeReference lists the series of a reference with their bins and records.
func describeReference(ref *drift.Reference) string {
	var parts []string
	names := make([]string, 0, len(ref.Features))
	for name := range ref.Features {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		b := ref.Features[name]
		parts = append(parts, fmt.Sprintf("feature:%s=%d_bins/%d_records", name, len(b.Edges)+1, b.Records))
	}
	if b := ref.Score; b != nil {
		parts = append(parts, fmt.Sprintf("score=%d_bins/%d_records", len(b.Edges)+1, b.Records))
	}
	return strings.Join(parts, " ")
}

// writeFileAtomic writes data to path through a synced temporary file in its directory.
func writeFileAtomic(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	_, err = tmp.Write(data)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		_ = os.Remove(tmp.Name())
	}
	return err
}

// loadDriftReference loads the reference of def's quality.drift; nil without drift.
func loadDriftReference(def *pipeline.Definition) (*drift.Reference, error) {
	d := def.Quality.Drift
	if d == nil {
		return nil, nil
	}
	if d.Reference == "" {
		return nil, fmt.Errorf("quality.drift.reference is not set: make the reference distributions with "+
			"kappa profile -f <pipeline file> --from <start of a healthy period> --out %s-reference.json, then set quality.drift.reference to that file", def.Name)
	}
	ref, err := drift.Load(d.Reference)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("quality.drift.reference %s does not exist; make it with kappa profile -f <pipeline file> --from <start of a healthy period>", d.Reference)
	}
	if err != nil {
		return nil, err
	}
	// The series the pipeline watches, checked here so that kappa validate catches a
	// reference made for other features.
	if _, err := ref.Series(d.Features, d.Score); err != nil {
		return nil, fmt.Errorf("quality.drift.reference %s: %w", d.Reference, err)
	}
	return ref, nil
}
