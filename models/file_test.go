package models

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/kappa-stream/kappa/score"
)

func TestVersion(t *testing.T) {
	// sha256("hello") = 2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824
	if got, want := Version([]byte("hello")), "sha256:2cf24dba5fb0"; got != want {
		t.Errorf("Version(hello) = %s, want %s", got, want)
	}
}

func TestHolderEmptyBeforeFirstModel(t *testing.T) {
	var h Holder
	if v := h.Load(); v != nil {
		t.Fatalf("zero Holder: Load() = %+v, want nil", v)
	}
	v := &Versioned{Name: "m", Version: "x"}
	h.Store(v)
	if got := h.Load(); got != v {
		t.Errorf("Load() = %p, want the stored %p", got, v)
	}
}

// writeFile writes data to path in place (truncating the file, keeping its inode) and
// gives it a modification time after every earlier one, so that a coarse clock cannot
// hide the change.
func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	touch(t, path)
}

var mtime = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func touch(t *testing.T, path string) {
	t.Helper()
	mtime = mtime.Add(time.Second)
	if err := os.Chtimes(path, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// replaceFile writes data beside path and renames it over path: the atomic way.
func replaceFile(t *testing.T, path string, data []byte) {
	t.Helper()
	tmp := path + ".tmp"
	writeFile(t, tmp, data)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// newFileWatcher writes data to dir/fraud.json and watches it.
func newFileWatcher(t *testing.T, data []byte, cfg FileConfig) (*FileWatcher, *Metrics) {
	t.Helper()
	cfg.Path = filepath.Join(t.TempDir(), "fraud.json")
	writeFile(t, cfg.Path, data)
	if cfg.Features == nil {
		cfg.Features = five
	}
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	cfg.Metrics = m
	w, err := NewFileWatcher(cfg)
	if err != nil {
		t.Fatalf("NewFileWatcher: %v", err)
	}
	return w, m
}

func TestFileWatcherSwapsOnChange(t *testing.T) {
	for _, tc := range []struct {
		name  string
		write func(t *testing.T, path string, data []byte)
	}{
		{"rename", replaceFile},
		{"in place", writeFile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, _ := logs(t)
			w, m := newFileWatcher(t, v1, FileConfig{Interval: 5 * time.Millisecond, Logger: log})
			h := w.Holder()
			if v := h.Load(); v.Version != Version(v1) || v.Name != "fraud" || v.Model.Kind() != "logistic" {
				t.Fatalf("first model: got %s %s %s, want fraud %s logistic", v.Name, v.Version, v.Model.Kind(), Version(v1))
			}
			checkInfo(t, m, "fraud primary "+Version(v1))
			run(t, w)

			tc.write(t, w.path, v2)
			eventually(t, "the watcher swaps in v2", func() bool { return h.Load().Version == Version(v2) })
			if got := h.Load().Model.Kind(); got != "xgboost" {
				t.Errorf("model kind after the swap = %s, want xgboost", got)
			}
			checkInfo(t, m, "fraud primary "+Version(v2))
			if ok, failed := loads(m, "fraud", "primary"); ok != 2 || failed != 0 {
				t.Errorf("loads ok=%v error=%v, want ok=2 error=0", ok, failed)
			}
		})
	}
}

// A file rewritten in place and caught half-written fails to parse, keeps the previous
// model, and is loaded once the writer has finished. poll is driven by hand: no timing.
func TestFileWatcherPartialWrite(t *testing.T) {
	log, obs := logs(t)
	w, m := newFileWatcher(t, v1, FileConfig{Logger: log})
	h := w.Holder()

	writeFile(t, w.path, v2[:len(v2)/2])
	w.poll()
	if _, failed := loads(m, "fraud", "primary"); failed != 0 {
		t.Fatalf("a change is loaded only once the file has been still for a poll; got %v errors after one poll", failed)
	}
	w.poll()
	if _, failed := loads(m, "fraud", "primary"); failed != 1 {
		t.Fatalf("half-written file: got %v load errors, want 1", failed)
	}
	if got := h.Load().Version; got != Version(v1) {
		t.Fatalf("half-written file: version in use %s, want the previous %s", got, Version(v1))
	}
	ws := warned(obs)
	if len(ws) != 1 || !strings.Contains(ws[0].Message, "keeping version "+Version(v1)) {
		t.Fatalf("warnings = %v, want one saying keeping version %s", ws, Version(v1))
	}
	if f := ws[0].ContextMap(); f["file"] != w.path || !strings.Contains(f["error"].(string), w.path) {
		t.Errorf("warning fields = %v, want file=%s and an error naming it", f, w.path)
	}
	w.poll() // unchanged: neither reloaded nor counted again
	if _, failed := loads(m, "fraud", "primary"); failed != 1 {
		t.Fatalf("an unchanged bad file is counted once; got %v errors", failed)
	}

	// The writer finishes.
	writeFile(t, w.path, v2)
	w.poll()
	w.poll()
	if got := h.Load().Version; got != Version(v2) {
		t.Fatalf("finished file: version in use %s, want %s", got, Version(v2))
	}
	checkInfo(t, m, "fraud primary "+Version(v2))
	if ok, failed := loads(m, "fraud", "primary"); ok != 2 || failed != 1 {
		t.Errorf("loads ok=%v error=%v, want ok=2 error=1", ok, failed)
	}
}

func TestFileWatcherKeepsPreviousOnBadChange(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, path string)
		want   error  // errors.Is the logged error, if not nil
		reason string // in the logged error
	}{
		{"not JSON", func(t *testing.T, p string) { replaceFile(t, p, []byte("{\"learner\": [")) }, score.ErrInvalidModel, "fraud.json"},
		{"empty", func(t *testing.T, p string) { replaceFile(t, p, nil) }, score.ErrInvalidModel, "empty file"},
		{"wrong feature count", func(t *testing.T, p string) { replaceFile(t, p, two) }, ErrFeatureCount, "takes 2 features (amount, count), the pipeline lists 5"},
		{"removed", func(t *testing.T, p string) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}, os.ErrNotExist, "no such file"},
		{"unreadable directory", func(t *testing.T, p string) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(p, 0o700); err != nil {
				t.Fatal(err)
			}
		}, nil, "is a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			log, obs := logs(t)
			w, m := newFileWatcher(t, v1, FileConfig{Logger: log})
			tc.change(t, w.path)
			for range 3 {
				w.poll()
			}
			if got := w.Holder().Load().Version; got != Version(v1) {
				t.Errorf("version in use %s, want the previous %s", got, Version(v1))
			}
			if ok, failed := loads(m, "fraud", "primary"); ok != 1 || failed != 1 {
				t.Errorf("loads ok=%v error=%v, want ok=1 error=1", ok, failed)
			}
			checkInfo(t, m, "fraud primary "+Version(v1))
			ws := warned(obs)
			if len(ws) != 1 {
				t.Fatalf("got %d warnings, want 1: %v", len(ws), ws)
			}
			err, _ := ws[0].ContextMap()["error"].(string)
			if !strings.Contains(ws[0].Message, "keeping version "+Version(v1)) || !strings.Contains(err, tc.reason) {
				t.Errorf("warning %q error %q: want keeping version %s and %q", ws[0].Message, err, Version(v1), tc.reason)
			}
			// The logged error is a string; check errors.Is on what the loader returns.
			if tc.want != nil {
				var target error
				for _, f := range ws[0].Context {
					if e, ok := f.Interface.(error); ok {
						target = e
					}
				}
				if !errors.Is(target, tc.want) {
					t.Errorf("logged error %v is not %v", target, tc.want)
				}
			}
		})
	}
}

