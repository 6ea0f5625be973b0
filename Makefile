# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test install lint typecheck clean

$(PY):
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(PY) setup.cfg setup.py pyproject.toml
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

install: $(STAMP)
	@# setup.py compiles the catalogs at install; recompile in case a .po changed since
	$(VENV)/bin/pybabel -q compile -d web/translations

run: install
	$(VENV)/bin/clusterpbx run

lint: install
	$(VENV)/bin/ruff check cli control ami esl web dialplan provisioning sim tests bench tools migrations vagrant/provision

typecheck: install
	$(VENV)/bin/mypy

test: install lint typecheck
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) instance build *.egg-info
