# landguard API image. GraphiQL's assets are fetched from the npm registry at build time
# (never committed); the runtime image needs no internet.
FROM node:20-bookworm-slim AS assets
WORKDIR /src
COPY scripts/common.sh scripts/graphiql-assets.sh scripts/
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends python3 && rm -rf /var/lib/apt/lists/* \
 && bash scripts/graphiql-assets.sh /assets

FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 \
    LANDGUARD_HOST=0.0.0.0 LANDGUARD_PORT=8000 LANDGUARD_ENV=production
WORKDIR /app
COPY pyproject.toml constraints.txt ./
COPY api api
COPY schema schema
COPY geo geo
RUN pip install --no-cache-dir -c constraints.txt . && useradd --system --uid 10001 landguard
COPY alembic.ini ./
COPY migrations migrations
COPY docker/entrypoint.sh /usr/local/bin/landguard-entrypoint
COPY --from=assets /assets api/static/graphiql
USER landguard
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=5 \
  CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=2).status == 200 else 1)"
ENTRYPOINT ["landguard-entrypoint"]
CMD ["serve"]
