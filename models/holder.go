package models

import (
	"crypto/sha256"
	"encoding/hex"
	"sync/atomic"

	"github.com/kappa-stream/kappa/score"
)

// VersionHeader is the header of a models-topic record that gives the model's version. A
// record without it (or with an empty value) gets the version [Version] computes.
const VersionHeader = "kappa.model.version"

// The roles a model plays in a score operator: the label role of the metrics.
const (
	RolePrimary = "primary" // the model whose score is written and alerted on
	RoleShadow  = "shadow"  // scored beside the primary, never alerts
)

// Versioned is a loaded model with its identity. It is immutable once a Holder holds it.
type Versioned struct {
	Model score.Model
	// Name is the model's name (the model_name of the outputs).
	Name string
	// Version is the model's version (the model_version of the outputs): the topic record's
	// kappa.model.version header, else Version of the model's bytes.
	Version string
}

// Version returns the version of a model that does not state one: "sha256:" and the first
// 12 hex digits of the SHA-256 of its bytes, as `sha256sum model.json | cut -c1-12` prints.
func Version(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:6])
}

// Holder is the model in use. A watcher swaps it atomically; scoring reads it once per
// record and keeps that *Versioned for the whole record, so a record is never scored by
// one model and labelled with another's version. The zero Holder is empty and ready.
type Holder struct {
	p atomic.Pointer[Versioned]
}

// Load returns the model in use. It is nil only before the first model was stored: a
// Holder a watcher returns always has one, since the watcher's constructor fails without
// a first model. Safe for concurrent use; it does not allocate.
func (h *Holder) Load() *Versioned { return h.p.Load() }

// Store makes v the model in use. The watchers are its writers; tests and one-off tools may
// store a fixed model. v must not be modified afterwards.
func (h *Holder) Store(v *Versioned) { h.p.Store(v) }
