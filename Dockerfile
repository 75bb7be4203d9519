# syntax=docker/dockerfile:1.7
#
# Kappa's image: a static binary on distroless, running as the nonroot user (65532).
#
#   docker build -t kappa .
#   docker run --rm kappa version
#   docker run --rm -v "$PWD/examples/fraud:/etc/kappa:ro" kappa run \
#       -f /etc/kappa/fraud.yaml --brokers host:9092 --instance-id kappa-0
#
# The version `kappa version` prints is the module version the Go toolchain stamps from git
# (runtime/debug.ReadBuildInfo; cmd/kappa sets no variable with -X): a tag such as v0.3.0,
# or a pseudo-version v0.0.0-<time>-<commit>[+dirty] between tags. That is why the build
# context keeps .git (.dockerignore leaves it in): the build mounts it and never copies it
# into a layer. Without a usable .git (a source tarball, or a git worktree, whose .git is a
# pointer to a directory outside the context) the binary says "devel".

ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
ENV CGO_ENABLED=0
# Modules first, so this layer's work is reused until go.mod or go.sum change.
RUN --mount=type=bind,source=go.mod,target=go.mod \
    --mount=type=bind,source=go.sum,target=go.sum \
    --mount=type=cache,target=/go/pkg/mod \
    go mod download
# The context is bind-mounted read-only; only the binary and the empty state directory
# leave this stage. safe.directory: the context's files need not belong to the build's user.
RUN --mount=type=bind,target=/src \
    --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    git config --global --add safe.directory /src && \
    vcs=false && \
    if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then vcs=true; fi && \
    go build -buildvcs="$vcs" -trimpath -ldflags='-s -w' -o /out/kappa ./cmd/kappa && \
    mkdir -p /out/state

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kappa /kappa
# The state directory, owned by nonroot so that a fresh named volume mounted here is
# writable. It is also the working directory: a pipeline's default state_dir
# (./kappa-state/<name>) lands in the volume.
COPY --from=build --chown=65532:65532 /out/state /var/lib/kappa
USER 65532:65532
WORKDIR /var/lib/kappa
VOLUME ["/var/lib/kappa"]
# The admin server of `kappa run`: /metrics, /healthz, /readyz.
EXPOSE 9464
ENTRYPOINT ["/kappa"]
CMD ["run", "-f", "/etc/kappa/pipeline.yaml"]
