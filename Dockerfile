# camprobe container image.
#
# Build: docker build --build-arg CAMPROBE_COMMIT=$(git rev-parse --short=12 HEAD) -t camprobe .
# Run:   docker run -e CAMERA_SERVICE_URL=ws://camera-host:8002/ws -e CAMERA_SERVICE_JWT_SECRET=... -p 9464:9464 camprobe
#        (or mount a config reading the secret from a file: -v ./camprobe.yaml:/etc/camprobe/camprobe.yaml:ro
#        -v ./secret:/run/secrets/camera_jwt_secret:ro, with `jwt_secret: { file: /run/secrets/camera_jwt_secret }`)
#
# The image holds exactly what `npm pack` ships, with the production dependencies of
# package-lock.json, on the Node.js LTS pinned in .node-lts (test/package.test.ts checks
# that this ARG agrees with it, and performs the same build and start steps outside Docker).
ARG NODE_VERSION=24.21.0

# 1. Build: every dependency, compile, pack (prepack runs `npm run build`).
FROM node:${NODE_VERSION}-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts ./scripts
COPY src ./src
COPY config ./config
COPY README.md ./
ARG CAMPROBE_COMMIT=unknown
RUN CAMPROBE_COMMIT=${CAMPROBE_COMMIT} npm pack --pack-destination /tmp \
 && mkdir /app && tar -xzf /tmp/camprobe-*.tgz -C /app --strip-components=1

# 2. The packed package plus its production dependencies only, as locked.
FROM node:${NODE_VERSION}-slim AS production
WORKDIR /app
COPY --from=build /app ./
COPY package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund

# 3. Runtime: no compiler, no dev dependencies, no npm cache.
FROM node:${NODE_VERSION}-slim
# NODE_OPTIONS: V8's heap sized explicitly, not by the host's RAM (docs/performance.md,
# the fleet), and the young generation as Node 20 sizes it (Node 24 lets it grow to 4x);
# override it for more than a few thousand targets (CamprobeHeapNearLimit).
ENV NODE_ENV=production \
    NODE_OPTIONS="--max-old-space-size=1024 --max-semi-space-size=16" \
    CAMPROBE_HOST=0.0.0.0 \
    CAMPROBE_PORT=9464
WORKDIR /app
COPY --from=production /app ./
COPY --from=production /app/config/camprobe.yaml /etc/camprobe/camprobe.yaml
# The image's own unprivileged user (uid 1000); nothing in /app is writable by it.
USER node
EXPOSE 9464
# Node's own fetch: the image needs no curl or wget.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.CAMPROBE_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["--config", "/etc/camprobe/camprobe.yaml"]
