# The two commands of the README: `make demo` and `make test`. Both set up from scratch.
UV_VERSION := 0.13.8
TOOLS := .tools/uv
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

.PHONY: setup test-servers demo test test-fast lint airflow bench bench-setup clean

$(UV):
	python3 -m pip install --quiet --disable-pip-version-check --target $(TOOLS) uv==$(UV_VERSION)

$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --frozen --python python3.11
	touch $@

setup: $(VENV)/.synced  ## virtualenv with the locked dependencies

demo: setup  ## the main job on the embedded default (seeded SQLite -> bronze -> silver -> gold)
	$(BIN)/govlake demo

# The SFTP tests run a real OpenSSH sshd on a loopback port (Debian's openssh-server, as root).
test-servers:
	@if [ ! -x /usr/sbin/sshd ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get install -y -qq openssh-server >/dev/null || \
		{ apt-get update -qq && apt-get install -y -qq openssh-server >/dev/null; }; \
	fi

test: setup test-servers  ## lint, types, layers and the whole test suite (needs the local PostgreSQL and MariaDB)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache
	$(BIN)/pytest -m "not cluster and not slow"
	# The concurrency trials, the kill suites and the API fuzz run: minutes each, their own tier.
	$(BIN)/pytest -m slow
	# A process holds one SparkSession: the standalone-cluster tier runs in its own.
	$(BIN)/pytest -m cluster

bench-setup: setup test-servers  ## the benchmarks' peers and load (dlt, ADBC, locust) beside the locked dependencies
	$(UV) sync --frozen --python python3.11 --group bench

# The suite takes about 25 minutes on 2 cores and rewrites bench/RESULTS.md (needs the local
# PostgreSQL, and root for the SFTP scenario's sshd).
bench: bench-setup  ## benchmarks against dlt and the physical floors, ratios in bench/RESULTS.md
	$(BIN)/python -m bench

test-fast: setup  ## unit tests only
	$(BIN)/pytest -m unit

lint: setup  ## ruff, formatting, types and the import contracts of the floors (docs/adr/0011-layers.md)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

airflow: setup  ## the Airflow UI on the demo's data, at http://127.0.0.1:8080
	$(BIN)/govlake ui

clean:
	rm -rf $(VENV) .tools .govlake
