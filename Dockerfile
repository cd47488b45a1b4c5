# Production image for the api and worker processes (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONPATH=/app \
    PHR_HOST=0.0.0.0 \
    PHR_PORT=8000 \
    PHR_LOG_FORMAT=json

WORKDIR /app
# Dependencies first, pinned with hashes, so code changes do not reinstall them.
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes -r requirements.lock

COPY core ./core
COPY api ./api
COPY notifications ./notifications
COPY migrations ./migrations

RUN useradd --system --uid 10001 --home-dir /app phr && mkdir -p /app/.phr-data && chown phr /app/.phr-data
USER phr
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s \
    CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/health/live').status != 200)"
CMD ["python", "-m", "api.cli", "serve"]
