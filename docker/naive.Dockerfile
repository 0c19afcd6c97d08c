# The naive image, for comparison only: one stage, everything in it -- the
# full base image, pip, the wheelhouse itself, the compiler-free but complete
# standard library. It works; it is just large.
#   docker build -f docker/naive.Dockerfile --build-arg PYTHON_IMAGE="$PYTHON_IMAGE" -t hello-tornado:naive .
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}
WORKDIR /app
COPY . .
# A venv works the same on the official image and on Debian's python3, whose
# system site-packages pip refuses to touch (PEP 668).
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --no-index --find-links build/wheelhouse \
        --require-hashes -r service/requirements.txt
USER 65534:65534
EXPOSE 8080
LABEL app.kubernetes.io/part-of="hello-microservices"
ENTRYPOINT ["/opt/venv/bin/python", "-m", "service"]
