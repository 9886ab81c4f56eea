# One image for every riskfuse component; the service's command picks the component.
FROM node:20-bookworm-slim AS build
WORKDIR /app
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production DATA_DIR=/data
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/risk/models ./risk/models
# The dashboard's static files (api/dashboard.ts serves them from here; uPlot and Leaflet from node_modules).
COPY --from=build /app/web ./web
COPY package.json ./
VOLUME /data
USER node
ENTRYPOINT ["node", "dist/bin/riskfuse.js"]
CMD ["start"]
