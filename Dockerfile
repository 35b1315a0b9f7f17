# syntax=docker/dockerfile:1
# Liaison container image.
#
#   docker build -t liaison .
#   docker run --init -it -v liaison-data:/data liaison console
#
# docs/operations.md explains the volume, the environment variables and running on PostgreSQL.

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

# --- build: a virtualenv with the dependencies, then the project ---------------------------------
FROM ${PYTHON_IMAGE} AS build

ENV PIP_DISABLE_PIP_VERSION_CHECK=1

RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /src

# Dependencies get their own layer, keyed only on pyproject.toml, so editing the source (or the
# README) does not reinstall them. The list is read from [project].dependencies with tomllib (in
# the standard library since 3.11) instead of installing the project, because installing the
# project needs its source, which would tie this layer to every source change. pyproject.toml
# stays the one place the dependencies are declared: there is no second list to keep in step.
COPY pyproject.toml ./
RUN python -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]))' \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt

# The source, installed without dependencies (they are all in the layer above). A regular, not
# editable, install: the packages land in the venv, so /src is not needed at run time. README.md
# is pyproject's `readme`, part of the package metadata.
COPY README.md ./
COPY bot ./bot
COPY commands ./commands
COPY storage ./storage
COPY migrations ./migrations
RUN pip install --no-cache-dir --no-deps . \
    && liaison --help > /dev/null

# --- runtime: the venv, the demo config, a non-root user and a data volume ----------------------
FROM ${PYTHON_IMAGE} AS runtime

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    LIAISON_DATABASE_URL=sqlite+aiosqlite:////data/liaison.db

# A fixed uid/gid, so files on a bind-mounted /data can be given to it: chown 10001:10001 DIR.
RUN groupadd --gid 10001 liaison \
    && useradd --uid 10001 --gid liaison --create-home --home-dir /home/liaison \
        --shell /usr/sbin/nologin liaison \
    && mkdir /data \
    && chown liaison:liaison /data

COPY --from=build /opt/venv /opt/venv

# The working directory is where the config is looked for: /app/liaison.toml (mount yours there,
# or set LIAISON_CONFIG), else the shipped /app/examples/demo.toml. alembic.ini is not copied:
# it is for developers writing migrations; `liaison db upgrade` needs no ini file.
WORKDIR /app
COPY examples ./examples
COPY --chmod=0755 docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh

USER 10001:10001
VOLUME ["/data"]

# Liveness: `liaison run` answers GET /healthz on [http] port (LIAISON_HTTP_PORT, 3000 by
# default) from its event loop. The image has Python but no curl, so Python asks. `/readyz`
# (the database, the migrations, the delivery worker) is for load balancers, not for restarts:
# a database outage must not get every replica restarted. A `liaison console` has no server,
# so an interactive container shows as unhealthy, which is harmless.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('LIAISON_HTTP_PORT', '3000') + '/healthz', timeout=4)"]

# The entrypoint runs `liaison db upgrade`, then `exec liaison "$@"`; `db ...` commands run alone.
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["run"]
