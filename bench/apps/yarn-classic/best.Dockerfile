# best: Docker's Node.js guide (https://docs.docker.com/guides/nodejs/containerize/) with Yarn 1 in
# npm's place (Yarn 1 documents no Dockerfile): package.json and yarn.lock first, `yarn install
# --frozen-lockfile --production` with Yarn's cache (/usr/local/share/.cache/yarn for root) on a
# cache mount, `sharing=locked` (Yarn 1's cache breaks under concurrent writers), then the source.
# Adapted to this machine: Yarn from npm at Strata's version (the official node image ships Yarn 1;
# the local base does not); the local base as ARG BASE; Strata's user, env and command.
ARG BASE=local/strata-node:test
FROM ${BASE}
ARG npm_config_update_notifier=false
ARG npm_config_fund=false
ARG npm_config_audit=false
RUN npm install -g yarn@1.22.22
ENV NODE_ENV=production PORT=3000
WORKDIR /app
RUN --mount=type=bind,source=package.json,target=package.json \
    --mount=type=bind,source=yarn.lock,target=yarn.lock \
    --mount=type=cache,target=/usr/local/share/.cache/yarn,sharing=locked \
    yarn install --frozen-lockfile --production --non-interactive
USER 10001:10001
COPY . .
EXPOSE 3000
CMD ["yarn", "start"]
