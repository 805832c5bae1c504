# Faultline: `make run` runs the product, `make test` runs the tests. Both set up what they need.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PYTHON ?= python3

.PHONY: help install docker image test lint format run verify benchmark screenshots clean

help:
	@echo "make run        set up and start Faultline on http://127.0.0.1:5000"
	@echo "make test       set up (virtualenv, Docker engine, runner image) and run the tests"
	@echo "make verify     prove every challenge in the sandbox (flask challenges verify)"
	@echo "make benchmark  measure grading overhead and each reference's grade time"
	@echo "make lint       ruff check and format check"
	@echo "make screenshots  regenerate docs/screenshots/ from a real run (Docker, chromium)"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

docker:
	@scripts/ensure-docker.sh

image: install docker
	@PYTHON=$(PY) runner_images/python/build.sh

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

test: install image
	@scripts/ensure-chromium.sh
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m pytest

verify: install image
	$(VENV)/bin/flask challenges verify

benchmark: install image
	$(PY) benchmarks/grading_overhead.py --also-at b25abfc; overhead=$$?; \
	$(PY) benchmarks/reference_grades.py --in-process-from b25abfc && exit $$overhead

run: install image
	@scripts/run.sh

screenshots: install image
	@scripts/ensure-chromium.sh
	$(PY) scripts/screenshots.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
