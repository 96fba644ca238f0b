# The two commands a new user needs are `make run` and `make test` (see README.md).
PYTHON ?= python3
VENV ?= .venv
BIN := $(CURDIR)/$(VENV)/bin
export PATH := $(BIN):$(PATH)
export VIRTUAL_ENV := $(CURDIR)/$(VENV)

.PHONY: run install dev system lint build docs unit integration molecule sanity test bench clean

## run: install opsrun in .venv and run the main job on this machine (the embedded default)
run: install
	$(BIN)/opsrun run --playbook ping

install: $(VENV)/.installed
$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e .
	touch $@

dev: $(VENV)/.dev-installed
$(VENV)/.dev-installed: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

## system: Debian packages and the fleet's cached root tree (needs root on a fresh machine)
system:
	tests/setup-system.sh

lint: dev
	ruff check .
	mypy
	yamllint --strict .
	ansible-lint
	python docs/role_readme.py --check

build: dev
	ansible-galaxy collection build --force --output-path build/

## docs: the HTML documentation (modules, roles, guides, release notes) in build/docs
docs: dev
	docs/build.sh

unit: dev
	pytest -m 'not fleet' tests/unit

integration: dev system
	pytest tests/integration

molecule: dev system
	molecule test --all

sanity: dev
	tests/ansible-test.sh

## test: everything CI runs: lint, build, unit, integration and molecule on the fleet, ansible-test
test: lint build unit integration molecule sanity

## bench: every benchmark in benchmarks/; each prints its ratio against a baseline and its goal
bench: dev system
	@status=0; for bench in benchmarks/bench_*.py; do echo "== $$bench"; python "$$bench" || status=1; done; exit $$status

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache tests/output
