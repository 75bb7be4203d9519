package main

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"strings"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int    // 1-based line of its first line
	cmd  string // upper case: FROM, RUN, ...
	args string // the rest, continuation backslashes and embedded comment lines removed
}

// stage is one FROM and the instructions after it.
type stage struct {
	line  int
	image string // after ARG substitution
	name  string // the AS name, or ""
	body  []instruction
}

// parseDockerfile splits data into instructions. It handles what the Dockerfile reference
// calls the basics: parser directives and comments, blank lines, continuation lines with
// the escape character (\ or, by directive, `) and comment lines inside them. Heredocs
// (RUN <<EOF) are refused rather than misread.
func parseDockerfile(data []byte) ([]instruction, error) {
	lines := strings.Split(strings.ReplaceAll(string(data), "\r\n", "\n"), "\n")
	escape := `\`
	var out []instruction
	var cur *instruction
	directives := true
	for i, raw := range lines {
		trimmed := strings.TrimSpace(raw)
		if directives {
			if k, v, ok := directive(trimmed); ok {
				if k == "escape" {
					escape = v
				}
				continue
			}
			directives = false
		}
		if trimmed == "" || strings.HasPrefix(trimmed, "#") {
			continue // comments and blank lines, also between continuation lines
		}
		if cur == nil {
			cmd, rest, _ := strings.Cut(trimmed, " ")
			out = append(out, instruction{line: i + 1, cmd: strings.ToUpper(cmd)})
			cur = &out[len(out)-1]
			trimmed = strings.TrimSpace(rest)
		}
		if strings.Contains(trimmed, "<<") && (cur.cmd == "RUN" || cur.cmd == "COPY") && heredoc(trimmed) {
			return nil, fmt.Errorf("line %d: heredocs are not supported by this check", i+1)
		}
		if cont := strings.HasSuffix(trimmed, escape); cont {
			cur.args += strings.TrimSuffix(trimmed, escape) + " "
			continue
		}
		cur.args = strings.TrimSpace(cur.args + trimmed)
		cur = nil
	}
	if cur != nil {
		return nil, fmt.Errorf("line %d: %s ends with a continuation and no next line", cur.line, cur.cmd)
	}
	return out, nil
}

// directive parses a parser directive line, "# key=value".
func directive(line string) (key, value string, ok bool) {
	rest, ok := strings.CutPrefix(line, "#")
	if !ok {
		return "", "", false
	}
	k, v, ok := strings.Cut(strings.TrimSpace(rest), "=")
	k = strings.ToLower(strings.TrimSpace(k))
	if !ok || (k != "syntax" && k != "escape" && k != "check") {
		return "", "", false
	}
	return k, strings.TrimSpace(v), true
}

// heredoc reports whether s has a heredoc marker such as <<EOF or <<-"EOF".
func heredoc(s string) bool {
	for _, f := range strings.Fields(s) {
		if m, ok := strings.CutPrefix(f, "<<"); ok {
			m = strings.Trim(strings.TrimPrefix(m, "-"), `"'`)
			if m != "" && (m[0] >= 'A' && m[0] <= 'Z' || m[0] >= 'a' && m[0] <= 'z') {
				return true
			}
		}
	}
	return false
}

// stages groups instructions by FROM, substituting the global ARGs (those before the first
// FROM) in the FROM lines.
func stages(ins []instruction) ([]stage, error) {
	args := map[string]string{}
	var out []stage
	for _, in := range ins {
		switch {
		case in.cmd == "ARG" && len(out) == 0:
			for _, f := range strings.Fields(in.args) {
				k, v, _ := strings.Cut(f, "=")
				args[k] = strings.Trim(v, `"`)
			}
		case in.cmd == "FROM":
			fields := strings.Fields(os.Expand(in.args, func(k string) string { return args[k] }))
			for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
				fields = fields[1:] // --platform=...
			}
			switch {
			case len(fields) == 1:
				out = append(out, stage{line: in.line, image: fields[0]})
			case len(fields) == 3 && strings.EqualFold(fields[1], "AS"):
				out = append(out, stage{line: in.line, image: fields[0], name: fields[2]})
			default:
				return nil, fmt.Errorf("line %d: FROM %s: want FROM image [AS name]", in.line, in.args)
			}
		case len(out) == 0:
			return nil, fmt.Errorf("line %d: %s before the first FROM", in.line, in.cmd)
		default:
			out[len(out)-1].body = append(out[len(out)-1].body, in)
		}
	}
	return out, nil
}

