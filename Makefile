# The commands a learner needs. Each target does its own set-up.
#   make lab        JupyterLab on 127.0.0.1, notebooks open
#   make test       unit/integration tests + every notebook (pytest --nbval)
#   make image      build hello-tornado:latest (and :VERSION); PLATFORM=linux/arm64 for arm64
#   make bench      measure sizes, start-up, requests/s (build/bench.json)
#   make notebooks  re-execute the notebooks in place (refreshes committed outputs)
#   make clean      remove build/, the venv, and containers/networks this project made

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
VERSION = $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' service/__init__.py)
LABEL  := app.kubernetes.io/part-of=hello-microservices
LAB_PORT ?= 8888
# The images to build from; scripts/base-images.sh writes what this machine can use.
IMAGES_ENV := build/images.env

.PHONY: lab test image bench notebooks lint clean base-images base-images-arm64 wheelhouse venv

venv: $(STAMP)
$(STAMP): requirements-dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (hello-microservices)" >/dev/null
	@touch $@

# Jupyter refuses to run as root unless told; containers and CI machines often are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: venv
	$(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --port=$(LAB_PORT) $(ALLOW_ROOT) \
	    --notebook-dir=notebooks

# Docker-dependent set-up runs only where an engine answers; without one the Docker
# tests and notebooks are skipped with a reason that says how to get one.
test: venv
	@if docker info >/dev/null 2>&1; then $(MAKE) --no-print-directory base-images wheelhouse; \
	    $(MAKE) --no-print-directory base-images-arm64 \
	        || echo "No arm64 builder base here: tests/test_arm64.py will be skipped (see README)."; \
	 else echo "No Docker engine answers: Docker tests and notebooks will be skipped (see README)."; fi
	$(BIN)/pytest

base-images:
	bash scripts/base-images.sh

wheelhouse: venv
	PIP="$(BIN)/python -m pip" bash scripts/wheelhouse.sh

# `make image PLATFORM=linux/arm64` builds for another CPU with BuildKit (qemu-user
# emulation on x86_64) and tags it hello-tornado:latest-arm64: the classic image store
# keeps one platform per tag, so the native hello-tornado:latest is never replaced.
PLATFORM ?=
ifeq ($(PLATFORM),)
image: base-images wheelhouse
	. ./$(IMAGES_ENV) && docker build --build-arg PYTHON_IMAGE="$$PYTHON_IMAGE" \
	    -t hello-tornado:latest -t hello-tornado:$(VERSION) .
else
image: venv
	PIP="$(BIN)/python -m pip" bash scripts/platform-image.sh $(PLATFORM) \
	    hello-tornado:latest-$(notdir $(PLATFORM)) hello-tornado:$(VERSION)-$(notdir $(PLATFORM))
endif

# What a linux/arm64 build needs beyond the native one: the arm64 builder base (where
# no registry answers, a ~7 min debootstrap under emulation, once: later runs find the
# image) and the aarch64 wheels. `make test` runs it for tests/test_arm64.py.
base-images-arm64: venv
	bash scripts/base-images.sh python-arm64
	WHEEL_ARCH=aarch64 WHEELHOUSE=build/wheelhouse-aarch64 PIP="$(BIN)/python -m pip" \
	    bash scripts/wheelhouse.sh

# Bounded measurements (sizes, start-up, req/s, memory); installs wrk and Go if absent.
# Writes build/bench.json and prints a table with the ratios that matter.
bench: image
	$(BIN)/python -m bench

# Notebooks whose prerequisites are missing here (e.g. a cluster) are left as they are.
notebooks: venv
	$(BIN)/python scripts/execute-notebooks.py $(NOTEBOOKS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/hadolint Dockerfile docker/*.Dockerfile bench/go-hello/Dockerfile

clean:
	-docker ps -aq --filter label=$(LABEL) | xargs -r docker rm -f
	-docker network ls -q --filter label=$(LABEL) | xargs -r docker network rm
	rm -rf build $(VENV)
