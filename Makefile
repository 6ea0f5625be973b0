# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test test-real install lint typecheck clean

$(PY):
	$(PYTHON) -m venv $(VENV)

# The install (setup.py's build step) is the one place that compiles the catalogs: a changed .po
# installs again.
$(STAMP): $(PY) setup.cfg setup.py pyproject.toml $(wildcard web/translations/*/LC_MESSAGES/messages.po)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(VENV)/bin/clusterpbx run

lint: install
	$(VENV)/bin/ruff check cli control ami esl web dialplan provisioning sim tests bench tools migrations vagrant/provision

typecheck: install
	$(VENV)/bin/mypy

# One worker per core (PYTEST_XDIST_AUTO_NUM_WORKERS overrides), each test file on one worker in its
# order, the longest files handed out first (tests/conftest.py orders them; --no-loadscope-reorder keeps
# that order); each worker has its own PostgreSQL database (tests/conftest.py). Compiled test modules
# (pytest's rewritten asserts) are kept under .venv even where PYTHONDONTWRITEBYTECODE is set. The
# tests' temporary files (their SQLite databases among them) go to /dev/shm where it has 4 GiB free:
# memory, so a commit's fsync costs nothing (docs/performance.md, "Test suite").
TEST_TMPDIR ?= $(shell [ -w /dev/shm ] && [ "$$(df -Pk /dev/shm | awk 'NR==2 {print $$4}')" -ge 4194304 ] \
  && echo /dev/shm || echo $${TMPDIR:-/tmp})
test: install lint typecheck
	TMPDIR=$(TEST_TMPDIR) PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX=$(CURDIR)/$(VENV)/pycache \
	  $(VENV)/bin/pytest -n auto --dist loadfile --no-loadscope-reorder

# Opt-in: the suite against the real Asterisk and FreeSWITCH of lab/ (built outside the repository,
# see lab/README.md). Not part of `make test` nor CI.
test-real: install
	CLUSTERPBX_REAL=1 $(VENV)/bin/pytest -p no:cacheprovider -m real tests/real

clean:
	rm -rf $(VENV) instance build *.egg-info
