# The tools image: `imfaas migrate` (the chart runs it as a Helm hook Job) and the other
# operator commands, with every driver. Not generated; keep it in step with the others.
FROM python:3.11.13-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY imfaas/ imfaas/
COPY shared/ shared/
COPY events/ events/
COPY connection-gateway/ connection-gateway/
COPY functions/ functions/
RUN python -m venv /opt/imfaas && /opt/imfaas/bin/pip install --no-cache-dir ".[real]"

FROM python:3.11.13-slim-bookworm
ENV PATH=/opt/imfaas/bin:$PATH PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
RUN useradd --system --no-log-init --uid 10001 --no-create-home --shell /usr/sbin/nologin imfaas
COPY --from=build /opt/imfaas /opt/imfaas
WORKDIR /app
USER 10001
# A one-shot command: nothing to health-check (HEALTHCHECK NONE says so).
HEALTHCHECK NONE
CMD ["imfaas", "migrate"]
