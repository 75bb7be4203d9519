package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantOut   string
		wantUsage bool // want a usageError
	}{
		{name: "no args prints help", args: nil, wantOut: "usage: kappa <command>"},
		{name: "version", args: []string{"version"}, wantOut: "kappa "},
		{name: "run needs a pipeline", args: []string{"run", "--brokers", "127.0.0.1:9"}, wantUsage: true},
		{name: "run needs brokers", args: []string{"run", "-f", "x.yaml", "--brokers", ""}, wantUsage: true},
		{name: "validate needs a pipeline", args: []string{"validate"}, wantUsage: true},
		{name: "unknown command", args: []string{"frobnicate"}, wantUsage: true},
		{name: "unknown flag", args: []string{"version", "-nope"}, wantUsage: true},
		{name: "stray argument", args: []string{"version", "extra"}, wantUsage: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			err := run(context.Background(), tt.args, &out, &errOut)
			var ue usageError
			if got := errors.As(err, &ue); got != tt.wantUsage {
				t.Fatalf("got error %v, want usage error: %v", err, tt.wantUsage)
			}
			if !tt.wantUsage && err != nil {
				t.Fatalf("got error %v, want nil", err)
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("got output %q, want it to contain %q", out.String(), tt.wantOut)
			}
		})
	}
}
