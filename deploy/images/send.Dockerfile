# The send function's image. Generated from deploy/images/function.Dockerfile.in by
# `python deploy/dockerfiles.py`; edit the template, not this file.
# Drivers: only the extras its ports use (users, relations, media, groups, cache, bus -> kafka, postgres, redis).
FROM python:3.11.13-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY imfaas/ imfaas/
COPY shared/ shared/
COPY events/ events/
COPY connection-gateway/ connection-gateway/
COPY functions/ functions/
RUN python -m venv /opt/imfaas && /opt/imfaas/bin/pip install --no-cache-dir ".[kafka,postgres,redis,otel]"

FROM python:3.11.13-slim-bookworm
ENV PATH=/opt/imfaas/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN useradd --system --no-log-init --uid 10001 --no-create-home --shell /usr/sbin/nologin imfaas
COPY --from=build /opt/imfaas /opt/imfaas
# functions-framework loads ./main.py (the glue) when no --source is given.
WORKDIR /app
COPY functions/send/main.py main.py
USER 10001
EXPOSE 8080
# Kubernetes ignores HEALTHCHECK (Knative probes GET / itself); this serves `docker run`.
HEALTHCHECK --interval=30s --timeout=5s CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8080') + '/', timeout=4)"]
# PORT (set by Knative) and HOST come from the environment; WORKERS sets gunicorn's workers.
CMD ["functions-framework", "--target", "send", "--signature-type", "http", "--asgi"]
