// Package models keeps the models a score operator uses up to date while the pipeline
// runs: it loads a model from a file or a compacted models topic, checks it against the
// pipeline, and swaps it into a Holder that scoring reads once per record.
//
// # Use
//
// cmd/kappa builds one watcher per model of a score operator (the primary, and the shadow
// if any) from the pipeline's plain values, hands each watcher's Holder to scoring and runs
// the watcher in its run group:
//
//	w, err := models.NewFileWatcher(models.FileConfig{Path: "models/fraud.json",
//		Features: []string{"amount", "window.txn_count"}, Logger: log, Metrics: m})
//	if err != nil { ... } // the file is not a valid model for the pipeline: do not start
//	h := w.Holder()       // h.Load() is the model in use, never nil
//	g.Go(func() error { return w.Run(ctx) })
//
// NewFileWatcher and NewTopicWatcher load the first model and fail without one, so a
// pipeline never starts without its model; Run then follows changes until its context ends.
// A change that is not a valid model for the pipeline (does not parse, takes another
// number of features, is not the pinned version) is logged with where it came from and
// why, counted in kappa_score_model_loads_total{result="error"}, and the model in use
// stays. The version of a model is the kappa.model.version header of its topic record,
// else [Version] of its bytes.
//
// # Boundaries
//
// models owns watching, checking and swapping; score owns the formats and the scoring. It
// never imports processor, source, sinks or pipeline: it takes plain configuration values,
// and the processor reads models through a Holder. It never blocks a reader: a swap is
// one atomic pointer store, and a reader keeps the *Versioned it loaded for the whole
// record, so a score is never labelled with another model's version.
package models
