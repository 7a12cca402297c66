# best: Docker's Node.js guide (https://docs.docker.com/guides/nodejs/containerize/, the Dockerfile
# `docker init` writes): package.json and package-lock.json bind-mounted into `npm ci --omit=dev`
# with npm's cache on a cache mount, then the source; NODE_ENV=production.
# Adapted to this machine: the local base as ARG BASE (a stand-in for the official node image);
# Strata's user (10001 instead of the image's `node` user, which the local base lacks), env and
# command (`npm start`, as Strata's image).
ARG BASE=local/strata-node:test
FROM ${BASE}
ENV NODE_ENV=production PORT=3000
# Build-time only, as Strata's build_env.
ARG npm_config_update_notifier=false
ARG npm_config_fund=false
ARG npm_config_audit=false
WORKDIR /app
RUN --mount=type=bind,source=package.json,target=package.json \
    --mount=type=bind,source=package-lock.json,target=package-lock.json \
    --mount=type=cache,target=/root/.npm \
    npm ci --omit=dev
USER 10001:10001
COPY . .
EXPOSE 3000
CMD ["npm", "start"]
