VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install serve stack test test-faults test-stack lint bench bench-render defaults clean

install: $(STAMP)

# pip's output goes to $(VENV)/install.log (shown only when the install fails), so what follows stays readable
$(STAMP): pyproject.toml
	@echo "installing Plenary into $(VENV) (log: $(VENV)/install.log) ..."
	@test -x $(PY) || python3 -m venv $(VENV)
	@{ $(PY) -m pip install --upgrade pip && $(PY) -m pip install -e '.[test]'; } >$(VENV)/install.log 2>&1 \
		|| { tail -n 40 $(VENV)/install.log; echo "install failed: see $(VENV)/install.log" >&2; exit 1; }
	@touch $(STAMP)

serve: $(STAMP)
	@$(VENV)/bin/plenary serve

# nginx (config/nginx.conf) in front of two server processes, a worker and Valkey (AOF always); Ctrl-C stops it
stack: $(STAMP)
	$(PY) -m clients.stack

test: $(STAMP)
	$(VENV)/bin/ruff check server workers clients config bench tests
	$(VENV)/bin/mypy
	$(PY) -m pytest -q

# The fault suite (tests/faults, docs/reliability.md): real servers and Valkey, one fault per test; a few minutes.
test-faults: $(STAMP)
	rm -f var/faults/last-run.jsonl
	PLENARY_FAULTS=1 PLENARY_FAULTS_REPORT=var/faults/last-run.jsonl timeout 900 $(PY) -m pytest -q tests/faults
	$(PY) -m tests.faults.summary var/faults/last-run.jsonl

# End to end through Debian's nginx (tests/stack): post on one process, read on both, rolling restarts.
test-stack: $(STAMP)
	PLENARY_STACK=1 timeout 600 $(PY) -m pytest -q tests/stack

lint: $(STAMP)
	$(VENV)/bin/ruff check server workers clients config bench tests
	$(VENV)/bin/ruff format --check server workers clients config bench tests
	$(VENV)/bin/mypy

bench: $(STAMP)
	$(PY) -m bench --matrix

defaults: $(STAMP)
	$(VENV)/bin/plenary config --defaults > config/defaults.toml

bench-render: $(STAMP)
	$(PY) -m bench.render

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache
