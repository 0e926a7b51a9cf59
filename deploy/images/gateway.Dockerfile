# The connection gateway's image (a Deployment): `imfaas gateway` with the Redis driver only
# (its ports: cache, routes, nodes). Not generated; keep it in step with the function template.
FROM python:3.11.13-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY imfaas/ imfaas/
COPY shared/ shared/
COPY events/ events/
COPY connection-gateway/ connection-gateway/
COPY functions/ functions/
RUN python -m venv /opt/imfaas && /opt/imfaas/bin/pip install --no-cache-dir ".[redis,otel]"

FROM python:3.11.13-slim-bookworm
ENV PATH=/opt/imfaas/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN useradd --system --no-log-init --uid 10001 --no-create-home --shell /usr/sbin/nologin imfaas
COPY --from=build /opt/imfaas /opt/imfaas
WORKDIR /app
USER 10001
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8080') + '/healthz', timeout=4)"]
# Listens beyond loopback, so it refuses to start without IMFAAS_INTERNAL_TOKEN. The port is
# PORT's (8080 when unset), as for the functions.
CMD ["imfaas", "gateway", "--host", "0.0.0.0"]
