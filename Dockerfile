FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
# patches/ fixes a dependency bug at install (see patches/README.md)
COPY patches ./patches
# scripts/build.ts runs at install too; with no sources here yet it has nothing to bundle.
COPY scripts ./scripts
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY sandbox ./sandbox
COPY drizzle ./drizzle
COPY tsconfig.json ./
# The bundle bin/trackline.js runs (scripts/build.ts); npm ci above ran before the sources were here.
RUN npm run build
ENV NODE_ENV=production
EXPOSE 8080
CMD ["node", "bin/trackline.js", "start"]
