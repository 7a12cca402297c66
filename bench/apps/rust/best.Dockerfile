# best: cargo-chef's README (https://github.com/LukeMathWalker/cargo-chef, "How to use"): a planner
# stage runs `cargo chef prepare` on the whole project, a builder stage `cargo chef cook --release`
# on the recipe alone (the dependencies), then copies the source and runs `cargo build --release`;
# the binary alone on debian:bookworm-slim.
# Adapted to this machine: the lukemathwalker/cargo-chef image is not reachable, so the chef stage is
# rust:1-slim-bookworm plus `cargo install cargo-chef --locked` (the README's way without its
# image); the official images are replaced by the local stand-ins through --build-context (as for
# Strata); the binary, user and command Strata's image has.
FROM rust:1-slim-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.72
WORKDIR /app

FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

FROM chef AS builder
COPY --from=planner /app/recipe.json recipe.json
RUN cargo chef cook --release --recipe-path recipe.json
COPY . .
RUN cargo build --release --bin server

FROM debian:bookworm-slim AS runtime
WORKDIR /app
COPY --from=builder /app/target/release/server /usr/local/bin/server
EXPOSE 8080
USER 10001:10001
ENTRYPOINT ["/usr/local/bin/server"]
