# best: Docker's Go guide, "Build your Go image" / multi-stage builds
# (https://docs.docker.com/guides/golang/build-images/): go.mod and go.sum first, `go mod
# download`, then the source, `CGO_ENABLED=0 GOOS=linux go build`, the binary alone on distroless
# as nonroot; with the module cache and the build cache on cache mounts, as Docker's "Use cache
# mounts" (https://docs.docker.com/build/cache/optimize/#use-cache-mounts, Go example) and
# `docker init`'s Go template add them.
# Adapted to this machine: the official images are named as in the guide and replaced by the local
# stand-ins through --build-context (as for Strata); distroless static (the binary is static), the
# user, path and command Strata's image has.
FROM golang:1.24 AS build-stage
WORKDIR /app
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod \
    go mod download
COPY *.go ./
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=linux go build -o /hello

FROM gcr.io/distroless/static-debian12:nonroot AS build-release-stage
WORKDIR /app
COPY --from=build-stage /hello /usr/local/bin/hello
EXPOSE 8080
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/hello"]
