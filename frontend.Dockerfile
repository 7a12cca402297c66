# syntax=docker/dockerfile:1
# The Strata frontend image: a static binary on scratch. Build and push it, then use its name in
# the first line of a spec: `# syntax=<registry>/strata:<tag>`.
#
#   docker buildx build -f frontend.Dockerfile -t <registry>/strata:<tag> --push .
#
# Without a registry, scripts/frontend-image.sh builds the same image from a local cargo build.

FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    RUSTFLAGS="-C target-feature=+crt-static" \
    cargo build --release --locked --target x86_64-unknown-linux-gnu --bin strata && \
    cp target/x86_64-unknown-linux-gnu/release/strata /strata

FROM scratch
COPY --from=build /strata /strata
# Frontends need no network: BuildKit hands everything over the gRPC pipe.
LABEL moby.buildkit.frontend.network.none="true"
# Only what Strata implements: LLB inputs as the context, and named contexts (images only).
LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts"
ENTRYPOINT ["/strata", "frontend"]
