# seed: the usual hand-ordered Node Dockerfile: manifests first, `npm ci` with the cache cleaned
# in the same layer (npm's analogue of pip --no-cache-dir), source last.
ARG BASE=local/strata-node:test
FROM ${BASE}
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY . .
ENV PORT=3000 NODE_ENV=production
EXPOSE 3000
CMD ["npm", "start"]
