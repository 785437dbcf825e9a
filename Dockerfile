# syntax=docker/dockerfile:1
# Falconer: build on Node 24 LTS, run a small non-root image that needs no writable root filesystem.
ARG NODE_IMAGE=node:24-bookworm-slim

# --- build: compile TypeScript to dist/, the console to dist/ui/ -----------------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are here, and the `node` dev dependency's
# install script would download a second Node binary the image already has.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY ui ./ui
# `npm run build` would put node_modules/.bin first on PATH, where the `node` dev dependency's launcher
# (left without its binary by --ignore-scripts) shadows the image's node; call the compiler directly.
RUN node node_modules/typescript/bin/tsc -p tsconfig.build.json \
 && node node_modules/vite/bin/vite.js build --config ui/vite.config.mts --logLevel warn \
 && rm -f dist/.tsbuildinfo

# --- deps: production dependencies only -------------------------------------------------------------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

# --- runtime ----------------------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
# The runtime never installs anything: drop npm, npx, corepack and yarn (size, and their CVEs).
RUN rm -rf /usr/local/lib/node_modules /usr/local/bin/npm /usr/local/bin/npx /usr/local/bin/corepack \
           /usr/local/bin/yarn /usr/local/bin/yarnpkg /opt/yarn-*
ENV NODE_ENV=production
WORKDIR /app
# Everything stays owned by root and read-only to the service user.
COPY package.json ./
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY bin ./bin
COPY rules ./rules
COPY docs/runbooks ./docs/runbooks
# Embedded mode (no Kafka, no Redis) keeps its event journal and alert state here: mount a volume (the
# manifests use an emptyDir; a PersistentVolumeClaim survives the pod too). FALCONER_DATA_DIR= (empty)
# runs memory-only. With Kafka and Redis configured nothing is written here.
RUN mkdir -p /var/lib/falconer && chown 10001:10001 /var/lib/falconer
ENV FALCONER_DATA_DIR=/var/lib/falconer
VOLUME /var/lib/falconer
# A numeric UID so Kubernetes can verify runAsNonRoot without a passwd entry.
USER 10001:10001
EXPOSE 2804
HEALTHCHECK --interval=30s --timeout=3s --start-period=15s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.FALCONER_PORT || 2804) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/falconer.js"]
CMD ["serve"]
