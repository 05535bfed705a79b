# The Datamancy control plane: one image, `datamancy serve <service>` picks the service.
#   docker build -t datamancy/control-plane:0.1.0 .                      (tool server, probe,
#                                                                        model router, speech)
#   docker build --target control-plane-browser -t datamancy/control-plane-browser:0.1.0 .   (+ Chromium)
# The stack's catalog (stack/catalog.yaml) names both tags.
# Behind a TLS-inspecting proxy, hand the build its CA bundle as a secret (it reaches npm's
# steps, never a layer): --secret id=ca,src=/etc/ssl/certs/ca-certificates.crt
# `datamancy images build` builds both here on a Node 20 base it makes (docs/stack.md).
# No `# syntax=` line: the builder's own Dockerfile frontend is enough, and needs no pull.

ARG NODE_IMAGE=node:20.18.1-bookworm-slim

# --- build: install, bundle the CLI (every service inside), install the native modules ---
FROM ${NODE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# manifests first, so the dependency layer is cached while sources change
COPY package.json package-lock.json ./
COPY cli/package.json cli/
COPY packages/catalog/package.json packages/catalog/
COPY packages/clients/package.json packages/clients/
COPY packages/container-engine/package.json packages/container-engine/
COPY packages/core/package.json packages/core/
COPY packages/plugin-sdk/package.json packages/plugin-sdk/
COPY packages/stack-discovery/package.json packages/stack-discovery/
COPY packages/testkit/package.json packages/testkit/
COPY services/browser/package.json services/browser/
COPY services/docker-proxy/package.json services/docker-proxy/
COPY services/probe/package.json services/probe/
COPY services/model-router/package.json services/model-router/
COPY services/speech-gateway/package.json services/speech-gateway/
COPY services/tool-server/package.json services/tool-server/
RUN --mount=type=secret,id=ca \
    if [ -f /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && npm ci --no-audit --no-fund
COPY . .
# /app: datamancy.mjs, bin/healthcheck.mjs, package.json of the modules left out of the bundle
RUN --mount=type=secret,id=ca \
    if [ -f /run/secrets/ca ]; then export NODE_EXTRA_CA_CERTS=/run/secrets/ca; fi \
 && npx tsx scripts/bundle.ts --container /app \
 && cd /app && npm install --omit=dev --no-audit --no-fund --no-package-lock

# --- runtime: slim Node, OCR for the probe, ssh for the ops plugin, the speech gateway's ---
# --- local engines (espeak-ng, pocketsphinx), tini as PID 1 ----------------------------------
FROM ${NODE_IMAGE} AS runtime
RUN apt-get update \
 && apt-get install -y --no-install-recommends tini openssh-client tesseract-ocr tesseract-ocr-eng ca-certificates \
    espeak-ng pocketsphinx pocketsphinx-en-us \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /data && chown node:node /data
# root-owned and read-only for the service user
COPY --from=build /app /app
# a larger young generation: fewer scavenges on the hot paths (bench/router measures with it)
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=32 \
    DATAMANCY_DATA_DIR=/data \
    DATAMANCY_HOST=0.0.0.0
WORKDIR /data
# the image's `node` user (uid 1000); the catalog runs every service as 1000:1000
USER 1000:1000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "/app/bin/healthcheck.mjs"]
ENTRYPOINT ["/usr/bin/tini", "--", "node", "/app/datamancy.mjs"]
CMD ["serve"]

# --- browser: the runtime plus Debian's headless Chromium and fonts for screenshots -------
FROM runtime AS control-plane-browser
USER root
RUN apt-get update \
 && apt-get install -y --no-install-recommends chromium-headless-shell fonts-dejavu-core fonts-liberation libnss3-tools \
 && rm -rf /var/lib/apt/lists/*
USER 1000:1000
ENV CHROMIUM_PATH=/usr/lib/chromium/chromium-headless-shell
CMD ["serve", "browser"]

# --- the default target: the control plane without a browser ------------------------------
FROM runtime AS control-plane
