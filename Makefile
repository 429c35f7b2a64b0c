# The two set-up commands of the README. Each creates the environment it needs from the lock
# file (uv is bootstrapped with pip if missing), so they work on a fresh clone.
UV ?= $(shell command -v uv 2>/dev/null || echo "$(HOME)/.local/bin/uv")
PY ?= python3

.PHONY: run test lint bench bench-engines bench-stream bench-web env env-full clean postgres chromium

$(UV):
	$(PY) -m pip install --quiet --user uv || $(PY) -m pip install --quiet uv

# Bytecode is compiled at install time: every later start is then ~0.6 s faster, even where
# PYTHONDONTWRITEBYTECODE keeps Python from caching it on first import.
env: $(UV)
	$(UV) sync --frozen --extra dev --quiet --compile-bytecode

# With the Spark engine (PySpark + delta-spark; Java 17+ runs it, Delta's jars come from
# Maven Central on first use and stay in Ivy's cache) and streaming (confluent-kafka and
# fastavro; the local Kafka broker's jars come from Maven Central through Maven).
env-full: $(UV)
	$(UV) sync --frozen --extra dev --extra spark --extra stream --quiet --compile-bytecode

## Main job on the embedded default: simulate the default fleet, run the pipeline on it and
## print fleet health by basin.
run: env
	$(UV) run --frozen --no-sync altaviz simulate
	$(UV) run --frozen --no-sync altaviz pipeline

## The whole test suite, plus lint and the rooms' layering contract (pyproject.toml). The tests start (and stop) their own PostgreSQL server;
## its binaries come from Debian's postgresql package, installed here if missing. The Spark
## engine's parity tests run on a local Spark with real Delta Lake; the streaming tests on a
## real Kafka broker the tests start (and stop) themselves; the web app's in a headless
## Chromium from Debian's chromium package (installed here if missing), driven by Playwright.
test: env-full postgres chromium
	$(UV) run --frozen --no-sync ruff check src tests benchmarks
	$(UV) run --frozen --no-sync lint-imports --no-cache
	$(UV) run --frozen --no-sync pytest

postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql)

# Playwright drives Debian's Chromium: its own browser download needs a host we cannot reach.
chromium:
	@command -v chromium >/dev/null 2>&1 || \
		(apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core)

lint: env
	$(UV) run --frozen --no-sync ruff check src tests benchmarks
	$(UV) run --frozen --no-sync lint-imports --no-cache
	$(UV) run --frozen --no-sync ruff format --check src tests benchmarks

bench: env
	$(UV) run --frozen --no-sync python benchmarks/simulate.py
	$(UV) run --frozen --no-sync python benchmarks/pipeline.py
	$(UV) run --frozen --no-sync python benchmarks/accuracy.py
	$(UV) run --frozen --no-sync python benchmarks/diagnosis.py

bench-engines: env-full
	$(UV) run --frozen --no-sync python benchmarks/engines.py
	$(UV) run --frozen --no-sync python benchmarks/api_latency.py

bench-web: env-full chromium
	$(UV) run --frozen --no-sync python benchmarks/web.py

bench-stream: env-full
	$(UV) run --frozen --no-sync python benchmarks/stream.py

clean:
	rm -rf .venv data lakehouse mlruns .altaviz .pytest_cache .ruff_cache
