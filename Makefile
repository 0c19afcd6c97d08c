# The commands a learner needs. Each target does its own set-up.
#   make lab        JupyterLab on 127.0.0.1, notebooks open
#   make test       unit/integration tests + every notebook (pytest --nbval)
#   make image      build hello-tornado:latest (and :VERSION); PLATFORM=linux/arm64 for arm64
#   make bench      measure sizes, start-up, requests/s (build/bench.json)
#   make measured   make bench, then its report as Markdown for README.md (build/measured.md)
#   make notebooks  re-execute the notebooks in place (refreshes committed outputs)
#   make test-browser  every notebook in JupyterLab in Chromium, cell by cell (build/browser/)
#   make screenshots   refresh the README's pictures in docs/ from a browser run
#   make clean      remove build/, the venv, and the containers/networks this project made

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
VERSION = $(shell sed -n 's/^__version__ = "\(.*\)"/\1/p' service/__init__.py)
LABEL  := app.kubernetes.io/part-of=hello-microservices
LAB_PORT ?= 8888
# The folder JupyterLab serves; the browser run points it at a copy under build/.
LAB_DIR ?= notebooks
# The images to build from; scripts/base-images.sh writes what this machine can use.
IMAGES_ENV := build/images.env
# The name JupyterLab writes into a notebook it opens; the committed notebooks carry the
# same one (tests/test_make_lab.py), so opening one does not mark it modified.
KERNEL_DISPLAY_NAME := Python 3
KERNEL_JSON := $(VENV)/share/jupyter/kernels/python3/kernel.json
# The notebooks' helpers (`tutorial`, `steps`) and `bench` are not installed into the
# venv (generic names; see pyproject.toml): every command below, and every notebook
# kernel `make lab` starts (07 imports bench), finds them through PYTHONPATH.
export PYTHONPATH := $(CURDIR)/notebooks:$(CURDIR)$(if $(PYTHONPATH),:$(PYTHONPATH))

.PHONY: lab test image bench measured notebooks lint clean base-images base-images-arm64 wheelhouse venv test-browser screenshots

venv: $(STAMP) $(KERNEL_JSON)
$(STAMP): requirements-dev.txt pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	@touch $@
$(KERNEL_JSON): $(STAMP) Makefile
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "$(KERNEL_DISPLAY_NAME)" >/dev/null

# Jupyter refuses to run as root unless told; containers and CI machines often are root.
ALLOW_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

# On stop, kernels remove the containers their notebook started (an atexit clean-up that
# takes a few `docker` calls): give them 30 s instead of 5 before they are killed.
# The pre-save hook keeps your Python's patch version out of the notebooks JupyterLab
# saves (notebooks/tutorial/saved_form.py), so opening one leaves `git status` clean.
lab: venv
	$(BIN)/jupyter lab --no-browser --ip=127.0.0.1 --port=$(LAB_PORT) $(ALLOW_ROOT) \
	    --notebook-dir=$(LAB_DIR) --KernelManager.shutdown_wait_time=30 \
	    --ContentsManager.pre_save_hook=tutorial.saved_form.pre_save_hook

# Docker-dependent set-up runs only where an engine answers; without one the Docker
# tests and notebooks are skipped with a reason that says how to get one.
test: venv
	@if docker info >/dev/null 2>&1; then $(MAKE) --no-print-directory base-images wheelhouse; \
	    $(MAKE) --no-print-directory base-images-arm64 \
	        || echo "No arm64 builder base here: tests/test_arm64.py will be skipped (see README)."; \
	 else echo "No Docker engine answers: Docker tests and notebooks will be skipped (see README)."; fi
	$(BIN)/pytest

# The learner's view: JupyterLab started as `make lab` starts it (on a copy of the notebooks
# under build/), Debian's Chromium driven by Playwright, Shift+Enter through every cell.
# Screenshots, and each notebook's run time (build/browser/times.json), go to build/browser/.
BROWSER_STAMP := $(VENV)/.browser-installed
$(BROWSER_STAMP): $(STAMP) requirements-browser.txt
	$(BIN)/python -m pip install --quiet -r requirements-browser.txt
	@touch $@

test-browser: venv $(BROWSER_STAMP)
	@if docker info >/dev/null 2>&1; then $(MAKE) --no-print-directory image; fi
	$(BIN)/pytest browser/tests

screenshots: venv $(BROWSER_STAMP)
	$(BIN)/python -m browser.screenshots

base-images:
	bash scripts/base-images.sh

wheelhouse: venv
	PIP="$(BIN)/python -m pip" bash scripts/wheelhouse.sh

# No BuildKit provenance attestations (= --provenance=false; the legacy builder ignores the
# variable): on a containerd image store they make `kind load` fail (notebook 06).
# `make image PLATFORM=linux/arm64` builds for another CPU with BuildKit (qemu-user
# emulation on x86_64) and tags it hello-tornado:latest-arm64: the classic image store
# keeps one platform per tag, so the native hello-tornado:latest is never replaced.
PLATFORM ?=
ifeq ($(PLATFORM),)
image: base-images wheelhouse
	. ./$(IMAGES_ENV) && BUILDX_NO_DEFAULT_ATTESTATIONS=1 docker build --build-arg PYTHON_IMAGE="$$PYTHON_IMAGE" \
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

# Bounded measurements (sizes, start-up, req/s and CPU per request on two paths, bare
# Tornado, replicas, memory); needs wrk and Go. Writes build/bench.json, prints the report.
bench: image
	$(BIN)/python -m bench
	# A burst of 2,000 simultaneous POSTs and /readyz during it (service + redis-server on loopback).
	$(BIN)/python -m bench.burst

# A fresh measurement as Markdown, to paste into README.md's "Measured" section.
measured: bench
	$(BIN)/python -m bench --markdown > build/measured.md
	@echo "build/measured.md: paste it into README.md's Measured section to publish it"

# Notebooks whose prerequisites are missing here (e.g. a cluster) are left as they are.
notebooks: venv
	$(BIN)/python scripts/execute-notebooks.py $(NOTEBOOKS)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/hadolint Dockerfile docker/*.Dockerfile bench/go-hello/Dockerfile

# Labelled leftovers, then what notebooks 02-05 create by name instead (conftest.FIXED_NAMES).
clean:
	-docker ps -aq --filter label=$(LABEL) | xargs -r docker rm -f
	-test ! -x $(BIN)/python || $(BIN)/python -c "import conftest; \
	    print('removed:', *conftest.remove_fixed_names(set(conftest.FIXED_NAMES)) or ['nothing'])"
	-docker network ls -q --filter label=$(LABEL) | xargs -r docker network rm
	rm -rf build $(VENV)
