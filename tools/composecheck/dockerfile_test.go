package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func repoDockerfile(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repo, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func TestDockerfileProblems(t *testing.T) {
	base := repoDockerfile(t)
	final := base[strings.Index(base, "FROM gcr.io/distroless"):]
	for _, tc := range []struct {
		name       string
		old, new   string // replaced in the repository's Dockerfile; "" keeps it as it is
		dockerfile string // used instead when set
		want       string // a problem containing this; "" wants none
	}{
		{name: "the repository's"},
		{name: "single stage", dockerfile: final, want: "1 stage(s)"},
		{name: "unpinned final image", old: "static-debian12:nonroot", new: "static-debian12", want: "FROM gcr.io/distroless/static-debian12 has no tag"},
		{name: "build image latest", old: "golang:${GO_VERSION}-bookworm", new: "golang:latest", want: "FROM golang:latest is tagged latest"},
		{name: "ARG substituted", old: "ARG GO_VERSION=1.26.8\n\nFROM golang:${GO_VERSION}-bookworm", new: "ARG GO_TAG=latest\n\nFROM golang:${GO_TAG}", want: "FROM golang:latest is tagged latest"},
		{name: "ARG without a value", old: "ARG GO_VERSION=1.26.8", new: "ARG GO_VERSION", want: `FROM golang:-bookworm has no valid tag ("-bookworm"`},
		{name: "ENTRYPOINT in shell form", old: `ENTRYPOINT ["/kappa"]`, new: "ENTRYPOINT /kappa", want: "want the exec form"},
		{name: "root user", old: "USER 65532:65532", new: "USER root", want: "final stage USER root is root"},
		{name: "no USER, nonroot image", old: "USER 65532:65532\n", new: ""},
		{name: "no USER, root image", old: "USER 65532:65532\n", new: "", want: "final stage runs as root"},
		{name: "cgo on", old: "ENV CGO_ENABLED=0", new: "ENV CGO_ENABLED=1", want: "without CGO_ENABLED=0"},
		{name: "no trimpath", old: "-trimpath ", new: "", want: "go build without -trimpath"},
		{name: "final stage not distroless", old: "FROM gcr.io/distroless/static-debian12:nonroot", new: "FROM debian:12.11", want: "want gcr.io/distroless/static-*"},
		{name: "binary not copied from the build", old: "COPY --from=build /out/kappa", new: "COPY bin/kappa", want: "does not COPY --from the build stage to its ENTRYPOINT /kappa"},
		{name: "no EXPOSE", old: "EXPOSE 9464\n", new: "", want: "does not EXPOSE 9464"},
		{name: "no go build", old: "go build", new: "go vet", want: "no stage before the last runs go build"},
		{name: "heredoc", old: "RUN --mount=type=bind,source=go.mod", new: "RUN <<EOF\necho\nEOF\nRUN --mount=type=bind,source=go.mod", want: "heredocs are not supported"},
		{name: "instruction before FROM", old: "ARG GO_VERSION=1.26.8", new: "ENV X=1", want: "ENV before the first FROM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			df := tc.dockerfile
			if df == "" {
				df = base
				if tc.old != "" {
					if !strings.Contains(df, tc.old) {
						t.Fatalf("Dockerfile has no %q: the case is out of date", tc.old)
					}
					df = strings.Replace(df, tc.old, tc.new, 1)
				}
				if tc.name == "no USER, root image" {
					df = strings.Replace(df, "static-debian12:nonroot", "static-debian12:debug", 1)
				}
			}
			problems := checkDockerfile("Dockerfile", []byte(df))
			switch {
			case tc.want == "" && len(problems) > 0:
				t.Errorf("got problems %q, want none", problems)
			case tc.want != "" && !slices.ContainsFunc(problems, func(p string) bool { return strings.Contains(p, tc.want) }):
				t.Errorf("got problems %q, want one containing %q", problems, tc.want)
			}
		})
	}
}

func TestParseDockerfile(t *testing.T) {
	const df = "# syntax=docker/dockerfile:1\n" +
		"# escape=\\\n" +
		"FROM golang:1.26.8 AS build\n" +
		"RUN a \\\n" +
		"  # a comment inside a continuation\n" +
		"\n" +
		"  b && \\\n" +
		"  c\n" +
		"from scratch\n"
	ins, err := parseDockerfile([]byte(df))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range ins {
		got = append(got, in.cmd+"|"+in.args)
	}
	want := []string{"FROM|golang:1.26.8 AS build", "RUN|a  b &&  c", "FROM|scratch"}
	if !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
	if ins[1].line != 4 {
		t.Errorf("got RUN at line %d, want 4", ins[1].line)
	}
}
