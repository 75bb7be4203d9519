package score

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrInvalidModel is wrapped by every error about a file that is not a valid, supported
// model; check it with errors.Is. The message names the file and where the problem is.
var ErrInvalidModel = errors.New("score: invalid model")

// Model is a loaded model: immutable and safe for concurrent use.
type Model interface {
	// Predict appends the model's output for one feature vector to out and returns it:
	// one value for binary and regression objectives (a probability for binary ones), one
	// per class for multi:softprob. A NaN feature is missing. features must have exactly
	// NumFeatures values: any other length is a programming error and panics. Predict does
	// not allocate when out has room for the output.
	Predict(features []float64, out []float64) []float64
	// NumFeatures is the length of the feature vectors Predict takes.
	NumFeatures() int
	// FeatureNames are the names of the features in order, as the file gives them, or nil
	// when it has none (an XGBoost model trained without names; LightGBM always writes
	// names, Column_0, Column_1, ... by default). The slice is the model's: do not modify it.
	FeatureNames() []string
	// Kind is the format: "xgboost", "lightgbm" or "logistic" (kappa-linear).
	Kind() string
	// Objective is the objective as the file names it: "binary:logistic",
	// "reg:squarederror", "reg:logistic", "multi:softprob" (XGBoost), "binary",
	// "regression", ... (LightGBM: the first word of its objective line),
	// "binary:logistic", "reg:linear" (kappa-linear).
	Objective() string
}

// Load reads the model file at path and parses it with Parse.
func Load(path string) (Model, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("score: load model: %w", err)
	}
	return Parse(path, data)
}

// Parse detects the format of a model file from its content and loads it: XGBoost JSON
// (an object with "learner"), kappa-linear JSON (an object with "format": "kappa-linear") or
// LightGBM text (starting with the line "tree"). name says where data came from (a file path
// or a topic and key) and is only used in error messages.
func Parse(name string, data []byte) (Model, error) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // a UTF-8 byte order mark
	text := bytes.TrimLeft(data, " \t\r\n")
	switch {
	case len(text) == 0:
		return nil, invalid(name, "", "empty file: want an XGBoost JSON, LightGBM text or kappa-linear JSON model")
	case text[0] == '{':
		root, err := decodeJSON(name, data)
		if err != nil {
			return nil, err
		}
		obj, _ := root.v.(map[string]any)
		if _, ok := obj["learner"]; ok {
			return parseXGBoost(root)
		}
		if _, ok := obj["format"]; ok {
			return parseLinear(root)
		}
		return nil, invalid(name, "", `JSON object with neither "learner" (an XGBoost model) nor "format" (a kappa-linear model)`)
	case bytes.HasPrefix(text, []byte("tree\n")) || bytes.HasPrefix(text, []byte("tree\r\n")):
		return parseLightGBM(name, data)
	}
	if bytes.HasPrefix(text, []byte("binf")) || bytes.IndexByte(text, 0) >= 0 {
		return nil, invalid(name, "", `binary data: for an XGBoost model in UBJSON or the legacy binary format, save it with Booster.save_model("model.json")`)
	}
	return nil, invalid(name, "", "unrecognized format: want an XGBoost JSON model (Booster.save_model(\"model.json\")), a LightGBM text model (Booster.save_model(\"model.txt\")) or a kappa-linear JSON model")
}

// invalid formats a problem with a model: "score: invalid model: name: where: msg".
func invalid(name, where, msg string) error {
	if where == "" {
		return fmt.Errorf("%w: %s: %s", ErrInvalidModel, name, msg)
	}
	return fmt.Errorf("%w: %s: %s: %s", ErrInvalidModel, name, where, msg)
}

// checkLen panics with a clear message when a feature vector has the wrong length: the
// caller built it for another model, a bug no score could hide.
func checkLen(kind string, got, want int) {
	if got != want {
		panic(fmt.Sprintf("score: %s model takes %d features, Predict got %d", kind, want, got))
	}
}

// grow returns out with room for n more values, allocating only when it has none.
func grow(out []float64, n int) []float64 {
	if cap(out)-len(out) >= n {
		return out[:len(out)+n]
	}
	return append(out, make([]float64, n)...)
}

// decodeJSON decodes a JSON document, reporting a syntax error with its line and column.
func decodeJSON(name string, data []byte) (jval, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	if err == nil {
		off := dec.InputOffset()
		if rest := bytes.TrimLeft(data[off:], " \t\r\n"); len(rest) > 0 {
			off = int64(len(data)-len(rest)) + 1
			return jval{}, invalid(name+":"+lineCol(data, off), "", "invalid JSON: data after the top-level value")
		}
		return jval{name: name, v: v}, nil
	}
	if bytes.IndexByte(data, 0) >= 0 {
		return jval{}, invalid(name, "", `binary data, not JSON: for an XGBoost UBJSON model (.ubj), save it with Booster.save_model("model.json")`)
	}
	var syn *json.SyntaxError
	switch {
	case errors.As(err, &syn):
		return jval{}, invalid(name+":"+lineCol(data, syn.Offset), "", "invalid JSON: "+syn.Error())
	case errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF):
		return jval{}, invalid(name+":"+lineCol(data, int64(len(data))), "", "invalid JSON: unexpected end of input (truncated file?)")
	}
	return jval{}, invalid(name, "", "invalid JSON: "+err.Error())
}

// lineCol gives the position of the byte before offset off (the last byte the decoder
// read, where encoding/json puts its offsets) as "line:column", both counted from 1.
func lineCol(data []byte, off int64) string {
	off = min(max(off, 1), int64(len(data)))
	i := off - 1
	line := 1 + bytes.Count(data[:i], []byte("\n"))
	col := i - int64(bytes.LastIndexByte(data[:i], '\n'))
	return fmt.Sprintf("%d:%d", line, col)
}
