# One-line targets. `make run` starts the app; `make test` runs every test this machine can run.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin

.PHONY: run test install lint ci bench fuzz clean

$(BIN)/python:
	$(PY) -m venv $(VENV) && $(BIN)/pip install -q --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q torch==2.13.0 && $(BIN)/pip install -q -e ".[dev]" && touch $@

install: $(VENV)/.installed

run: install
	@mkdir -p var && test -s var/secret_key || $(BIN)/python -c "import secrets; print(secrets.token_urlsafe(50))" > var/secret_key
	CHORUS_DEBUG=1 CHORUS_SECRET_KEY="$$(cat var/secret_key)" $(BIN)/python manage.py chorus_start

test: install
	@(command -v chromium && command -v docker-compose) >/dev/null || (command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium docker-compose >/dev/null) || echo "chromium or docker-compose unavailable: the browser tests or the compose check will be skipped"
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/lint-imports && $(BIN)/mypy

ci: lint test

bench: install
	for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# API fuzzing from the OpenAPI schema as every persona (bench/fuzz_api.py): 0 5xx, 0 schema violations.
fuzz: install
	$(BIN)/python bench/fuzz_api.py $(FUZZ_ARGS)

clean:
	rm -rf var test-artifacts
