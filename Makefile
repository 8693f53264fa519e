# Two commands do all set-up on a fresh machine:
#   make demo   - creates .venv, installs dlpk, lints and inspects the bundled sample package,
#                 exports training chips from the bundled scene and classifies its pixels, and
#                 writes demo-output/preview.png (the scene and its classes side by side)
#   make test   - creates .venv with the dev extras, runs ruff, mypy and the whole test suite
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

# Local wheels for image builds (e.g. a CPU build of torch); pip's own find-links by default.
WHEELHOUSE ?= $(PIP_FIND_LINKS)

.PHONY: demo test venv dev-venv images bench schemas page

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

venv: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[onnx]'

dev-venv: $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'

demo: venv
	$(BIN)/dlpk lint examples/landcover.dlpk
	$(BIN)/dlpk inspect examples/landcover.dlpk
	$(BIN)/dlpk export-chips --raster examples/scene.tif \
		--labels examples/landcover-samples.geojson --format Classified_Tiles \
		--tile-size 128 --stride 64 --overwrite -o demo-output/chips
	$(BIN)/dlpk classify-pixels --model examples/landcover.dlpk --raster examples/scene.tif \
		--overwrite -o demo-output/landcover.tif
	$(BIN)/python examples/preview.py examples/scene.tif demo-output/landcover.tif \
		demo-output/preview.png --overwrite
	@echo "--- the example from Esri's documentation (expected to fail lint):"
	-$(BIN)/dlpk lint examples/esri-doc-example.dlpk

# Runner images for the container tests, when a Docker daemon is reachable; what is current
# (built from these sources) is reused. Without Docker the container tests are skipped, or fail
# when DLPK_REQUIRE_DOCKER=1 (as in CI).
images: dev-venv
	@if $(BIN)/python -c "from dlpk.runners.backends.images.docker_client import docker_client as c; c()" 2>/dev/null; then \
		$(BIN)/dlpk images bootstrap-base --if-missing && \
		$(BIN)/dlpk images build --if-stale --quiet $(if $(WHEELHOUSE),--wheelhouse $(WHEELHOUSE)); \
	else \
		echo "Docker is not reachable: runner images not built"; \
	fi

# Slow tests (marked `slow`) are skipped locally unless DLPK_SLOW=1; CI sets it and runs all.
test: dev-venv images
	$(BIN)/ruff check dlpk tests benchmarks
	$(BIN)/ruff format --check dlpk tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q $(if $(DLPK_SLOW),,-m "not slow")

schemas: venv
	for name in emd job result conformance; do $(BIN)/dlpk schema $$name > dlpk/spec/schemas/$$name.schema.json; done

# The map page's script and style, bundled from web/ (npm packages pinned by package-lock.json)
# into dlpk/serve/page/static/, which is committed; tests/serve/test_page.py checks it is current.
page:
	cd web && npm ci --no-audit --no-fund && npm run build

bench: dev-venv images
	$(BIN)/python benchmarks/bench_lint.py
	$(BIN)/python benchmarks/bench_export.py
	$(BIN)/python benchmarks/bench_export_folder.py
	$(BIN)/python benchmarks/bench_inference.py --memory 5000,20000
	$(BIN)/python benchmarks/bench_docker.py
	$(BIN)/python benchmarks/bench_startup.py
