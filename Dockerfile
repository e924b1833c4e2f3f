# syntax=docker/dockerfile:1

# ---- Build: compile TypeScript to dist/ ----
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

# ---- Runtime: production dependencies and the compiled service ----
FROM node:24-bookworm-slim AS runtime
# The offline renderer draws scene text from SVG through sharp (librsvg + fontconfig), which needs a font and
# a fontconfig configuration: fonts-dejavu-core is the font (the SVG asks for "DejaVu Sans"), fontconfig-config
# provides /etc/fonts/fonts.conf.
RUN apt-get update \
    && apt-get install -y --no-install-recommends fonts-dejavu-core fontconfig-config \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# One JSON object per log line for log collectors (LOG_FORMAT=text for a terminal).
ENV NODE_ENV=production IMAGE_DIR=/data/images LOG_FORMAT=json
COPY package.json package-lock.json ./
RUN npm ci --omit=dev && npm cache clean --force
COPY --from=build /app/dist ./dist
# The studio page (GET /): plain files, served as they are.
COPY public ./public
# IMAGE_DIR must be writable by the non-root user; a new named volume mounted here takes this ownership.
RUN mkdir -p /data/images && chown node:node /data/images
USER node
EXPOSE 8000
# Probes port 8000: PORT for ROLE=api/all, WORKER_HEALTH_PORT for ROLE=worker (docker-compose.yml sets it to 8000;
# a worker without it serves no HTTP, so disable the check there).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:8000/health/live').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "dist/main.js"]
