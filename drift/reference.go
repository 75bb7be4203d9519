package drift

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
)

// ReferenceVersion is the version of the reference file this package reads and writes.
const ReferenceVersion = 1

// ErrInvalidReference is wrapped by every error about a reference file that Parse refuses,
// and by Marshal's about a Reference that Parse would refuse.
var ErrInvalidReference = errors.New("drift: invalid reference")

// remedy ends every Parse error: the file is made by a program, not by hand.
const remedy = "; make the reference file with kappa profile"

// Reference is the reference distributions of a pipeline's drift monitoring: what the
// reference file holds.
type Reference struct {
	// Version is ReferenceVersion.
	Version int `json:"version"`
	// Pipeline is the name of the pipeline the reference was made for.
	Pipeline string `json:"pipeline"`
	// Source says, in free text, what the reference was computed from (topic and range).
	Source string `json:"source"`
	// Features are the Bins of each watched feature, by field name.
	Features map[string]*Bins `json:"features,omitempty"`
	// Score is the Bins of the model's score; nil when the score is not watched.
	Score *Bins `json:"score,omitempty"`
}

// Load reads and parses the reference file at path.
func Load(path string) (*Reference, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("drift: load reference: %w", err)
	}
	return Parse(path, data)
}

// Parse decodes a reference file. name says where data came from (a file path) and is used
// only in error messages. Parsing is strict: a single JSON object with no unknown members,
// version ReferenceVersion, at least one series, and valid Bins (Bins.Validate) for every
// series. Errors wrap ErrInvalidReference and name the file and the series.
func Parse(name string, data []byte) (*Reference, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var r Reference
	if err := dec.Decode(&r); err != nil {
		return nil, jsonError(name, data, err)
	}
	if off := dec.InputOffset(); len(bytes.TrimLeft(data[off:], " \t\r\n")) > 0 {
		return nil, invalid(name, "", "data after the JSON object")
	}
	switch {
	case r.Version == 0:
		return nil, invalid(name, "", fmt.Sprintf(`no "version"; want %d`, ReferenceVersion))
	case r.Version != ReferenceVersion:
		return nil, invalid(name, "", fmt.Sprintf("version %d; this Kappa reads version %d", r.Version, ReferenceVersion))
	}
	if err := r.validate(name); err != nil {
		return nil, err
	}
	if len(r.Features) == 0 {
		r.Features = nil // "features": {} is no features, as Marshal omits them
	}
	return &r, nil
}

// validate checks the series of r, in a fixed order (features by name, then the score), so
// that a file with several problems always reports the same one.
func (r *Reference) validate(name string) error {
	if len(r.Features) == 0 && r.Score == nil {
		return invalid(name, "", `neither "features" nor "score": nothing to compare`)
	}
	for _, f := range slices.Sorted(maps.Keys(r.Features)) {
		where := fmt.Sprintf("feature %q", f)
		if f == "" {
			return invalid(name, where, "empty feature name")
		}
		if err := checkBins(r.Features[f]); err != nil {
			return invalid(name, where, err.Error())
		}
	}
	if r.Score != nil {
		if err := checkBins(r.Score); err != nil {
			return invalid(name, "score", err.Error())
		}
	}
	return nil
}

func checkBins(b *Bins) error {
	if b == nil {
		return errors.New("no bins (null)")
	}
	return b.Validate()
}

// Marshal encodes r as the reference file: indented JSON with a trailing newline. The
// encoding is deterministic (features sorted by name; floats in their shortest exact form,
// so Parse gives back the same numbers). It refuses, wrapping ErrInvalidReference, a
// Reference that Parse would refuse.
func (r *Reference) Marshal() ([]byte, error) {
	if r.Version != ReferenceVersion {
		return nil, fmt.Errorf("%w: version %d; want %d", ErrInvalidReference, r.Version, ReferenceVersion)
	}
	if err := r.validate("reference"); err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("drift: marshal reference: %w", err)
	}
	return append(data, '\n'), nil
}

// invalid formats a problem with a reference file:
// "drift: invalid reference: name: where: msg; make the reference file with kappa profile".
func invalid(name, where, msg string) error {
	if where == "" {
		return fmt.Errorf("%w: %s: %s%s", ErrInvalidReference, name, msg, remedy)
	}
	return fmt.Errorf("%w: %s: %s: %s%s", ErrInvalidReference, name, where, msg, remedy)
}

// jsonError turns a decoding error into a problem at name:line:column.
func jsonError(name string, data []byte, err error) error {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return invalid(name+":"+lineCol(data, syn.Offset), "", "invalid JSON: "+syn.Error())
	case errors.As(err, &typ):
		what := "value"
		if typ.Field != "" {
			what = fmt.Sprintf("%q", typ.Field)
		}
		return invalid(name+":"+lineCol(data, typ.Offset), "", fmt.Sprintf("%s: a JSON %s where %s is wanted", what, typ.Value, jsonType(typ.Type.Kind().String())))
	case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
		return invalid(name+":"+lineCol(data, int64(len(data))), "", "unexpected end of input (empty or truncated file?)")
	}
	// DisallowUnknownFields: `json: unknown field "x"`, without a position.
	return invalid(name, "", err.Error())
}

// jsonType names a Go kind as the JSON the file should hold.
func jsonType(kind string) string {
	switch kind {
	case "slice", "array":
		return "an array"
	case "map", "struct", "ptr":
		return "an object"
	case "string":
		return "a string"
	case "float64", "int", "int64":
		return "a number"
	}
	return kind
}

// lineCol gives the position of the byte before offset off (the last byte the decoder read,
// where encoding/json puts its offsets) as "line:column", both counted from 1.
func lineCol(data []byte, off int64) string {
	if len(data) == 0 {
		return "1:1"
	}
	off = min(max(off, 1), int64(len(data)))
	i := off - 1
	line := 1 + bytes.Count(data[:i], []byte("\n"))
	col := i - int64(bytes.LastIndexByte(data[:i], '\n'))
	return fmt.Sprintf("%d:%d", line, col)
}

// Series returns the bins of the named features, in order, then the score's when score is
// set: the series a pipeline's drift monitor compares. It fails, wrapping
// ErrInvalidReference, naming the first series the reference does not hold.
func (r *Reference) Series(features []string, score bool) ([]*Bins, error) {
	out := make([]*Bins, 0, len(features)+1)
	for _, name := range features {
		b := r.Features[name]
		if b == nil {
			return nil, fmt.Errorf("%w: no distribution of feature %q; make the reference again with kappa profile for this pipeline", ErrInvalidReference, name)
		}
		out = append(out, b)
	}
	if score {
		if r.Score == nil {
			return nil, fmt.Errorf("%w: no distribution of the score; make the reference again with kappa profile for this pipeline", ErrInvalidReference)
		}
		out = append(out, r.Score)
	}
	return out, nil
}
