# best-cachemount: Docker's Rust guide, "Build your Rust image"
# (https://docs.docker.com/guides/rust/build-images/, the Dockerfile `docker init` writes): one RUN
# with the sources bind-mounted and target/, the registry and git db on cache mounts, `cargo build
# --locked --release`, the binary copied out in the same RUN; the binary alone on a slim image as
# user 10001.
# Adapted to this machine: a workspace (crates/ bind-mounted instead of src/); Debian images (the
# guide's are Alpine) named as usual and replaced by the local stand-ins through --build-context
# (as for Strata); the binary path and command Strata's image has.
FROM rust:1-slim-bookworm AS build
WORKDIR /app
RUN --mount=type=bind,source=crates,target=crates \
    --mount=type=bind,source=Cargo.toml,target=Cargo.toml \
    --mount=type=bind,source=Cargo.lock,target=Cargo.lock \
    --mount=type=cache,target=/app/target/ \
    --mount=type=cache,target=/usr/local/cargo/git/db \
    --mount=type=cache,target=/usr/local/cargo/registry/ \
    cargo build --locked --release --bin server && \
    cp ./target/release/server /bin/server

FROM debian:bookworm-slim AS final
COPY --from=build /bin/server /usr/local/bin/server
EXPOSE 8080
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/server"]
