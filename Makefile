# Two entry points for users: `make run` and `make test`. Both create .venv and
# install what they need; `make test` also installs Debian's redis-tools and
# redis-server (for redis-cli, redis-benchmark and the differential tests) when
# they are missing and we are root.

PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin
STAMP   = $(VENV)/.installed

.PHONY: run test lint typecheck pytest redis-tools clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip >/dev/null
	$(BIN)/pip install -q -e '.[test]'
	@touch $@

run: $(STAMP)
	$(BIN)/epaxosdb local

redis-tools:
	@if ! command -v redis-cli >/dev/null || ! command -v redis-benchmark >/dev/null \
	    || ! command -v redis-server >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's redis-tools and redis-server"; \
	    (apt-get install -y -q redis-tools redis-server >/dev/null 2>&1 \
	      || (apt-get update -q >/dev/null && apt-get install -y -q redis-tools redis-server >/dev/null)) \
	      || { echo "apt-get install redis-tools redis-server failed" >&2; exit 1; }; \
	  else \
	    echo "redis-cli, redis-benchmark and redis-server are needed: run as root or apt-get install redis-tools redis-server" >&2; \
	    exit 1; \
	  fi; \
	fi

lint: $(STAMP)
	$(BIN)/ruff check .

typecheck: $(STAMP)
	$(BIN)/mypy --strict protocol storage epaxosdb/core epaxosdb/sim epaxosdb/node.py epaxosdb/snapshot.py epaxosdb/commands epaxosdb/rdb_file.py epaxosdb/backup.py epaxosdb/users.py
	$(BIN)/mypy epaxosdb tools

pytest: $(STAMP) redis-tools
	$(BIN)/python -m pytest -q

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
