# alert-responder: one image for every process (web, worker, the CLI).
#
#   docker build -t alert-responder .
#   docker run -e REDIS_URL=redis://redis:6379/0 -e RESPONDER_WEBHOOK_TOKEN=... \
#              -e RESPONDER_API_TOKEN=... -p 8080:8080 alert-responder          # the web app
#   docker run -e REDIS_URL=... alert-responder worker                         # a worker
#   docker run --rm alert-responder check                                      # validate the config
#
# CI builds and runs it with podman, without a Docker daemon: deploy/ci/build-image.sh.
#
# Config: without RESPONDER_CONFIG_DIR the responder uses the defaults the wheel carries
# (the repository's rules/, playbooks/ and responder.yaml, mapped into the package by
# pyproject.toml), because the working directory below holds no responder.yaml; every
# command says on stderr which config it runs on. To run your own, mount a directory with
# responder.yaml, rules/ and playbooks/ (e.g. at /etc/responder) and set
# RESPONDER_CONFIG_DIR=/etc/responder.
#
# `serve` refuses to start without RESPONDER_WEBHOOK_TOKEN and RESPONDER_API_TOKEN
# (docs/operations.md): a container listens on 0.0.0.0, never only on loopback.
FROM python:3.11-slim

# The application lives in its own virtualenv, first on PATH: `responder`, and `python`
# for the health check, are the venv's. (A venv also works on a base whose Python is
# Debian's, where pip may not install into the system; CI's stand-in base is one.)
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/responder/bin:$PATH

# A fixed uid/gid, so Kubernetes' runAsNonRoot and volume permissions can name them.
RUN groupadd --system --gid 10001 responder \
    && useradd --system --uid 10001 --gid responder --home-dir /home/responder \
       --create-home --shell /usr/sbin/nologin responder

# Where pip finds packages, for this build only: ARGs are not part of the image's
# environment. The defaults are pip's own; a mirror or a proxy's CA goes in with
# --build-arg (deploy/ci/build-image.sh passes the build machine's). Builders record
# build arguments in the image history, so never put credentials in these URLs.
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG PIP_EXTRA_INDEX_URL=
ARG PIP_TRUSTED_HOST=
ARG PIP_CERT=

# Only what the wheel needs: its metadata (pyproject.toml, README.md), the package and
# the default config it ships (rules/, playbooks/, responder.yaml). Copied explicitly,
# and .dockerignore admits nothing else, so tests, benchmarks, .git, local
# .responder-data and secrets/ never reach the image. Runtime dependencies only: no
# [test], [bench] or [embedded] extras (Redis runs as its own container or service).
WORKDIR /tmp/src
COPY pyproject.toml README.md responder.yaml ./
COPY responder ./responder
COPY rules ./rules
COPY playbooks ./playbooks
RUN python3 -m venv /opt/responder \
    && pip install . \
    && cd / && rm -rf /tmp/src \
    && responder --version

# The working directory must not contain a responder.yaml (it would be used as the
# config); the user's home is empty and writable (`responder up` keeps its data here).
USER 10001:10001
WORKDIR /home/responder

EXPOSE 8080

# Liveness of the web process. slim has no curl, so Python's urllib does the request;
# any exception (refused, timeout, non-2xx) exits 1. A worker serves no HTTP:
# docker-compose.yml gives the worker service its own check.
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8080/health', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["responder"]
CMD ["serve", "--bind", "0.0.0.0:8080"]
