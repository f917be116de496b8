# The README's two commands call `make run` and `make test`; everything else hangs off these.
# PY picks the interpreter (3.11-3.13); the venv remembers it and a different PY rebuilds it
# (scripts/venv.sh). `make run` installs the runtime only, `make test` adds the test tools.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# Interpreters `make test-pythons` runs the whole suite on (each found on PATH, its own venv).
PYTHONS ?= python3.11 python3.12 python3.13

.PHONY: run test check lint format typecheck imports pytest bench bench-engine bench-rss bench-codec bench-stats bench-cache bench-service bench-replicas bench-gzip-upload bench-artifacts bench-artifacts-bzxz bench-s3client bench-bigbucket bench-report openapi system-deps clean docs install install-runtime test-pythons smoke

install-runtime:
	@./scripts/venv.sh $(PY) $(VENV) runtime

install:
	@./scripts/venv.sh $(PY) $(VENV) dev

system-deps:
	./scripts/system-deps.sh runtime

run: system-deps install-runtime
	$(BIN)/glider serve --embedded

test: install
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

docs: install
	$(BIN)/glider config table --write README.md

openapi: install
	$(BIN)/python -m app.api.openapi_export > openapi/openapi.json

# Every bench writes its fragment (bench/results/<name>.md); the report assembles bench/RESULTS.md.
bench: bench-engine bench-rss bench-codec bench-stats bench-cache bench-service bench-replicas bench-gzip-upload bench-artifacts bench-artifacts-bzxz bench-s3client
	$(MAKE) bench-report

bench-report: install
	$(BIN)/python -m bench.report

bench-engine: system-deps install
	$(BIN)/python -m bench.engine

bench-rss: system-deps install
	$(BIN)/python -m bench.rss

bench-codec: system-deps install
	$(BIN)/python -m bench.codec_levels

bench-stats: system-deps install
	$(BIN)/python -m bench.stats

bench-cache: system-deps install
	$(BIN)/python -m bench.cache

bench-service: system-deps install
	$(BIN)/python -m bench.service

# Not in `make bench`: its first run writes a 1,000,000-object bucket (kept in bench/data/bigbucket/).
bench-bigbucket: system-deps install
	$(BIN)/python -m bench.bigbucket

bench-replicas: install
	./scripts/system-deps.sh test
	$(BIN)/python -m bench.replicas

bench-gzip-upload: system-deps install
	$(BIN)/python -m bench.gzip_upload

# Real PyPI/npm release series (downloaded once into bench/data/artifacts by pip and npm).
bench-artifacts: system-deps install
	$(BIN)/python -m bench.artifacts

bench-s3client: system-deps install
	$(BIN)/python -m bench.s3client

# The whole suite on every interpreter of PYTHONS found on this machine, each in its own venv.
test-pythons:
	@found=0; for py in $(PYTHONS); do \
	  ./scripts/find-python.sh $$py >/dev/null || { echo "== $$py: not found, skipped"; continue; }; \
	  found=1; echo "== $$py"; $(MAKE) --no-print-directory test PY=$$py VENV=.venv-$$py || exit 1; \
	done; [ $$found = 1 ] || { echo "none of $(PYTHONS) found" >&2; exit 1; }

# A fresh install and the `smoke` tests (CI runs this on every extra interpreter).
smoke: install
	./scripts/system-deps.sh test
	$(BIN)/pytest -m smoke -p no:cacheprovider $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) .venv-python3.* .mypy_cache .ruff_cache .pytest_cache .coverage bench/data bench/out

# The container image (podman, else docker); without a registry, on a Debian stand-in base.
# compose-local: docker-compose.yml on local stand-ins under podman-compose, up, checked, down
# (also part of `make test`); `scripts/compose-local.sh up` keeps a stack running.
.PHONY: image compose-local
image:
	./scripts/image.sh build

compose-local: install
	./scripts/system-deps.sh test
	$(BIN)/pytest -p no:cacheprovider tests/integration/test_image_compose.py tests/integration/test_image.py

bench-artifacts-bzxz: system-deps install
	$(BIN)/python -m bench.artifacts_bzxz