func TestFileWatcherPin(t *testing.T) {
	t.Run("rejects other versions", func(t *testing.T) {
		log, obs := logs(t)
		w, m := newFileWatcher(t, v1, FileConfig{Version: Version(v1), Logger: log})
		replaceFile(t, w.path, v2)
		w.poll()
		w.poll()
		if got := w.Holder().Load().Version; got != Version(v1) {
			t.Errorf("version in use %s, want the pinned %s", got, Version(v1))
		}
		if _, failed := loads(m, "fraud", "primary"); failed != 1 {
			t.Errorf("load errors = %v, want 1", failed)
		}
		if ws := warned(obs); len(ws) != 1 || !strings.Contains(ws[0].ContextMap()["error"].(string), "pins version "+Version(v1)) {
			t.Errorf("warnings = %v, want one about the pin", ws)
		}
		replaceFile(t, w.path, v1) // the pinned version comes back
		w.poll()
		w.poll()
		if ok, failed := loads(m, "fraud", "primary"); ok != 2 || failed != 1 {
			t.Errorf("loads ok=%v error=%v, want ok=2 error=1", ok, failed)
		}
	})
	t.Run("first load", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "fraud.json")
		writeFile(t, path, v1)
		_, err := NewFileWatcher(FileConfig{Path: path, Features: five, Version: Version(v2)})
		if !errors.Is(err, ErrUnpinnedVersion) || !strings.Contains(err.Error(), path) {
			t.Errorf("NewFileWatcher with another pinned version: got %v, want %v naming %s", err, ErrUnpinnedVersion, path)
		}
	})
}

