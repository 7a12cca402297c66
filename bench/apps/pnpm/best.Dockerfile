# best: pnpm's "Working with Docker" (https://pnpm.io/docker, example 1): PNPM_HOME=/pnpm on PATH,
# the store on a cache mount (`id=pnpm,target=/pnpm/store`), `pnpm install --prod
# --frozen-lockfile`, `pnpm start`. The page's example copies the whole context before the install
# (any source edit re-installs); here the manifests come first and the source after, as every
# best Dockerfile in this bench (the page's `pnpm fetch` example stages the lockfile alone likewise).
# Adapted to this machine: pnpm from npm at Strata's version (`npm install -g pnpm@9.15.9`) instead
# of `corepack enable` (Corepack downloads from outside the npm registry); the local base as ARG
# BASE; Strata's user and port.
ARG BASE=local/strata-node:test
FROM ${BASE}
ARG npm_config_update_notifier=false
ARG npm_config_fund=false
ARG npm_config_audit=false
ENV PNPM_HOME="/pnpm"
ENV PATH="$PNPM_HOME:$PATH"
RUN npm install -g --prefix /pnpm pnpm@9.15.9 && ln -s /pnpm/bin/pnpm /pnpm/pnpm
WORKDIR /app
COPY package.json pnpm-lock.yaml /app/
RUN --mount=type=cache,id=pnpm,target=/pnpm/store pnpm install --prod --frozen-lockfile
COPY . /app
ENV NODE_ENV=production PORT=3000
USER 10001:10001
EXPOSE 3000
CMD ["pnpm", "start"]
