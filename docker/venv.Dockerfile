# The conventional multi-stage image, for comparison: dependencies installed
# into a virtualenv in a builder stage, the venv copied onto a fresh copy of
# the same slim Python image. No pip cache, no wheelhouse -- but still a whole
# Debian userland and the whole standard library.
#   docker build -f docker/venv.Dockerfile --build-arg PYTHON_IMAGE="$PYTHON_IMAGE" -t hello-tornado:venv .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS builder
COPY service/requirements.txt /tmp/requirements.txt
COPY build/wheelhouse/ /tmp/wheelhouse/
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links /tmp/wheelhouse \
        --require-hashes -r /tmp/requirements.txt

FROM ${PYTHON_IMAGE}
COPY --from=builder /opt/venv /opt/venv
WORKDIR /app
COPY service/ ./service/
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
USER 65534:65534
EXPOSE 8080
LABEL app.kubernetes.io/part-of="hello-microservices"
ENTRYPOINT ["python", "-m", "service"]
