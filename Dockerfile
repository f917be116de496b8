# syntax=docker/dockerfile:1
# Glider image: `glider serve` (FastAPI on uvicorn), xdelta3 from Debian, an unprivileged user.
# Build:  scripts/image.sh build   (or: docker build -t glider:0.1.0 .)
# The base is pinned by tag (Python 3.11 on Debian 12); both stages use the same one so the virtualenv
# built in the first stage runs unchanged in the second. Without a registry, scripts/image.sh passes a
# stand-in built from Debian packages as PYTHON_IMAGE.
ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# --- build: a self-contained virtualenv in /opt/glider -------------------------------------------
FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
RUN python -m venv /opt/glider
# Dependencies first, read from pyproject.toml alone: a change to the code or the README rebuilds
# only the short layer below this one. Whatever pip on the build host needs to reach its index (a
# CA bundle, a mirror) comes in as build secrets, mounted for this step only and never in a layer.
COPY pyproject.toml ./
RUN --mount=type=secret,id=pip.conf,target=/etc/pip.conf \
    --mount=type=secret,id=pip-ca,target=/run/secrets/pip-ca.pem \
    python -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb')); print(*p['build-system']['requires'], *p['project']['dependencies'], sep='\n')" > /tmp/requirements.txt \
    && /opt/glider/bin/pip install -r /tmp/requirements.txt
# The package itself: no index needed (dependencies and build backend are in the venv already).
COPY README.md ./
COPY app ./app
# Then out go the build tools and SeaweedFS's 150 MB binary: a container never starts its own S3
# (DG_EMBEDDED_S3=false below), and without `weed` it could not even by mistake.
RUN /opt/glider/bin/pip install --no-deps --no-build-isolation . \
    && /opt/glider/bin/python -m pip uninstall -q -y pip setuptools wheel \
    && rm -f /opt/glider/bin/weed \
    && /opt/glider/bin/python -c "import app.main"

# --- runtime -------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="glider" \
      org.opencontainers.image.description="Build-artifact storage on S3 with binary delta compression"

# No node here (about 100 MB): without it npm tarballs made by node's zlib go direct
# (no-exact-recipe). deploy/node/Containerfile adds the official node binary on top of this image:
#   COPY --from=node:20.20.2-bookworm-slim /usr/local/bin/node /usr/local/bin/node
# (not Debian's nodejs package: it links the system zlib and does not reproduce npm's bytes).
# xdelta3 is the delta codec (a subprocess); pinned to the Debian 12 version the tests run against.
RUN apt-get update \
    && apt-get install -y --no-install-recommends xdelta3=3.0.11-dfsg-1.2 \
    && rm -rf /var/lib/apt/lists/*

# A fixed numeric uid/gid so Kubernetes' runAsNonRoot can verify it and volumes can be chowned.
RUN groupadd --system --gid 10001 glider \
    && useradd --system --uid 10001 --gid glider --home-dir /nonexistent --no-create-home \
       --shell /usr/sbin/nologin glider \
    && install -d -o glider -g glider -m 0750 /var/cache/glider

COPY --from=build /opt/glider /opt/glider

# Writable places only: /tmp (upload spooling, rebuilds) and the reference cache directory; the
# root filesystem can be mounted read-only. A container never starts its own SeaweedFS: S3 comes
# from AWS_ENDPOINT_URL / AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY. DG_HOST / DG_PORT work as for
# `glider serve` anywhere; the defaults here listen on every interface of the container.
ENV PATH=/opt/glider/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    DG_HOST=0.0.0.0 \
    DG_PORT=8080 \
    DG_CACHE_DIR=/var/cache/glider \
    DG_EMBEDDED_S3=false

USER 10001:10001
WORKDIR /tmp
EXPOSE 8080

# Liveness only (no S3 round trip): readiness is for the orchestrator's /readyz probe.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; r = urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('DG_PORT', '8080'), timeout=4); sys.exit(0 if r.status == 200 else 1)"]

# `glider serve` (not bare uvicorn): it installs the HTTP limits (header size and count, header and
# body timeouts, connection bound; DG_HTTP_*), honours DG_HOST/DG_PORT, logs JSON (uvicorn's lines
# included) and ends with exit code 0 on SIGTERM.
ENTRYPOINT ["glider", "serve"]
