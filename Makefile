# Two commands do all set-up on a fresh machine:
#   make demo   - creates .venv, installs dlpk, lints and inspects the bundled sample packages
#   make test   - creates .venv with the dev extras, runs ruff, mypy and the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: demo test venv dev-venv bench schemas

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

venv: $(BIN)/python
	$(BIN)/pip install --quiet -e .

dev-venv: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

demo: venv
	$(BIN)/dlpk lint examples/landcover.dlpk
	$(BIN)/dlpk inspect examples/landcover.dlpk
	@echo "--- the example from Esri's documentation (expected to fail lint):"
	-$(BIN)/dlpk lint examples/esri-doc-example.dlpk

test: dev-venv
	$(BIN)/ruff check dlpk tests benchmarks
	$(BIN)/ruff format --check dlpk tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

schemas: venv
	for name in emd job result; do $(BIN)/dlpk schema $$name > dlpk/spec/schemas/$$name.schema.json; done

bench: dev-venv
	$(BIN)/python benchmarks/bench_lint.py
	$(BIN)/python benchmarks/bench_export.py
