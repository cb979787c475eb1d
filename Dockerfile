# Dockerfile: pgmcp as a container image (Debian 12 "bookworm", multi-stage).
#
#   docker build -t pgmcp .
#   docker run --rm -p 127.0.0.1:8080:8080 -e DATABASE_URL=postgresql://reader:pw@db/shop pgmcp
#
# The runtime stage is rehearsed without Docker by scripts/rootfs-rehearsal (make deploy-check):
# it debootstraps bookworm (minbase, as the official debian images are made), runs this file's
# runtime-stage RUN, COPY, ENV and USER instructions in a chroot, and starts the ENTRYPOINT as
# PID 1 of its own PID namespace. Keep the runtime stage to instructions it understands:
# RUN (shell form), COPY (with --from/--chown/--chmod), ENV, USER, WORKDIR, EXPOSE, LABEL,
# STOPSIGNAL, HEALTHCHECK, ENTRYPOINT and CMD (exec form).

# ---------------------------------------------------------------------------------------------
# Build stage: the same packages as scripts/deps.sh build, then `make`.
FROM debian:bookworm-slim AS build

RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential pkg-config libpq-dev libjson-c-dev libyaml-dev libpg-query-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY Makefile VERSION ./
COPY common/ common/
COPY server/ server/
RUN make -j"$(nproc)" \
 && ./build/pgmcp --version

# ---------------------------------------------------------------------------------------------
# Runtime stage: only the libraries the binary links (ldd: libpq5, libjson-c5, libyaml-0-2,
# libpg-query1504.0; libpq5 brings libssl3 and the Kerberos/LDAP libraries it needs) and CA
# certificates for sslmode=verify-full. No compiler, no shell tools beyond the base image.
FROM debian:bookworm-slim

LABEL org.opencontainers.image.title="pgmcp" \
      org.opencontainers.image.description="Model Context Protocol server for PostgreSQL"

# pgmcp-runtime-packages: scripts/rootfs-rehearsal and scripts/build-deb read this list.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libpq5 libjson-c5 libyaml-0-2 libpg-query1504.0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 pgmcp \
 && useradd --system --uid 10001 --gid pgmcp --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin pgmcp

COPY --from=build /src/build/pgmcp /usr/local/bin/pgmcp
COPY deploy/docker/pgmcp-healthcheck /usr/local/bin/pgmcp-healthcheck
COPY conf/docker.yaml /etc/pgmcp/pgmcp.yaml

# The baked configuration must be valid: fail the build, not the first start.
RUN pgmcp --check-config -c /etc/pgmcp/pgmcp.yaml

# A numeric user, so Kubernetes' runAsNonRoot can verify it without /etc/passwd.
USER 10001:10001
EXPOSE 8080
# The master drains requests in flight on SIGTERM (shutdown_timeout: 8s in conf/docker.yaml,
# below Docker's default 10 s grace period; ECS stopTimeout defaults to 30 s) and exits 0.
STOPSIGNAL SIGTERM
# GET /readyz through bash's /dev/tcp: no curl in the image (see the script). pgmcp is ready
# within a second of starting, so no --start-period (which dockerfilelint 1.8.0 also rejects).
HEALTHCHECK --interval=10s --timeout=5s --retries=3 \
  CMD ["/usr/local/bin/pgmcp-healthcheck"]

# pgmcp runs as PID 1: the master handles SIGTERM/SIGINT/SIGHUP itself and reaps every child,
# orphans included, so no init shim (tini, dumb-init) is needed.
ENTRYPOINT ["pgmcp"]
CMD ["-c", "/etc/pgmcp/pgmcp.yaml"]
