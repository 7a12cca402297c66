# naive: the seed Dockerfile with the whole context copied before the install, so any source edit
# re-runs `npm ci` (from the network: the cache is cleaned).
ARG BASE=local/strata-node:test
FROM ${BASE}
WORKDIR /app
COPY . .
RUN npm ci --omit=dev && npm cache clean --force
ENV PORT=3000 NODE_ENV=production
EXPOSE 3000
CMD ["npm", "start"]
