# Plenary: one image for `plenary serve` and `plenary worker` (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY config ./config
COPY server ./server
COPY workers ./workers
COPY clients ./clients
RUN pip install . \
    && useradd --system --uid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin plenary \
    && mkdir /data \
    && chown plenary /data

USER plenary
# Only the embedded store (no PLENARY_REDIS_URL) writes here; mount a volume if you use it.
ENV PLENARY_DATA_DIR=/data
EXPOSE 8080
# No HEALTHCHECK here: the worker runs this image too. docker-compose.yml checks the server's /readyz.
CMD ["plenary", "serve", "--host", "0.0.0.0"]
