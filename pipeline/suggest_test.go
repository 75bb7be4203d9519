package pipeline

import "testing"

func TestSuggest(t *testing.T) {
	tests := []struct {
		name string
		want string
	}{
		{"key_feild", "key_field"}, // swapped letters
		{"key_fild", "key_field"},  // a letter left out
		{"keyField", "key_field"},  // camel case
		{"key-field", "key_field"}, // dash
		{"KEY_FIELD", "key_field"}, // case
		{"topic", "topics"},        // singular
		{"fromat", "format"},
		{"max_out_of_order", "max_out_of_orderness"}, // prefix
		{"event", "event_time"},                      // prefix of five letters
		{"even", ""},                                 // too short a prefix
		{"tpoics", "topics"},
		{"topisc", "topics"},
		{"key", ""},
		{"partitions", ""},
		{"", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := suggest(tt.name, inputFields); got != tt.want {
				t.Errorf("suggest(%q): got %q, want %q", tt.name, got, tt.want)
			}
		})
	}
}

func TestEditDistance(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"", "", 0},
		{"abc", "", 3},
		{"", "abc", 3},
		{"abc", "abc", 0},
		{"abc", "acb", 1}, // swap
		{"kitten", "sitting", 3},
		{"ca", "abc", 3}, // optimal string alignment, not full Damerau
		{"äb", "bä", 1},  // runes, not bytes
	}
	for _, tt := range tests {
		t.Run(tt.a+"/"+tt.b, func(t *testing.T) {
			if got := editDistance(tt.a, tt.b); got != tt.want {
				t.Errorf("editDistance(%q, %q): got %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}
