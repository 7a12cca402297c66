# best: Bun's "Containerize a Bun application with Docker" (https://bun.com/guides/ecosystem/docker):
# an install stage with package.json + bun.lock copied to /temp/prod and `bun install
# --frozen-lockfile --production`, the release stage receiving node_modules, then the source,
# `bun run`. Bun's cache on a cache mount (the bench's "best" has the tool's download cache on a
# mount; the guide has none). The guide's dev install, `bun test` and `bun run build` stage is left
# out: this app has no tests and no build script.
# Adapted to this machine: Bun from npm at Strata's version (`npm install -g bun@1.4.5`) on the local
# node base, instead of FROM oven/bun; NODE_EXTRA_CA_CERTS so Bun trusts the proxy's CA (as the
# spec's build_env); Strata's user and port.
ARG BASE=local/strata-node:test
FROM ${BASE} AS base
ARG npm_config_update_notifier=false
ARG npm_config_fund=false
ARG npm_config_audit=false
RUN npm install -g --prefix /opt/bun bun@1.4.5
ENV PATH=/opt/bun/bin:$PATH
WORKDIR /usr/src/app

FROM base AS install
RUN mkdir -p /temp/prod
COPY package.json bun.lock /temp/prod/
RUN --mount=type=cache,target=/root/.bun/install/cache \
    cd /temp/prod && NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    bun install --frozen-lockfile --production

FROM base AS release
COPY --from=install /temp/prod/node_modules node_modules
COPY . .
ENV NODE_ENV=production PORT=3000
USER 10001:10001
EXPOSE 3000/tcp
CMD ["bun", "run", "server.ts"]