func TestNewFileWatcherErrors(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.json")
	bad := filepath.Join(dir, "bad.json")
	small := filepath.Join(dir, "small.json")
	writeFile(t, good, v1)
	writeFile(t, bad, []byte(`{"format": "kappa-linear", "version": 1, "weights": "x"}`))
	writeFile(t, small, two)
	for _, tc := range []struct {
		name string
		cfg  FileConfig
		is   error
		want string
	}{
		{"no path", FileConfig{Features: five}, nil, "no Path"},
		{"no features", FileConfig{Path: good}, nil, "no Features"},
		{"bad role", FileConfig{Path: good, Features: five, Role: "canary"}, nil, `Role "canary"`},
		{"negative interval", FileConfig{Path: good, Features: five, Interval: -time.Second}, nil, "negative"},
		{"missing file", FileConfig{Path: filepath.Join(dir, "nope.json"), Features: five}, os.ErrNotExist, "nope.json: no such file"},
		{"invalid model", FileConfig{Path: bad, Features: five}, score.ErrInvalidModel, "bad.json"},
		{"feature count", FileConfig{Path: small, Features: five}, ErrFeatureCount, "small.json (version " + Version(two) + ") takes 2 features"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, err := NewMetrics(prometheus.NewRegistry())
			if err != nil {
				t.Fatal(err)
			}
			tc.cfg.Metrics = m
			w, err := NewFileWatcher(tc.cfg)
			if err == nil {
				t.Fatalf("NewFileWatcher = %v, nil; want an error", w)
			}
			if (tc.is != nil && !errors.Is(err, tc.is)) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error (is %v) containing %q", err, tc.is, tc.want)
			}
			t.Logf("error: %v", err)
		})
	}
}

func TestFileWatcherNameRoleAndSharedMetrics(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fraud-v2.model.json")
	writeFile(t, path, v2)
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	w, err := NewFileWatcher(FileConfig{Path: path, Features: five, Role: RoleShadow, Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	if got := w.Holder().Load().Name; got != "fraud-v2.model" {
		t.Errorf("default name = %s, want fraud-v2.model", got)
	}
	// The primary beside it, on the same metrics.
	primary := filepath.Join(filepath.Dir(path), "fraud.json")
	writeFile(t, primary, v1)
	if _, err := NewFileWatcher(FileConfig{Path: primary, Features: five, Metrics: m}); err != nil {
		t.Fatal(err)
	}
	checkInfo(t, m, "fraud primary "+Version(v1), "fraud-v2.model shadow "+Version(v2))
	for _, tc := range []struct{ model, role string }{{"fraud", RolePrimary}, {"fraud-v2.model", RoleShadow}} {
		if ok, failed := loads(m, tc.model, tc.role); ok != 1 || failed != 0 {
			t.Errorf("%s %s: loads ok=%v error=%v, want ok=1 error=0", tc.model, tc.role, ok, failed)
		}
	}
}
