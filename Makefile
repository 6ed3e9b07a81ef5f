# Two commands do all the set-up: `make run` (install and serve on http://127.0.0.1:8000) and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 8000
CHROMIUM ?= /usr/bin/chromium
SUDO   := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: run test chromium bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --editable .
	touch $@

$(VENV)/.test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --editable '.[test]'
	touch $@ $(VENV)/.runtime

run: $(VENV)/.runtime
	$(BIN)/backprop-live --host $(HOST) --port $(PORT)

chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		echo "Installing Debian's Chromium for the browser tests"; \
		$(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; \
	fi

test: $(VENV)/.test chromium
	$(BIN)/python -m pytest

bench: $(VENV)/.test chromium
	$(BIN)/python bench/engine.py
	$(BIN)/python bench/stream.py
	$(BIN)/python bench/page.py

clean:
	rm -rf $(VENV) test-output .pytest_cache
