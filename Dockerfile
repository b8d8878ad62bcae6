# The tshub hub image: `docker build -t tshub .` (used by docker-compose.yml and deploy/kubernetes).
# Runs `tshub start --config /srv/tshub/tshub.yaml` as the unprivileged `node` user (uid 1000).

# ---- build: install everything, compile TypeScript, then drop the development dependencies ----
FROM node:20-bookworm-slim AS build
WORKDIR /src
# Manifests first, so the dependency layer is reused while only sources change.
COPY package.json package-lock.json ./
COPY packages/plugin-api/package.json packages/plugin-api/
COPY packages/hub/package.json packages/hub/
COPY migrations/package.json migrations/
COPY spawners/local-process/package.json spawners/local-process/
COPY spawners/docker/package.json spawners/docker/
COPY spawners/swarm/package.json spawners/swarm/
COPY spawners/kubernetes/package.json spawners/kubernetes/
COPY authenticators/local/package.json authenticators/local/
COPY authenticators/oauth/package.json authenticators/oauth/
COPY authenticators/github/package.json authenticators/github/
COPY authenticators/cas/package.json authenticators/cas/
COPY test/package.json test/
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx tsc -b && npm prune --omit=dev --no-audit --no-fund

# ---- runtime: compiled packages and production dependencies only ----
FROM node:20-bookworm-slim
ENV NODE_ENV=production
WORKDIR /opt/tshub
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules node_modules
COPY --from=build /src/packages packages
COPY --from=build /src/migrations migrations
COPY --from=build /src/spawners spawners
COPY --from=build /src/authenticators authenticators
# `tshub` on the PATH; `exec` replaces the shell, so node is PID 1 and gets `docker stop`'s SIGTERM itself.
RUN printf '#!/bin/sh\nexec node /opt/tshub/packages/hub/dist/main.js "$@"\n' > /usr/local/bin/tshub \
 && chmod 755 /usr/local/bin/tshub \
 && mkdir -p /srv/tshub/data \
 && chown node:node /srv/tshub/data
USER node
WORKDIR /srv/tshub
# The hub's own port; the public port belongs to configurable-http-proxy.
EXPOSE 8081
ENTRYPOINT ["tshub"]
CMD ["start", "--config", "/srv/tshub/tshub.yaml"]
