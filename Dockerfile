# iamlink server image (used by docker-compose.yml).
FROM node:20-bookworm-slim
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY migrations ./migrations
COPY engine ./engine
RUN npm run build
# In a container the server must listen beyond loopback for the published port to reach it.
ENTRYPOINT ["node", "dist/main.js", "--listen", "0.0.0.0:6875", "--data-dir", "/data"]
VOLUME /data
EXPOSE 6875
