# The Strata frontend image: a static binary on scratch, for linux/amd64 and linux/arm64. Build and
# push it, then name it in the first line of a spec: `# syntax=<registry>/strata:<tag>`.
#
#   docker buildx build -f frontend.Dockerfile --platform linux/amd64,linux/arm64 \
#     -t <registry>/strata:<tag> --push .
#
# The compiler runs on the build machine's own platform ($BUILDPLATFORM) and cross-compiles to each
# target platform: no emulation, so an arm64 image (Apple silicon, Graviton) costs one more compile,
# not an emulated one. musl targets linked with rust-lld need no C cross toolchain. No `# syntax=`
# line: the builder's built-in Dockerfile frontend has all this file uses, so only the Rust image is
# pulled. Without a registry, scripts/frontend-image.sh makes the amd64 image from a local cargo
# build.

FROM --platform=$BUILDPLATFORM rust:1-bookworm AS build
ARG TARGETARCH
RUN case "$TARGETARCH" in \
      amd64) echo x86_64-unknown-linux-musl ;; \
      arm64) echo aarch64-unknown-linux-musl ;; \
      *) echo "frontend.Dockerfile: no Rust target for $TARGETARCH (linux/amd64 and linux/arm64 are built)" >&2; exit 1 ;; \
    esac >/rust-target && \
    rustup target add "$(cat /rust-target)"
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
# One target directory for both platforms: the build scripts and proc macros (host code) are
# compiled once; each target's output lives under target/<triple>/.
RUN --mount=type=cache,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,target=/src/target,sharing=locked \
    t=$(cat /rust-target) && \
    RUSTFLAGS="-C linker=rust-lld -C target-feature=+crt-static" \
    cargo build --release --locked --target "$t" --bin strata && \
    cp "target/$t/release/strata" /strata

FROM scratch
COPY --from=build /strata /strata
# Frontends need no network: BuildKit hands everything over the gRPC pipe.
LABEL moby.buildkit.frontend.network.none="true"
# Only what Strata implements: LLB inputs as the context, subrequests (--call), and named contexts
# (images and directories).
LABEL moby.buildkit.frontend.caps="moby.buildkit.frontend.inputs,moby.buildkit.frontend.subrequests,moby.buildkit.frontend.contexts"
ENTRYPOINT ["/strata", "frontend"]
