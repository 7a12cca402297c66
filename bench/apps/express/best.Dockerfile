# best: the usual best-practice pattern: manifests first, npm's cache on a BuildKit cache mount,
# source last; the same environment, user and command as the Strata image.
ARG BASE=local/strata-node:test
FROM ${BASE}
ENV PORT=3000
# Build-time only, as Strata's build_env.
ARG npm_config_update_notifier=false
ARG npm_config_fund=false
ARG npm_config_audit=false
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev
COPY . .
ENV NODE_ENV=production
USER 10001:10001
EXPOSE 3000
CMD ["npm", "start"]
