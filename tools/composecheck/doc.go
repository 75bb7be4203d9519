// Command composecheck checks the repository's docker-compose.yml and Dockerfile without a
// Docker engine, and prints compose=ok or every problem it found (exit status 1).
//
//	go run ./tools/composecheck            # from the repository root
//	go run ./tools/composecheck -dir path  # another checkout
//
// docker-compose.yml is loaded with the Compose specification's own loader
// (github.com/compose-spec/compose-go/v2: schema, interpolation, consistency), then the
// stack is checked: the services it must have, an image or a build for each, pinned image
// tags, published ports, bind-mounted host paths that exist in the repository, depends_on
// targets that exist and can meet their condition, and the kappa service's pipeline file,
// found through its volumes and parsed with pipeline.Load, with its model file present.
// The Dockerfile is read by a small parser of its own (continuation lines, comments, stages)
// and checked for a multi-stage static build (CGO_ENABLED=0, -trimpath), pinned base
// images and a non-root distroless final stage.
//
// It owns nothing but these checks: it never runs Docker, builds images or changes files.
// It is a separate program so that the Compose loader never reaches the kappa binary.
package main