// checkDockerfile returns the problems of the Dockerfile in data: it must build kappa in
// one stage, statically (CGO_ENABLED=0, -trimpath), and copy it into a final distroless
// stage that runs as a non-root user, from pinned base images.
func checkDockerfile(name string, data []byte) []string {
	var problems []string
	addf := func(line int, format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s:%d: %s", name, line, fmt.Sprintf(format, args...)))
	}
	ins, err := parseDockerfile(data)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", name, err)}
	}
	st, err := stages(ins)
	if err != nil {
		return []string{fmt.Sprintf("%s: %v", name, err)}
	}
	if len(st) < 2 {
		return []string{fmt.Sprintf("%s: %d stage(s): want a build stage and a final runtime stage", name, len(st))}
	}
	named := map[string]bool{}
	for _, s := range st {
		if !named[s.image] && s.image != "scratch" {
			if why := unpinned(s.image); why != "" {
				addf(s.line, "FROM %s %s; pin a release tag", s.image, why)
			}
		}
		if s.name != "" {
			named[s.name] = true
		}
	}

	// The build: a stage that runs go build of ./cmd/kappa with CGO_ENABLED=0 and -trimpath.
	build := -1
	for i, s := range st[:len(st)-1] {
		cgo := false
		for _, in := range s.body {
			if (in.cmd == "ENV" || in.cmd == "RUN" || in.cmd == "ARG") && hasAssign(in.args, "CGO_ENABLED", "0") {
				cgo = true
			}
			if in.cmd != "RUN" || !strings.Contains(in.args, "go build") || !strings.Contains(in.args, "./cmd/kappa") {
				continue
			}
			build = i
			if !cgo {
				addf(in.line, "go build without CGO_ENABLED=0 set before it in its stage: the binary would not be static")
			}
			for _, flag := range []string{"-trimpath", "-ldflags"} {
				if !strings.Contains(in.args, flag) {
					addf(in.line, "go build without %s", flag)
				}
			}
		}
	}
	if build < 0 {
		problems = append(problems, fmt.Sprintf("%s: no stage before the last runs go build ... ./cmd/kappa", name))
	}

	final := st[len(st)-1]
	if !strings.HasPrefix(final.image, "gcr.io/distroless/static") {
		addf(final.line, "final stage FROM %s: want gcr.io/distroless/static-* (no shell, no libc: the binary is static)", final.image)
	}
	user, userLine := "", final.line
	var copies []string // destinations of COPY --from the build stage
	entrypoint, expose := "", false
	for _, in := range final.body {
		switch in.cmd {
		case "USER":
			user, userLine = in.args, in.line
		case "COPY":
			fields := strings.Fields(in.args)
			if build >= 0 && len(fields) > 0 && (st[build].name != "" && slices.Contains(fields, "--from="+st[build].name) ||
				slices.Contains(fields, fmt.Sprintf("--from=%d", build))) {
				copies = append(copies, fields[len(fields)-1])
			}
		case "ENTRYPOINT":
			var exec []string
			if err := json.Unmarshal([]byte(in.args), &exec); err != nil || len(exec) == 0 {
				addf(in.line, "ENTRYPOINT %s: want the exec form, [\"/kappa\"] (distroless has no shell)", in.args)
				continue
			}
			entrypoint = exec[0]
		case "EXPOSE":
			expose = expose || strings.Contains(" "+in.args+" ", " 9464 ") || strings.Contains(" "+in.args+" ", " 9464/tcp ")
		}
	}
	switch {
	case user == "" && !strings.HasSuffix(final.image, ":nonroot") && !strings.Contains(final.image, ":nonroot@"):
		addf(final.line, "final stage runs as root: add USER nonroot (65532) or use a :nonroot image")
	case user != "" && isRoot(user):
		addf(userLine, "final stage USER %s is root", user)
	}
	switch {
	case entrypoint == "":
		addf(final.line, "final stage has no ENTRYPOINT")
	case build >= 0 && !slices.Contains(copies, entrypoint):
		addf(final.line, "final stage does not COPY --from the build stage to its ENTRYPOINT %s", entrypoint)
	}
	if !expose {
		addf(final.line, "final stage does not EXPOSE 9464, the admin port")
	}
	return problems
}

// hasAssign reports whether args sets key to value, as ENV key=value, ENV key value or a
// RUN's key=value prefix.
func hasAssign(args, key, value string) bool {
	fields := strings.Fields(args)
	for i, f := range fields {
		if f == key+"="+value || f == key+`="`+value+`"` {
			return true
		}
		if f == key && i+1 < len(fields) && len(fields) == 2 && fields[i+1] == value {
			return true
		}
	}
	return false
}

// isRoot reports whether a USER argument (user[:group]) names root.
func isRoot(user string) bool {
	u, _, _ := strings.Cut(user, ":")
	return u == "root" || u == "0"
}
