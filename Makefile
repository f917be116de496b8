# The README's two commands call `make run` and `make test`; everything else hangs off these.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha256sum | cut -c1-12)

.PHONY: run test check lint format typecheck imports pytest bench bench-engine bench-stats bench-cache bench-service bench-replicas openapi system-deps clean docs

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[dev]'
	@rm -f $(VENV)/.installed-*; touch $(STAMP)

install: $(STAMP)

system-deps:
	./scripts/system-deps.sh runtime

run: system-deps $(STAMP)
	$(BIN)/glider serve --embedded

test: $(STAMP)
	./scripts/system-deps.sh test
	$(MAKE) check

check: lint typecheck imports pytest

lint:
	$(BIN)/ruff format --check app tests bench
	$(BIN)/ruff check app tests bench

format:
	$(BIN)/ruff format app tests bench
	$(BIN)/ruff check --fix app tests bench

typecheck:
	$(BIN)/mypy

imports:
	$(BIN)/lint-imports

pytest:
	$(BIN)/pytest --cov=app --cov-report=term $(PYTEST_ARGS)

docs: $(STAMP)
	$(BIN)/glider config table --write README.md

openapi: $(STAMP)
	$(BIN)/python -m app.api.openapi_export > openapi/openapi.json

bench: bench-engine bench-stats bench-cache bench-service bench-replicas

bench-engine: system-deps $(STAMP)
	$(BIN)/python -m bench.engine

bench-stats: system-deps $(STAMP)
	$(BIN)/python -m bench.stats

bench-cache: system-deps $(STAMP)
	$(BIN)/python -m bench.cache

bench-service: system-deps $(STAMP)
	$(BIN)/python -m bench.service

bench-replicas: $(STAMP)
	./scripts/system-deps.sh test
	$(BIN)/python -m bench.replicas

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .coverage bench/data bench/out

# The container image (podman, else docker); without a registry, on a Debian stand-in base.
# compose-local: docker-compose.yml on local stand-ins under podman-compose, up, checked, down
# (also part of `make test`); `scripts/compose-local.sh up` keeps a stack running.
.PHONY: image compose-local
image:
	./scripts/image.sh build

compose-local: $(STAMP)
	./scripts/system-deps.sh test
	$(BIN)/pytest -p no:cacheprovider tests/integration/test_image_compose.py tests/integration/test_image.py
