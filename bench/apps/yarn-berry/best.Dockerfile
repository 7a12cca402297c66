# best: Docker's Node.js guide (https://docs.docker.com/guides/nodejs/containerize/) with Yarn 4 in
# npm's place (Yarn documents no Dockerfile): package.json and yarn.lock first, `yarn install
# --immutable`, then the source. Plug'n'Play runs the app from the package zips, so they go to the
# project (YARN_ENABLE_GLOBAL_CACHE=false, Yarn's yarnrc reference) and the global folder, Yarn's
# download mirror, is on the cache mount.
# Adapted to this machine: Yarn from npm (@yarnpkg/cli-dist at package.json's packageManager
# version) instead of `corepack enable` (Corepack downloads from repo.yarnpkg.com); the local base
# as ARG BASE; Strata's user, env and command.
ARG BASE=local/strata-node:test
FROM ${BASE}
ARG npm_config_update_notifier=false
ARG npm_config_fund=false
ARG npm_config_audit=false
RUN npm install -g @yarnpkg/cli-dist@4.18.1
ENV YARN_ENABLE_TELEMETRY=0 YARN_ENABLE_GLOBAL_CACHE=false YARN_GLOBAL_FOLDER=/root/.yarn/berry
WORKDIR /app
COPY package.json yarn.lock ./
RUN --mount=type=cache,target=/root/.yarn/berry yarn install --immutable
COPY . .
ENV NODE_ENV=production PORT=3000
USER 10001:10001
EXPOSE 3000
CMD ["yarn", "start"]
