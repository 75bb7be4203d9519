package models

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"go.uber.org/zap"
)

// FileConfig configures a FileWatcher.
type FileConfig struct {
	// Path is the model file. Required.
	Path string
	// Name is the model's name. Default: the base name of Path without its extension
	// (models/fraud.json: fraud).
	Name string
	// Version pins a version: a file with another version is not loaded. "" accepts any.
	Version string
	// Role is RolePrimary (the default) or RoleShadow; it labels the metrics and logs.
	Role string
	// Features are the pipeline's features, one per model input: a model must take exactly
	// len(Features) features. Required.
	Features []string
	// Interval is how often the file's size, modification time and identity are checked.
	// Default 1s.
	Interval time.Duration
	// Logger receives a line per model swapped in and per rejected change. Nil means
	// zap.NewNop().
	Logger *zap.Logger
	// Metrics counts loads and exports the version in use. Nil means no metrics.
	Metrics *Metrics
}

// Validate reports a configuration NewFileWatcher would refuse.
func (c FileConfig) Validate() error {
	switch {
	case c.Path == "":
		return errors.New("models: file watcher: no Path")
	case len(c.Features) == 0:
		return fmt.Errorf("models: file watcher for %s: no Features", c.Path)
	case c.Interval < 0:
		return fmt.Errorf("models: file watcher for %s: Interval %s is negative", c.Path, c.Interval)
	}
	return validRole("file watcher for "+c.Path, c.Role)
}

func validRole(what, role string) error {
	switch role {
	case "", RolePrimary, RoleShadow:
		return nil
	}
	return fmt.Errorf("models: %s: Role %q: want %q or %q", what, role, RolePrimary, RoleShadow)
}

func roleOrDefault(role string) string {
	if role == "" {
		return RolePrimary
	}
	return role
}

// FileWatcher keeps a Holder filled with the model in a file and reloads it when the file
// changes.
//
// Run polls the file's size, modification time and identity (device and inode) every
// Interval. A change is loaded once the file has stayed the same for one more poll, so a
// file being written is not read halfway; a file that changes while it is read is read
// again at a later poll. The new bytes are parsed (score.Parse) and checked (the number of
// features, the pin) and swapped in. Any failure (unreadable, not a model, wrong feature
// count, another version than the pinned one) is logged with the file and the problem,
// counted as a load error, and the previous model stays in use; the file is tried again
// when it changes again.
//
// Replace a model file atomically: write the new model beside it and rename it over the
// old one (mv on the same filesystem). A file rewritten in place is read only once it has
// been still for a poll, but a writer that pauses longer than that mid-file gets a load
// error for the partial file (the model in use stays) before its complete file is loaded.
type FileWatcher struct {
	path     string
	interval time.Duration
	l        *loader

	seen    stamp  // the file as it was last loaded or rejected
	pending *stamp // a change seen at the last poll, loaded if the next poll sees it unchanged
	statErr string // the last stat error reported, so a missing file is reported once
}

// stamp identifies one state of a file.
type stamp struct {
	fi os.FileInfo
}

func (s stamp) same(o stamp) bool {
	return s.fi != nil && o.fi != nil && s.fi.Size() == o.fi.Size() &&
		s.fi.ModTime().Equal(o.fi.ModTime()) && os.SameFile(s.fi, o.fi)
}

// NewFileWatcher loads the model file cfg.Path. It fails if the configuration is invalid
// or the file is not a valid model for the pipeline; the error names the file and the
// problem. The returned watcher's Holder holds that model; Run watches for changes.
func NewFileWatcher(cfg FileConfig) (*FileWatcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	name := cfg.Name
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(cfg.Path), filepath.Ext(cfg.Path))
	}
	w := &FileWatcher{
		path:     cfg.Path,
		interval: cfg.Interval,
		l:        newLoader(name, roleOrDefault(cfg.Role), cfg.Version, cfg.Features, cfg.Logger, cfg.Metrics),
	}
	if w.interval == 0 {
		w.interval = time.Second
	}
	// A file replaced while it is read is read again; give up on one that keeps changing.
	for range 3 {
		st, data, err := w.read()
		if errors.Is(err, errChanged) {
			continue
		}
		if err != nil {
			w.l.failed.Inc()
			return nil, err
		}
		v, err := w.l.parse(w.path, data, Version(data))
		if err != nil {
			w.l.failed.Inc()
			return nil, err
		}
		w.seen = st
		w.l.swap(v, zap.String("file", w.path))
		return w, nil
	}
	w.l.failed.Inc()
	return nil, fmt.Errorf("models: model file %s kept changing while it was read: replace it atomically (write a new file and rename it over the old one)", w.path)
}

// Holder returns the holder of the model in use. It never changes and always holds a
// model.
func (w *FileWatcher) Holder() *Holder { return w.l.holder }

// Run polls the file until ctx is done, then returns nil. Call it once.
func (w *FileWatcher) Run(ctx context.Context) error {
	t := time.NewTicker(w.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			w.poll()
		}
	}
}

// errChanged: the file changed while it was read.
var errChanged = errors.New("models: file changed while it was read")

// read stats the file, reads it and stats it again. It returns errChanged if the two stats
// differ: the bytes may be a mix of two versions.
func (w *FileWatcher) read() (stamp, []byte, error) {
	before, err := w.stat()
	if err != nil {
		return stamp{}, nil, err
	}
	data, err := os.ReadFile(w.path)
	if err != nil {
		return stamp{}, nil, fmt.Errorf("models: read model file: %w", err)
	}
	after, err := w.stat()
	if err != nil || !after.same(before) {
		return stamp{}, nil, errChanged
	}
	return before, data, nil
}

func (w *FileWatcher) stat() (stamp, error) {
	fi, err := os.Stat(w.path)
	if err != nil {
		return stamp{}, fmt.Errorf("models: model file: %w", err)
	}
	return stamp{fi: fi}, nil
}

// poll checks the file once and loads it when it has changed and then stayed the same for
// one poll.
func (w *FileWatcher) poll() {
	st, err := w.stat()
	if err != nil {
		// A missing or unreadable file: report it once, until it changes.
		if msg := err.Error(); msg != w.statErr {
			w.statErr = msg
			w.pending = nil
			w.l.reject(err, zap.String("file", w.path))
		}
		return
	}
	w.statErr = ""
	if st.same(w.seen) {
		w.pending = nil
		return
	}
	if w.pending == nil || !st.same(*w.pending) {
		w.pending = &st // changed: wait until it stays so for a poll
		return
	}
	w.pending = nil
	_, data, err := w.read()
	if errors.Is(err, errChanged) {
		return // still being written: the next polls see the new state
	}
	w.seen = st // loaded or rejected: tried again once it changes
	if err != nil {
		w.l.reject(err, zap.String("file", w.path))
		return
	}
	v, err := w.l.parse(w.path, data, Version(data))
	if err != nil {
		w.l.reject(err, zap.String("file", w.path))
		return
	}
	w.l.swap(v, zap.String("file", w.path))
}
