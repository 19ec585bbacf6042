# sockudo-ts: one container per host. glibc (bookworm), not Alpine: the uWS native binary needs it.
FROM node:20-bookworm-slim

WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY tsconfig.json ./
COPY src ./src
COPY workers ./workers
COPY config ./config
# Push storage (SQLite) and development VAPID keys live here: mount a volume to keep them across containers.
RUN mkdir -p /app/data && chown node:node /app/data
VOLUME /app/data

# Listen on every interface inside the container; the app credentials come from the environment. These are
# Sockudo's names, which our SOCKUDO_HOST / SOCKUDO_PORT / SOCKUDO_METRICS_* override: a compose file written for
# Sockudo that sets HOST, PORT, METRICS_HOST or METRICS_PORT moves the listeners, and so do ours.
ENV HOST=0.0.0.0 \
    PORT=6001 \
    METRICS_HOST=0.0.0.0 \
    METRICS_PORT=9601

USER node
EXPOSE 6001 9601
# The port the server listens on, by the same precedence as src/config/load.ts (SOCKUDO_PORT, then PORT).
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "const e=process.env;fetch('http://127.0.0.1:'+(e.SOCKUDO_PORT||e.PORT||6001)+'/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# SIGTERM goes straight to node (no shell in between), which runs the drain protocol. The arguments are package.json's
# start script's (test/integration/process.test.ts checks that they agree).
CMD ["node", "--import", "tsx", "src/main.ts"]
