# Two commands do all the set-up: `make run` (install and serve on http://127.0.0.1:8000) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
CHROMIUM ?= /usr/bin/chromium
NGINX  ?= /usr/sbin/nginx
REDIS  ?= /usr/bin/redis-server
N      ?= 2
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run cluster test chromium nginx redis bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The stamps .runtime and .test are copies of the pyproject.toml they were installed from: a checkout with a newer
# pyproject.toml of the same text installs nothing, a changed text installs again.
# $(call install,SPEC): pip install --editable SPEC into $(VENV) unless the stamp has this pyproject.toml's text.
define install
	@if [ -f $@ ] && cmp -s pyproject.toml $@; then :; else \
		echo "$(BIN)/python -m pip install --quiet --editable '$(1)'"; \
		$(BIN)/python -m pip install --quiet --editable '$(1)'; \
	fi
endef

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(call install,.)
	@cp pyproject.toml $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(call install,.[test])
	@cp pyproject.toml $@
	@cp pyproject.toml $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/backprop-live --host $(HOST) --port $(PORT)

# N instances behind nginx on one machine, in the foreground (docs/DEPLOY.md): make cluster N=4
cluster: $(VENV)/.runtime nginx
	$(BIN)/python deploy/cluster.py --instances $(N) --host $(HOST) --port $(PORT)

nginx:
	@if [ ! -x $(NGINX) ]; then \
		echo "Installing Debian's nginx for the cluster"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q nginx; \
	fi

# the cluster tests stand for several machines sharing their runs in Redis
redis:
	@if [ ! -x $(REDIS) ]; then \
		echo "Installing Debian's redis-server for the cluster tests"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q redis-server; \
	fi

chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "Installing Debian's Chromium for the browser tests"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; \
	fi

# The tests run on JOBS processes (pytest-xdist, 2 by default, 1 for one process): each test file on one process,
# files handed out in collection order, the browser and cluster files first (tests/conftest.py).
JOBS ?= 2
test: $(VENV)/.test chromium nginx redis
	$(BIN)/python -m pytest $(if $(filter-out 1,$(JOBS)),-n $(JOBS) --dist loadfile --no-loadscope-reorder)

bench: $(VENV)/.test chromium
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/stream.py
	$(BIN)/python bench/page.py

clean:
	rm -rf $(VENV) test-output .pytest_cache
