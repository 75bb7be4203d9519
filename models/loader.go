package models

import (
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap"

	"github.com/kappa-stream/kappa/score"
)

// Errors about a model that is not usable by the pipeline although it parses. Check them
// with errors.Is; a model that does not parse gives an error wrapping score.ErrInvalidModel.
var (
	// ErrFeatureCount: the model takes another number of features than the pipeline lists.
	ErrFeatureCount = errors.New("models: wrong number of features")
	// ErrUnpinnedVersion: the model's version is not the version the pipeline pins.
	ErrUnpinnedVersion = errors.New("models: not the pinned version")
	// ErrNoModel: a models topic holds no valid model for the pipeline.
	ErrNoModel = errors.New("models: no valid model")
)

// loader checks models against what the pipeline expects, swaps them into a Holder and
// keeps the metrics. It belongs to one watcher's goroutine: only Holder is shared.
type loader struct {
	name, role, pin string
	features        []string
	holder          *Holder
	log             *zap.Logger
	info            *prometheus.GaugeVec
	ok, failed      prometheus.Counter
}

func newLoader(name, role, pin string, features []string, log *zap.Logger, m *Metrics) *loader {
	if log == nil {
		log = zap.NewNop()
	}
	if m == nil {
		m = unregistered()
	}
	return &loader{
		name: name, role: role, pin: pin, features: features,
		holder: &Holder{},
		log:    log.With(zap.String("model", name), zap.String("role", role)),
		info:   m.info,
		// Both results exist from the start, so rate() and increase() see the first error.
		ok:     m.loads.WithLabelValues(name, role, "ok"),
		failed: m.loads.WithLabelValues(name, role, "error"),
	}
}

// checkPin returns an error wrapping ErrUnpinnedVersion when a version is pinned and
// version is another one.
func (l *loader) checkPin(source, version string) error {
	if l.pin == "" || version == l.pin {
		return nil
	}
	return fmt.Errorf("%w: %s has version %s, the pipeline pins version %s: publish that version or change the pin",
		ErrUnpinnedVersion, source, version, l.pin)
}

// parse parses data, which came from source (a file path, or topic/partition@offset), as
// the model of the given version and checks it against the pipeline.
func (l *loader) parse(source string, data []byte, version string) (*Versioned, error) {
	if err := l.checkPin(source, version); err != nil {
		return nil, err
	}
	m, err := score.Parse(source, data)
	if err != nil {
		return nil, err
	}
	if n := m.NumFeatures(); n != len(l.features) {
		return nil, fmt.Errorf("%w: %s (version %s) takes %d features%s, the pipeline lists %d (%s): list the model's features in its order",
			ErrFeatureCount, source, version, n, names(m.FeatureNames()), len(l.features), strings.Join(l.features, ", "))
	}
	return &Versioned{Model: m, Name: l.name, Version: version}, nil
}

// names formats a model's feature names for an error message.
func names(ns []string) string {
	switch {
	case len(ns) == 0:
		return ""
	case len(ns) > 10:
		return " (" + strings.Join(ns[:10], ", ") + ", ...)"
	}
	return " (" + strings.Join(ns, ", ") + ")"
}

// swap makes v the model in use and updates the metrics.
func (l *loader) swap(v *Versioned, fields ...zap.Field) {
	old := l.holder.Load()
	l.holder.Store(v)
	prev := ""
	if old != nil {
		prev = old.Version
		l.info.DeleteLabelValues(l.name, l.role, old.Version)
	}
	l.info.WithLabelValues(l.name, l.role, v.Version).Set(1)
	l.ok.Inc()
	l.log.Info("model in use", append(fields,
		zap.String("version", v.Version), zap.String("previous_version", prev),
		zap.String("kind", v.Model.Kind()), zap.String("objective", v.Model.Objective()))...)
}

// reject counts a model that could not be loaded and logs why, while a previous one stays
// in use.
func (l *loader) reject(err error, fields ...zap.Field) {
	l.failed.Inc()
	keep := "none"
	if v := l.holder.Load(); v != nil {
		keep = v.Version
	}
	l.log.Warn("model not loaded; keeping version "+keep, append(fields, zap.Error(err))...)
}
