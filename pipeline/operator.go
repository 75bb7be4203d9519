package pipeline

import "go.yaml.in/yaml/v3"

// Operator is one step of a pipeline. Exactly one field is set, and it names the kind;
// in the file each entry of operators is a mapping with that one key:
//
//	operators:
//	  - aggregate:
//	      field: amount
type Operator struct {
	// Aggregate keeps a per-key running count, sum, min and max of a numeric field.
	Aggregate *Aggregate
	// Window aggregates the records of each record key over event-time windows.
	Window *Window
	// Score scores each record with a model, from fields of the record and the
	// aggregates of a window operator before it.
	Score *Score
}

// Aggregate is a stateful operator that keeps, per record key, the running count, sum,
// minimum and maximum of a numeric field, and emits them after each record.
type Aggregate struct {
	// Field is the top-level numeric field to aggregate. Required.
	Field string
}

// Kind is the name of the operator's kind as the file writes it ("aggregate"), or "" when
// no kind or more than one is set.
func (o Operator) Kind() string {
	name := ""
	for _, k := range kinds {
		if k.isSet(o) {
			if name != "" {
				return ""
			}
			name = k.name
		}
	}
	return name
}

// operatorKind is everything the package knows about one kind of operator: its name in
// the file, its settings, and how to decode and check them.
type operatorKind struct {
	name    string
	example string   // a whole list entry as messages show it, without the "- "
	fields  []string // the settings in the file, in documentation order
	needs   string   // what an empty entry needs, for messages: "field"
	// lists are the settings that are lists of mappings, such as the aggregates of a
	// window, and mappings the settings that are mappings, such as the model of a score,
	// so that messages can say where their fields belong.
	lists    []nestedSetting
	mappings []nestedSetting
	isSet    func(Operator) bool
	// decode fills the kind's settings into op from the fields that the parser found
	// (only names from fields, each once) and reports wrong types through p.
	decode func(p *parser, fields map[string]*yaml.Node, path string, op *Operator)
	// check applies the rules to the settings of an op of this kind at path (e.g.
	// "operators[0].aggregate"); d is the whole definition, for the rules that look
	// beyond the operator (the topics, the window before a score).
	check func(d *Definition, op Operator, path string, r reporter)
}

// kinds lists every operator kind. Adding one is a field on Operator, its settings type,
// and an entry here. It is set in init rather than declared with its entries because the
// decoders of nested settings (window's aggregates) use the parser, whose messages read
// kinds: a declaration would be an initialization cycle.
var kinds []operatorKind

func init() { kinds = []operatorKind{aggregateKind, windowKind, scoreKind} }

// aggregateKind is the entry of the aggregate operator in kinds.
var aggregateKind = operatorKind{
	name:    "aggregate",
	example: "aggregate: {field: amount}",
	fields:  []string{"field"},
	needs:   "field",
	isSet:   func(o Operator) bool { return o.Aggregate != nil },
	decode: func(p *parser, fields map[string]*yaml.Node, path string, op *Operator) {
		a := &Aggregate{}
		if n, ok := fields["field"]; ok {
			a.Field = p.str(n, path+".field")
		}
		op.Aggregate = a
	},
	check: func(_ *Definition, op Operator, path string, r reporter) {
		checkFieldName(r, path+".field", op.Aggregate.Field,
			"add the numeric field to aggregate, e.g. field: amount")
	},
}

// nestedSetting is a setting of an operator kind that is a mapping, or a list of them.
type nestedSetting struct {
	name   string
	fields []string // the fields of the mapping (of an entry), in documentation order
	needs  string   // what an empty one needs, for messages
}

// kindNamed returns the kind with the given name, or nil.
func kindNamed(name string) *operatorKind {
	for i := range kinds {
		if kinds[i].name == name {
			return &kinds[i]
		}
	}
	return nil
}

// kindNames lists the kind names, in the order of kinds.
func kindNames() []string {
	names := make([]string, len(kinds))
	for i, k := range kinds {
		names[i] = k.name
	}
	return names
}
