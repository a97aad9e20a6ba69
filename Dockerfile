FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
# patches/ fixes a dependency bug at install (see patches/README.md)
COPY patches ./patches
RUN npm ci --omit=dev --no-audit --no-fund
COPY bin ./bin
COPY src ./src
COPY sandbox ./sandbox
COPY drizzle ./drizzle
COPY tsconfig.json ./
ENV NODE_ENV=production
EXPOSE 8080
CMD ["node", "bin/trackline.js", "start"]
