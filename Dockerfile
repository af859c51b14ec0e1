# Tollgate's service image: `tollgate serve`. Node 24 runs the TypeScript source directly.
FROM node:24-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund && npm cache clean --force
COPY bin ./bin
COPY extproc ./extproc
COPY proto ./proto
COPY envoy ./envoy
USER node
EXPOSE 9001 9002
ENTRYPOINT ["node", "bin/tollgate.mjs"]
CMD ["serve", "--config", "/etc/tollgate/config.yaml"]
