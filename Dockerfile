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

# Listen on every interface inside the container; the app credentials come from the environment.
ENV SOCKUDO_HOST=0.0.0.0 \
    SOCKUDO_PORT=6001 \
    SOCKUDO_METRICS_HOST=0.0.0.0 \
    SOCKUDO_METRICS_PORT=9601

USER node
EXPOSE 6001 9601
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.SOCKUDO_PORT||6001)+'/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
# SIGTERM goes straight to node (no shell in between), which runs the drain protocol. The arguments are package.json's
# start script's (test/integration/process.test.ts checks that they agree).
CMD ["node", "--import", "tsx", "src/main.ts"]
