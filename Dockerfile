# syntax=docker/dockerfile:1
# gpuval API image. Build: `docker build -t gpuval .`; production wiring is in docker-compose.yml.

# --- build: install the project and its runtime dependencies (no dev extras) into a venv ---
# The package carries its migrations and alembic.ini, so the venv is all the runtime needs.
FROM python:3.11-slim AS build

ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src
# README.md is optional (the glob tolerates its absence); pyproject names it as the readme.
COPY pyproject.toml README.md* ./
COPY service/ service/
RUN pip install .

# --- runtime ---
FROM python:3.11-slim AS runtime

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    HOST=0.0.0.0 \
    PORT=8000

RUN groupadd --system --gid 10001 gpuval \
    && useradd --system --uid 10001 --gid gpuval --home-dir /data --no-create-home gpuval \
    && install -d -o gpuval -g gpuval /data

COPY --from=build /opt/venv /opt/venv

# The embedded SQLite default (no DATABASE_URL) writes gpuval.db here; mount a volume to keep it.
WORKDIR /data
USER gpuval

EXPOSE 8000

HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', timeout=4)" || exit 1

CMD ["gpuval", "serve"]
