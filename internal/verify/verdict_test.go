package verify

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestVerdictString(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    Verdict
		want string
	}{
		{
			name: "clean run",
			v: Verdict{
				Generated: 1000, CommittedIn: 1000, Emitted: 990, DLQ: 10, Complete: true,
				Faults: map[string]int{"sigterm": 2, "kill9": 3}, MaxRecovery: 4250 * time.Millisecond,
			},
			want: "verdict: generated=1000 committed_in=1000 emitted=990 duplicates=0 lost=0 reordered=0 aborted_reads=0 " +
				"aggregate_mismatches=0 window_mismatches=0 late=0 dlq=10 faults=kill9:3,sigterm:2 max_recovery_s=4.2 result=ALL-RECORDS-DELIVERED",
		},
		{
			name: "no faults, a duplicate",
			v:    Verdict{Generated: 5, CommittedIn: 5, Emitted: 6, Duplicates: 1, Complete: true},
			want: "verdict: generated=5 committed_in=5 emitted=6 duplicates=1 lost=0 reordered=0 aborted_reads=0 " +
				"aggregate_mismatches=0 window_mismatches=0 late=0 dlq=0 faults=none max_recovery_s=0.0 result=FAIL",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.v.String(); got != tc.want {
				t.Fatalf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

func TestVerdictOK(t *testing.T) {
	ok := Verdict{Generated: 10, CommittedIn: 10, Emitted: 10, Complete: true, Late: 3}
	if !ok.OK() {
		t.Fatalf("%s: got OK false, want true (late records are not failures)", &ok)
	}
	for name, mutate := range map[string]func(*Verdict){
		"incomplete":           func(v *Verdict) { v.Complete = false },
		"committed short":      func(v *Verdict) { v.CommittedIn = 9 },
		"committed more":       func(v *Verdict) { v.CommittedIn = 11 },
		"duplicates":           func(v *Verdict) { v.Duplicates = 1 },
		"lost":                 func(v *Verdict) { v.Lost = 1 },
		"reordered":            func(v *Verdict) { v.Reordered = 1 },
		"aborted reads":        func(v *Verdict) { v.AbortedReads = 1 },
		"aggregate mismatches": func(v *Verdict) { v.AggregateMismatches = 1 },
		"window mismatches":    func(v *Verdict) { v.WindowMismatches = 1 },
	} {
		v := ok
		mutate(&v)
		if v.OK() || !strings.HasSuffix(v.String(), " result=FAIL") {
			t.Errorf("%s: got OK %v and %q, want a FAIL", name, v.OK(), v.String())
		}
	}
}

func TestProblemsAreCapped(t *testing.T) {
	var v Verdict
	for i := range MaxProblems + 5 {
		v.problemf("problem %d", i)
	}
	v.closeProblems()
	if got, want := len(v.Problems), MaxProblems+1; got != want {
		t.Fatalf("got %d problem lines, want %d", got, want)
	}
	if got, want := v.Problems[MaxProblems], "... and 5 more problems"; got != want {
		t.Fatalf("last line: got %q, want %q", got, want)
	}
}

func ExampleVerdict_String() {
	v := Verdict{
		Generated: 100, CommittedIn: 100, Emitted: 99, DLQ: 1, Complete: true,
		Faults: map[string]int{"kill9": 2}, MaxRecovery: 1500 * time.Millisecond,
	}
	fmt.Println(v.String())
	// Output:
	// verdict: generated=100 committed_in=100 emitted=99 duplicates=0 lost=0 reordered=0 aborted_reads=0 aggregate_mismatches=0 window_mismatches=0 late=0 dlq=1 faults=kill9:2 max_recovery_s=1.5 result=ALL-RECORDS-DELIVERED
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Brokers: []string{"127.0.0.1:9092"}, Group: "g", Input: "in", Output: "out", DeadLetter: "out-dlq"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("Validate: got %v, want nil", err)
	}
	for name, mutate := range map[string]func(*Config){
		"no brokers":       func(c *Config) { c.Brokers = nil },
		"no group":         func(c *Config) { c.Group = "" },
		"no input":         func(c *Config) { c.Input = "" },
		"no output":        func(c *Config) { c.Output = "" },
		"input is output":  func(c *Config) { c.Output = "in" },
		"output is dlq":    func(c *Config) { c.DeadLetter = "out" },
		"negative count":   func(c *Config) { c.Generated = -1 },
		"negative timeout": func(c *Config) { c.WaitTimeout = -time.Second },
		"time format":      func(c *Config) { c.TimeFormat = "unix" },
	} {
		c := ok
		mutate(&c)
		if err := c.Validate(); err == nil {
			t.Errorf("%s: Validate got nil, want an error", name)
		}
	}
}
