# naver-sms-worker: the async NATS service, the installed package's `naver-sms-worker` command.
# The suite-pinned tag keeps the Debian release fixed; production pins a digest too (see
# docs/infra/containers.md). Builder and runtime must share the base so the venv's Python path matches.
ARG PYTHON_BASE=python-base

# The base on a FROM line of its own, where Dependabot reads base images (it does not read ARG defaults),
# and scripts/lib/knobs.sh reads it too. PYTHON_BASE=<image> (a digest) builds on that instead.
FROM python:3.13-slim-trixie AS python-base

FROM ${PYTHON_BASE} AS builder

# strip, for the compiled modules below: wheels ship them with their symbols (aiohttp, pydantic-core and
# PyNaCl carry ~13 MB of them). A build tool only: its version never reaches the image.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install --yes --no-install-recommends binutils \
    && rm -rf /var/lib/apt/lists/*

# Dependencies only: this stage sees nothing but the lock, so source changes never rebuild it.
COPY docker/requirements-worker.txt /tmp/requirements-worker.txt
# The venv gets no pip of its own (~13 MB); the base image's pip installs into it.
# pycparser is cffi's C parser for building extension modules; PyNaCl (under nkeys) ships its module
# compiled, so at run time only cffi's backend is used: the parser stays in the builder (~1 MB).
RUN python -m venv --without-pip /opt/venv \
    && python -m pip --python /opt/venv/bin/python install --no-cache-dir --require-hashes \
        -r /tmp/requirements-worker.txt \
    && rm -rf /opt/venv/lib/python3*/site-packages/pycparser /opt/venv/lib/python3*/site-packages/pycparser-* \
    && find /opt/venv -name '*.so' -exec strip --strip-unneeded {} +

# Our package as a wheel, from its source alone: a source change rebuilds this stage and one small layer.
FROM ${PYTHON_BASE} AS package
WORKDIR /build
COPY pyproject.toml ./
COPY src/naver_sms/ src/naver_sms/
RUN python -m pip wheel --quiet --no-cache-dir --no-deps --wheel-dir /wheels .

FROM ${PYTHON_BASE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    APP_CONFIG_DIR=/app/config \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HEALTH_PORT=8080

# A fixed uid so volume permissions and Kubernetes securityContext can rely on it.
RUN groupadd --system --gid 10001 app && useradd --system --uid 10001 --gid app --no-create-home app

COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY config/ /app/config/
# `python -m src` (the story's command) from /app: the repository's one-line shim for the same worker.
COPY src/__init__.py src/__main__.py /app/src/
# Dependencies are in the venv already. The wheel is mounted on /mnt (which exists, so no mount point is
# left behind) and leaves no layer of its own; the base image's pip (PATH now finds the venv's python,
# which has none) installs it into the venv.
RUN --mount=type=bind,from=package,source=/wheels,target=/mnt \
    /usr/local/bin/python -m pip --python /opt/venv/bin/python install --quiet --no-cache-dir --no-deps --no-index /mnt/*.whl

USER 10001:10001
EXPOSE 8080
# Slim has no curl: ask /healthz with the Python that is already there.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('HEALTH_PORT', '8080'), timeout=2).status == 200 else 1)"]
# Docker sends SIGTERM and waits 10 s; the worker drains within DRAIN_SECONDS (< 10).
STOPSIGNAL SIGTERM
CMD ["naver-sms-worker"]
