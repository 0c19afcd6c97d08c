# The service's production image: a builder stage with a full Python, and a
# final stage FROM scratch that holds only what the running service uses.
#
# Build (from the repo root, after scripts/wheelhouse.sh and, on a machine
# without a registry, scripts/base-images.sh):
#   docker build --build-arg PYTHON_IMAGE="$PYTHON_IMAGE" -t hello-tornado:latest .
# Works with BuildKit and with the classic builder (DOCKER_BUILDKIT=0).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
WORKDIR /app

# Dependencies first: this layer is reused until the lock or the wheels change,
# so a code change rebuilds in seconds. No index is contacted: the wheels come
# from build/wheelhouse (scripts/wheelhouse.sh) and must match the lock's hashes.
COPY service/requirements.txt ./requirements.txt
COPY build/wheelhouse/ /wheelhouse/
RUN PIP_DISABLE_PIP_VERSION_CHECK=1 python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /wheelhouse \
        --require-hashes -r requirements.txt

COPY docker/elf_strip.py docker/exercise.py docker/slim_rootfs.py /opt/slim/
COPY service/ ./service/
# Runs the service, records what it loads, copies only that to /rootfs, strips
# the debug info that wheels leave in extension modules (docker/elf_strip.py), then
# runs /rootfs chrooted as nobody and fails the build if it misbehaves.
# Why not binutils' `strip`, the standard tool? python:3.11-slim has no binutils:
# getting it means apt-get and the network inside the build, which this build
# never needs (or the ~1 GB python:3.11 as builder). Measured on linux/amd64 with
# the offline base image (issue 22), `docker image inspect` Size:
#   elf_strip.py             19,389,614 bytes
#   strip --strip-unneeded   19,388,910 bytes (the same sections; 704 bytes less)
#   no stripping             20,173,846 bytes: over the 20 MB budget
# -X no_debug_ranges: the bytecode it compiles keeps line numbers but not the
# column ranges behind traceback carets (^^^^), ~10 % smaller.
RUN /opt/venv/bin/python -X no_debug_ranges /opt/slim/slim_rootfs.py \
        --root /rootfs --requirements requirements.txt


FROM scratch
COPY --from=builder /rootfs/ /
ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt
# nobody:nogroup, numeric so Kubernetes' runAsNonRoot can verify it.
USER 65534:65534
EXPOSE 8080
LABEL org.opencontainers.image.title="hello-tornado" \
      org.opencontainers.image.description="Tornado 'Hello World' microservice with a Redis queue; Python in a FROM-scratch image" \
      app.kubernetes.io/part-of="hello-microservices"
# Exec form: python is PID 1 and receives docker stop's SIGTERM itself.
ENTRYPOINT ["/usr/local/bin/python", "-m", "service"]
