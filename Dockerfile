# camprobe container image. Build: docker build --build-arg CAMPROBE_COMMIT=$(git rev-parse --short=12 HEAD) -t camprobe .
# Run:   docker run -e CAMERA_SERVICE_URL=ws://camera-host:8002/ws -e CAMERA_SERVICE_JWT_SECRET=... -p 9464:9464 camprobe
ARG NODE_VERSION=26

FROM node:${NODE_VERSION}-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts ./scripts
COPY src ./src
ARG CAMPROBE_COMMIT=unknown
RUN npx tsc -p tsconfig.build.json && CAMPROBE_COMMIT=${CAMPROBE_COMMIT} node scripts/build-info.mjs

FROM node:${NODE_VERSION}-slim
ENV NODE_ENV=production \
    CAMPROBE_HOST=0.0.0.0 \
    CAMPROBE_PORT=9464
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY config/camprobe.yaml /etc/camprobe/camprobe.yaml
USER node
EXPOSE 9464
# Node's own fetch: the image needs no curl or wget.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.CAMPROBE_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
ENTRYPOINT ["node", "dist/src/cli.js"]
CMD ["--config", "/etc/camprobe/camprobe.yaml"]
